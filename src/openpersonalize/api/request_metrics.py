"""Metrics for GET /metrics: counts and latency per operation, per campaign or recommender for the
runtime calls, events taken, the memory of loaded models, and background jobs."""

from __future__ import annotations

import threading
import time
from collections import Counter as Tally
from collections import deque
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from openpersonalize.serving.models import ModelCache
from openpersonalize.store.metadata import MetadataStore

# Latency buckets (seconds) around what the API answers in: sub-millisecond to a slow training call.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class RequestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Histogram(
            "openpersonalize_request_seconds",
            "Time to answer an API call, by operation and outcome (ok, or the error code).",
            ["operation", "outcome"],
            buckets=BUCKETS,
            registry=registry,
        )
        self.by_source = Histogram(
            "openpersonalize_recommendation_seconds",
            "Time to answer a runtime call, by the campaign or recommender asked.",
            ["source"],
            buckets=BUCKETS,
            registry=registry,
        )
        self.events = Counter(
            "openpersonalize_events",
            "Records the events API took (PutEvents, PutItems, ...), by dataset type.",
            ["dataset_type"],
            registry=registry,
        )
        self.recent = Timeline()  # the console's charts: the last hour, minute by minute

    def observe(self, operation: str, outcome: str, seconds: float, params: dict[str, Any] | None) -> None:
        self.requests.labels(operation, outcome).observe(seconds)
        if params is not None and operation.startswith("Get") and outcome == "ok":
            source = params.get("campaignArn") or params.get("recommenderArn")
            if source:
                self._source_answered(source, seconds)

    def answered(self, source: str, seconds: float) -> None:
        """A GET /recommendations answer (those the cache answers before routing are not counted)."""
        self.requests.labels("GET /recommendations", "ok").observe(seconds)
        self._source_answered(source, seconds)

    def _source_answered(self, source: str, seconds: float) -> None:
        self.by_source.labels(source).observe(seconds)
        self.recent.add(source, seconds)

    def taken(self, records: list[dict[str, Any]]) -> None:
        """An events listener: count what was acknowledged, by dataset type and, for the console's
        charts, by dataset."""
        counts = Tally((str(r.get("_type") or ""), str(r.get("_ds"))) for r in records)
        by_kind: Tally[str] = Tally()
        for (kind, dataset), count in counts.items():
            by_kind[kind] += count
            self.recent.add(f"dataset:{dataset}", None, count)
        for kind, count in by_kind.items():
            self.events.labels(kind).inc(count)


class Timeline:
    """Per key (a campaign's or recommender's ARN, ``dataset:<id>`` for events), the last hour in
    minutes: how many, and latency buckets for percentiles. This process's traffic only."""

    MINUTES = 60

    def __init__(self, clock: Any = time.time) -> None:
        self.clock = clock
        self._minutes: dict[str, deque[list[Any]]] = {}  # [minute, count, seconds, bucket counts]
        self._lock = threading.Lock()

    def add(self, key: str, seconds: float | None, count: int = 1) -> None:
        minute = int(self.clock() // 60)
        with self._lock:
            rows = self._minutes.setdefault(key, deque(maxlen=self.MINUTES))
            if not rows or rows[-1][0] != minute:
                rows.append([minute, 0, 0.0, [0] * (len(BUCKETS) + 1)])
            row = rows[-1]
            row[1] += count
            if seconds is not None:
                row[2] += seconds
                row[3][next((i for i, b in enumerate(BUCKETS) if seconds <= b), len(BUCKETS))] += 1

    def read(self, key: str) -> list[dict[str, Any]]:
        """Every minute of the last hour, oldest first: count, mean and p99 (ms, bucket upper bound)."""
        now = int(self.clock() // 60)
        with self._lock:
            rows = {row[0]: (row[1], row[2], list(row[3])) for row in self._minutes.get(key, ())}
        out = []
        for minute in range(now - self.MINUTES + 1, now + 1):
            count, total, buckets = rows.get(minute, (0, 0.0, []))
            timed = sum(buckets)
            out.append({
                "minute": minute * 60, "count": count,
                "meanMs": round(total / timed * 1000, 3) if timed else None,
                "p99Ms": _quantile(buckets, 0.99) if timed else None,
            })  # fmt: skip
        return out


def _quantile(buckets: list[int], q: float) -> float:
    """The upper bound (ms) of the bucket holding quantile ``q``."""
    target, seen = q * sum(buckets), 0
    for index, count in enumerate(buckets):
        seen += count
        if seen >= target:
            return (BUCKETS[index] if index < len(BUCKETS) else BUCKETS[-1] * 2) * 1000
    return BUCKETS[-1] * 2000


class ModelMemoryCollector(Collector):
    def __init__(self, models: ModelCache) -> None:
        self.models = models

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "openpersonalize_loaded_model_bytes",
            "Memory of the models this server process has loaded (their artifact sizes).",
            value=self.models.loaded_bytes(),
        )


class JobsCollector(Collector):
    """Jobs by kind and status (the newest 1,000), and how long each kind's last finished job took."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = self.store.recent_jobs(1000)
        counts = GaugeMetricFamily(
            "openpersonalize_jobs",
            "Background jobs among the newest 1,000, by kind and status.",
            labels=["kind", "status"],
        )
        tally: dict[tuple[str, str], int] = {}
        last: dict[str, float] = {}
        for job in jobs:  # newest first
            tally[(job.kind, job.status)] = tally.get((job.kind, job.status), 0) + 1
            if job.status in ("done", "failed") and job.kind not in last and job.heartbeat is not None:
                last[job.kind] = max(0.0, job.heartbeat - job.created)
        for (kind, status), count in sorted(tally.items()):
            counts.add_metric([kind, status], count)
        yield counts
        seconds = GaugeMetricFamily(
            "openpersonalize_job_last_duration_seconds",
            "From queued to its last heartbeat, for each kind's newest finished job.",
            labels=["kind"],
        )
        for kind, value in sorted(last.items()):
            seconds.add_metric([kind], value)
        yield seconds
