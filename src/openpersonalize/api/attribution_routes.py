"""GET /attribution/series: a metric attribution's time series as JSON, for charts.

    GET /attribution/series?metricAttributionArn=<arn>[&metricName=<name>][&hours=336]

    {"metricAttributionArn": "...", "windowSeconds": 900,
     "metrics": [{"metricName": "CLICKS", "eventType": "click", "expression": "SAMPLECOUNT()",
                  "sources": {"arn:...:recommender/a": [{"window": 1764500400, "value": 12.0, "samples": 12}]}}]}

With --credentials, only the caller's own account's attributions can be read.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from openpersonalize.api.errors import error_response
from openpersonalize.api.plain_routes import caller_owns
from openpersonalize.api.protocol import RUNTIME
from openpersonalize.errors import InvalidInput, ResourceNotFound, ServiceError
from openpersonalize.serving.attribution import RETENTION_SECONDS, WINDOW_SECONDS
from openpersonalize.store.metadata import MetadataStore
from openpersonalize.store.metadata.series import AttributionSeries


def series_endpoint(store: MetadataStore, series: AttributionSeries) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            body = await run_in_threadpool(_series, store, series, request)
        except ServiceError as exc:
            return error_response(exc, RUNTIME, str(uuid.uuid4()))
        return JSONResponse(body)

    return endpoint


def _series(store: MetadataStore, series: AttributionSeries, request: Request) -> dict[str, Any]:
    arn = request.query_params.get("metricAttributionArn") or ""
    if not arn:
        raise InvalidInput("metricAttributionArn is required.")
    attribution = store.get(arn)
    if attribution is None or attribution.kind != "metric-attribution" or not caller_owns(request, arn):
        raise ResourceNotFound(f"Resource Arn {arn} does not exist.")
    try:
        hours = float(request.query_params.get("hours") or RETENTION_SECONDS / 3600)
    except ValueError:
        raise InvalidInput("hours must be a number.") from None
    wanted = request.query_params.get("metricName")
    since = int(time.time() - hours * 3600)
    by_metric: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for point in series.read(arn, since - since % WINDOW_SECONDS, wanted):
        by_metric[point.metric_name][point.source].append(
            {"window": point.window, "value": point.value, "samples": point.samples}
        )
    metrics = [
        {**m, "sources": dict(by_metric.get(m["metricName"], {}))}
        for m in attribution.attrs["_metrics"]
        if wanted is None or m["metricName"] == wanted
    ]
    return {"metricAttributionArn": arn, "windowSeconds": WINDOW_SECONDS, "metrics": metrics}
