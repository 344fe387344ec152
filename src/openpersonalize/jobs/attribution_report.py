"""Metric attribution of a bulk import (spec §17): INCREMENTAL imports add to the live series once
published, and with ``publishAttributionMetricsToS3`` the job writes its metrics as a CSV report,
``AggregatedAttributionMetrics - <import mode> - <timestamp>.csv``, to the attribution's
``metricsOutputConfig`` path:

    METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP
"""

from __future__ import annotations

import csv
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from openpersonalize.data.dataset_reader import read_dataset
from openpersonalize.data.output_locations import write_file
from openpersonalize.jobs.runtime import JobRun
from openpersonalize.serving.attribution import RETENTION_SECONDS, attributions, contributions
from openpersonalize.store.metadata import Resource
from openpersonalize.store.metadata.series import Point

COLUMNS = ["METRIC_NAME", "EVENT_TYPE", "VALUE", "MATH_FUNCTION", "EVENT_ATTRIBUTION_SOURCE", "TIMESTAMP"]


def report(run: JobRun, dataset: Resource, imported: Callable[[], pa.Table]) -> list[Point]:
    """Measure the imported rows (read only when the group has a metric attribution) and write the
    report if one was asked for; returns what the import adds to the live series once published."""
    ctx, job = run.ctx, run.resource
    attributed = attributions(ctx.store).get(dataset.attrs["_id"])
    if attributed is None or dataset.attrs.get("datasetType") != "INTERACTIONS":
        return []
    table = imported()
    items: dict[str, dict[str, Any]] = {}
    if attributed.items is not None and any(m.dataset == "ITEMS" for m in attributed.metrics):
        rows = read_dataset(ctx.store, ctx.interactions, attributed.items.arn).to_pylist()
        items = {str(r["ITEM_ID"]): r for r in rows}
    records = [
        {**r, "_ds": dataset.attrs["_id"], "_type": "INTERACTIONS", "_event_type": r.get("EVENT_TYPE"),
         "_attribution_source": r.get("EVENT_ATTRIBUTION_SOURCE")}
        for r in table.to_pylist()
    ]  # fmt: skip
    sums = contributions(records, {dataset.attrs["_id"]: attributed}, lambda _, item: items.get(item), 0.0)
    mode = job.attrs.get("importMode", "FULL")
    points = []
    if mode == "INCREMENTAL":  # AWS sends these to CloudWatch: the live series here
        oldest = time.time() - RETENTION_SECONDS
        points = [Point(arn, name, source, window, e[0], e[1], e[2])
                  for (arn, name, source, window), e in sums.items() if window >= oldest]  # fmt: skip
    if not job.attrs.get("publishAttributionMetricsToS3"):
        return points
    owner = ctx.store.get(attributed.arn)
    path = (
        ((owner.attrs.get("metricsOutputConfig") or {}) if owner else {}).get("s3DataDestination") or {}
    ).get("path")
    if not path:
        return points
    functions = {m.name: m.function for m in attributed.metrics}
    with tempfile.TemporaryDirectory(prefix="op-attribution-") as temp:
        local = Path(temp) / "report.csv"
        with local.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(COLUMNS)
            for (_, name, source, window), (event_type, value, _samples) in sorted(sums.items()):
                writer.writerow([name, event_type, f"{value:.1f}" if value == int(value) else value,
                                 functions[name], source, window])  # fmt: skip
        write_file(
            path, f"AggregatedAttributionMetrics - {mode} - {int(time.time())}.csv", local, ctx.settings
        )
    return points
