"""GET /metrics: the server's state in Prometheus text format.

Gauges are read when scraped, so they are true at that moment and cost nothing in between.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from openpersonalize.data.event_compaction import COMPACTION_JOB
from openpersonalize.serving.attribution import RETENTION_SECONDS
from openpersonalize.store.interactions import InteractionsStore
from openpersonalize.store.metadata import MetadataStore
from openpersonalize.store.metadata.series import AttributionSeries

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class EventLogCollector(Collector):
    """The event log: batches waiting for compaction, and those compaction had to skip."""

    def __init__(self, store: MetadataStore, interactions: InteractionsStore) -> None:
        self.store = store
        self.interactions = interactions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "openpersonalize_eventlog_sealed_segments",
            "Event-log batches waiting to be compacted into Parquet (sealed segments; with "
            "PostgreSQL, ranges of committed events).",
            value=self.interactions.backlog(),
        )
        runs = [j for j in self.store.jobs_for(self.interactions.name) if j.kind == COMPACTION_JOB]
        skipped = len(runs[-1].payload.get("skipped") or {}) if runs else 0
        yield GaugeMetricFamily(
            "openpersonalize_eventlog_segments_not_compacted",
            "Segments the last compaction run had to skip (see `openpersonalize jobs` for why).",
            value=skipped,
        )
        if runs and runs[-1].heartbeat is not None:
            yield GaugeMetricFamily(
                "openpersonalize_eventlog_last_compaction_timestamp_seconds",
                "When compaction of this event log last ran.",
                value=runs[-1].heartbeat,
            )


class AttributionCollector(Collector):
    """Metric attribution: each metric's sum per source over the last 14 days (what AWS keeps)."""

    def __init__(self, store: MetadataStore, series: AttributionSeries) -> None:
        self.store = store
        self.series = series

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["metric_attribution", "metric", "event_type", "source"]
        values = GaugeMetricFamily(
            "openpersonalize_attribution_metric_value",
            "A metric attribution's metric summed over the last 14 days, per event attribution source.",
            labels=labels,
        )
        samples = GaugeMetricFamily(
            "openpersonalize_attribution_metric_samples",
            "Events that added to the metric over the last 14 days, per event attribution source.",
            labels=labels,
        )
        for point in self.series.totals(int(time.time() - RETENTION_SECONDS)):
            names = [point.attribution_arn, point.metric_name, point.event_type, point.source]
            values.add_metric(names, point.value)
            samples.add_metric(names, point.samples)
        yield values
        yield samples


def registry(*collectors: Collector) -> CollectorRegistry:
    found = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        found.register(collector)
    return found


def render(found: CollectorRegistry) -> bytes:
    return generate_latest(found)
