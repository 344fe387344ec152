"""Metric attribution of live events (spec §17): what each event adds to its dataset group's metrics,
per event attribution source and 15-minute window — our stand-in for CloudWatch.

The source of an event is its ``metricAttribution.eventAttributionSource`` when it has one, else
the campaign or recommender that served its ``recommendationId`` (when this process served it),
else ``SOURCE_NAME_UNDEFINED``. Each server process adds up the events it took in memory and adds
the sums to the shared series every second, so processes and machines add up; a process killed
outright loses at most its last second of sums (never the events, which are in the event log).
"""

from __future__ import annotations

import functools
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from openpersonalize.data.metric_expressions import Metric, parse_metric
from openpersonalize.data.schema import parse_schema
from openpersonalize.serving.attributes import AttributeStore
from openpersonalize.store.metadata import MetadataStore, Resource, all_resources
from openpersonalize.store.metadata.series import AttributionSeries, Point

WINDOW_SECONDS = 900  # AWS aggregates in 15-minute windows
UNDEFINED = "SOURCE_NAME_UNDEFINED"
RETENTION_SECONDS = 14 * 86400
REFRESH_SECONDS = 1.0
PRUNE_SECONDS = 3600.0


@dataclass(frozen=True)
class Attributed:
    """A dataset group's metric attribution as events need it."""

    arn: str
    metrics: tuple[Metric, ...]
    items: Resource | None  # the Items dataset, for SUM(ITEMS.<column>)

    @functools.cached_property
    def by_event_type(self) -> dict[str, tuple[Metric, ...]]:
        """Lower-case event type -> its metrics: one lookup per event."""
        found: dict[str, list[Metric]] = defaultdict(list)
        for metric in self.metrics:
            found[metric.event_type.lower()].append(metric)
        return {kind: tuple(metrics) for kind, metrics in found.items()}


def source_of(record: dict[str, Any]) -> str:
    return record.get("_attribution_source") or record.get("_recommended_by") or UNDEFINED


def window_of(timestamp: float) -> int:
    return int(timestamp // WINDOW_SECONDS) * WINDOW_SECONDS


def attributions(store: MetadataStore) -> dict[str, Attributed]:
    """Interactions dataset id -> its group's metric attribution, for every group that has one."""
    found: dict[str, Attributed] = {}
    for attribution in all_resources(store, "metric-attribution"):
        datasets = {
            d.attrs["datasetType"]: d
            for d in store.list("dataset", dataset_group_arn=attribution.dataset_group_arn).items
        }
        interactions = datasets.get("INTERACTIONS")
        if interactions is None:
            continue
        schemas = {}
        for kind, dataset in datasets.items():
            schema = store.get(dataset.attrs["schemaArn"])
            if schema is not None:
                schemas[kind] = parse_schema(schema.attrs["schema"])
        try:
            metrics = tuple(parse_metric(m, "metrics", schemas) for m in attribution.attrs["_metrics"])
        except (
            Exception
        ):  # a schema changed under it (UpdateDataset): measure nothing rather than fail events
            continue
        found[interactions.attrs["_id"]] = Attributed(attribution.arn, metrics, datasets.get("ITEMS"))
    return found


def contributions(
    records: Iterable[dict[str, Any]],
    by_dataset: dict[str, Attributed],
    item_row: Callable[[Resource, str], dict[str, Any] | None],
    oldest: float,
) -> dict[tuple[str, str, str, int], list[Any]]:
    """(attribution, metric, source, window) -> [event type, value, samples] of these records."""
    sums: dict[tuple[str, str, str, int], list[Any]] = {}
    for record in records:
        attributed = by_dataset.get(record.get("_ds", ""))
        if attributed is None or record.get("_type") != "INTERACTIONS":
            continue
        metrics = attributed.by_event_type.get(
            str(record.get("_event_type") or record.get("EVENT_TYPE")).lower()
        )
        timestamp = float(record.get("TIMESTAMP") or 0)
        if not metrics or timestamp < oldest:
            continue  # AWS reports only events less than 14 days old
        source, window = source_of(record), window_of(timestamp)
        for metric in metrics:
            row = None
            if metric.dataset == "ITEMS" and attributed.items is not None and record.get("ITEM_ID"):
                row = item_row(attributed.items, str(record["ITEM_ID"]))
            value = metric.value_of(record, row)
            if value is None:
                continue
            key = (attributed.arn, metric.name, source, window)
            entry = sums.setdefault(key, [metric.event_type, 0.0, 0])
            entry[1] += value
            entry[2] += 1
    return sums


class Attribution:
    """Adds this process's live events to the metric series (an events listener)."""

    def __init__(self, store: MetadataStore, series: AttributionSeries, attributes: AttributeStore) -> None:
        self.store, self.series, self.attributes = store, series, attributes
        self._by_dataset: dict[str, Attributed] = {}
        self._pending: dict[tuple[str, str, str, int], list[Any]] = defaultdict(lambda: ["", 0.0, 0])
        self._lock = threading.Lock()
        self._refreshed = 0.0
        self._pruned = 0.0

    def observe(self, records: list[dict[str, Any]]) -> None:
        if not records or records[0].get("_ds") not in self._by_dataset:
            return  # a request writes to one dataset: not one that is measured
        self.observe_sums(
            contributions(records, self._by_dataset, self._item_row, time.time() - RETENTION_SECONDS)
        )

    def observe_sums(self, sums: dict[tuple[str, str, str, int], list[Any]]) -> None:
        with self._lock:
            for key, (event_type, value, samples) in sums.items():
                entry = self._pending[key]
                entry[0], entry[1], entry[2] = event_type, entry[1] + value, entry[2] + samples

    def refresh(self) -> None:
        """Re-read which dataset groups measure what (every second, and at once after a control-plane
        change in this process: a new metric attribution counts from its first event)."""
        self._refreshed = time.time()
        self._by_dataset = attributions(self.store)

    def count_served(self, experiment_arn: str, variant_arn: str) -> None:
        """One answer of an experiment's variant went out (its "SERVED" series)."""
        self.observe_sums({(experiment_arn, "SERVED", variant_arn, window_of(time.time())): ["", 1.0, 1]})

    def flush(self) -> None:
        """Add the sums taken since the last flush to the series; re-read the attributions."""
        with self._lock:
            pending, self._pending = self._pending, defaultdict(lambda: ["", 0.0, 0])
        try:
            if pending:
                self.series.add(Point(arn, name, source, window, e[0], e[1], e[2])
                                for (arn, name, source, window), e in pending.items())  # fmt: skip
        except Exception:
            self.observe_sums(pending)  # the database is away: keep them for the next flush
            raise
        now = time.time()
        if now - self._refreshed >= REFRESH_SECONDS:
            self.refresh()
        if now - self._pruned >= PRUNE_SECONDS:
            self._pruned = now
            self.series.forget(before=window_of(now - RETENTION_SECONDS))

    def _item_row(self, items: Resource, item_id: str) -> dict[str, Any] | None:
        row = self.attributes.of(items).row(item_id)
        return dict(row) if row is not None else None
