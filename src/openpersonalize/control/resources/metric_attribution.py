"""MetricAttribution: business metrics of a dataset group's events, per event attribution source
(spec §17). At most one per dataset group; ACTIVE at once. serving/attribution.py measures live
events, jobs/handlers/dataset_import.py bulk imports."""

from __future__ import annotations

import base64
from typing import Any

from openpersonalize.control.context import Call, Context
from openpersonalize.control.resources.common import describer, lister, new_resource, require
from openpersonalize.data.metric_expressions import parse_metric
from openpersonalize.data.output_locations import check_output_location
from openpersonalize.data.schema import parse_schema
from openpersonalize.errors import InvalidInput, InvalidNextToken, LimitExceeded, ResourceAlreadyExists
from openpersonalize.store.metadata import Resource

KIND = "metric-attribution"
MAX_METRICS = 10


def create(ctx: Context, call: Call) -> dict[str, Any]:
    p = call.params
    group = require(ctx, p["datasetGroupArn"], "dataset-group")
    if ctx.store.count(KIND, dataset_group_arn=group.arn):
        raise ResourceAlreadyExists(
            f"Dataset group {group.arn} already has a metric attribution (at most one)."
        )
    metrics = _checked(ctx, group.arn, p["metrics"], "metrics")
    output = _output(ctx, p["metricsOutputConfig"])
    arn = call.scope.arn(KIND, p["name"])
    if ctx.store.get(arn) is not None:
        raise ResourceAlreadyExists(f"Metric attribution with name {p['name']} already exists.")
    attrs = {"datasetGroupArn": group.arn, "metricsOutputConfig": output, "_metrics": metrics}
    ctx.store.create(new_resource(ctx, KIND, arn, p["name"], attrs, group=group.arn))
    return {"metricAttributionArn": arn}


def update(ctx: Context, call: Call) -> dict[str, Any]:
    p = call.params
    if not p.get("metricAttributionArn"):
        raise InvalidInput("metricAttributionArn is required.")
    current = require(ctx, p["metricAttributionArn"], KIND)
    metrics = list(current.attrs["_metrics"])
    names = {m["metricName"] for m in metrics}
    unknown = [name for name in p.get("removeMetrics") or [] if name not in names]
    if unknown:
        raise InvalidInput(f"removeMetrics: the metric attribution has no metric named {unknown[0]}.")
    metrics = [m for m in metrics if m["metricName"] not in set(p.get("removeMetrics") or [])]
    metrics = _checked(
        ctx, current.dataset_group_arn or "", metrics + list(p.get("addMetrics") or []), "addMetrics"
    )
    attrs: dict[str, Any] = {"_metrics": metrics}
    if p.get("metricsOutputConfig"):
        attrs["metricsOutputConfig"] = _output(ctx, p["metricsOutputConfig"])
    ctx.store.update(current.arn, attrs=attrs)
    return {"metricAttributionArn": current.arn}


def delete(ctx: Context, call: Call) -> dict[str, Any]:
    current = require(ctx, call.params["metricAttributionArn"], KIND)
    ctx.store.delete(current.arn)
    ctx.series.forget(current.arn)
    return {}


def list_metrics(ctx: Context, call: Call) -> dict[str, Any]:
    """ListMetricAttributionMetrics: one attribution's metrics, paged (or every one's, unfiltered)."""
    arn = call.params.get("metricAttributionArn")
    owners = [require(ctx, arn, KIND)] if arn else ctx.store.list(KIND, limit=100).items
    metrics = [m for owner in owners for m in owner.attrs["_metrics"]]
    start = _position(call.params.get("nextToken"))
    size = int(call.params.get("maxResults") or 100)
    out: dict[str, Any] = {"metrics": metrics[start : start + size]}
    if start + size < len(metrics):
        out["nextToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
    return out


def metrics_of(attribution: Resource) -> list[dict[str, str]]:
    return list(attribution.attrs["_metrics"])


def _checked(
    ctx: Context, group_arn: str, metrics: list[dict[str, Any]], member: str
) -> list[dict[str, str]]:
    if len(metrics) > MAX_METRICS:
        raise LimitExceeded(
            f"A metric attribution can have at most {MAX_METRICS} metrics; this one would have {len(metrics)}."
        )
    schemas = {}
    for dataset in ctx.store.list("dataset", dataset_group_arn=group_arn).items:
        schema = ctx.store.get(dataset.attrs["schemaArn"])
        if schema is not None:
            schemas[str(dataset.attrs["datasetType"])] = parse_schema(schema.attrs["schema"])
    seen: set[str] = set()
    for index, metric in enumerate(metrics):
        if metric["metricName"] in seen:
            raise InvalidInput(f"{member}: the metric name {metric['metricName']} is used twice.")
        seen.add(metric["metricName"])
        parse_metric(metric, f"{member}[{index}]", schemas)
    return [
        {"eventType": m["eventType"], "metricName": m["metricName"], "expression": m["expression"]}
        for m in metrics
    ]


def _output(ctx: Context, config: dict[str, Any]) -> dict[str, Any]:
    destination = config.get("s3DataDestination") or {}
    if destination.get("path"):
        check_output_location(
            destination["path"], ctx.settings, member="metricsOutputConfig.s3DataDestination.path"
        )
    return dict(config)


def _position(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise InvalidNextToken("The token is not valid.") from None


describe = describer(KIND)
list_ = lister(KIND, parent="dataset-group")


OPERATIONS = {
    "CreateMetricAttribution": create,
    "DescribeMetricAttribution": describe,
    "ListMetricAttributions": list_,
    "UpdateMetricAttribution": update,
    "DeleteMetricAttribution": delete,
    "ListMetricAttributionMetrics": list_metrics,
}
