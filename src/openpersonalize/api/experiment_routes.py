"""The experiments' JSON API (A/B tests; serving/experiments.py), with the REST endpoint's
authentication (an API key, or --credentials when set):

    POST   /experiments          {"name": "home", "variants": [{"name": "a", "campaign": "up", "share": 1},
                                  {"name": "b", "recommender": "for-you", "share": 1}],
                                  "metricAttributionArn": "arn:..."}      -> the experiment
    GET    /experiments          -> [experiments]
    GET    /experiments/{name}   -> the experiment, with its results so far
    POST   /experiments/{name}/stop
    DELETE /experiments/{name}

``GET /recommendations?experiment=home&user_id=42`` then answers from the user's variant.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openpersonalize.api.rest import RestRecommendations
from openpersonalize.data.metric_expressions import function_of
from openpersonalize.errors import InvalidInput, ResourceAlreadyExists, ResourceNotFound, ServiceError
from openpersonalize.scope import Scope
from openpersonalize.serving.attribution import WINDOW_SECONDS
from openpersonalize.serving.experiments import SERVED, parse_variants, results
from openpersonalize.store.metadata import MetadataStore, Resource
from openpersonalize.store.metadata.series import AttributionSeries

KIND = "experiment"


def experiment_routes(
    store: MetadataStore, series: AttributionSeries, rest: RestRecommendations
) -> list[Route]:
    api = _Experiments(store, series, rest)
    return [
        Route("/experiments", api.handle, methods=["GET", "POST"]),
        Route("/experiments/{name}", api.handle, methods=["GET", "DELETE"]),
        Route("/experiments/{name}/stop", api.handle, methods=["POST"]),
    ]


class _Experiments:
    def __init__(self, store: MetadataStore, series: AttributionSeries, rest: RestRecommendations) -> None:
        self.store, self.series, self.rest = store, series, rest

    async def handle(self, request: Request) -> Response:
        try:
            account = self.rest.authenticate(request)
        except ServiceError as error:
            return JSONResponse({"error": error.code, "message": str(error)}, status_code=401)
        try:
            body = await request.body()
            result = await run_in_threadpool(self._call, request, account, body)
        except ServiceError as error:
            status = error.rest_status if 400 <= error.rest_status < 500 else 400
            return JSONResponse({"error": error.code, "message": str(error)}, status_code=status)
        return JSONResponse(result)

    def _call(self, request: Request, account: str | None, body: bytes) -> Any:
        scope = Scope(self.rest.settings.region, account or self.rest.settings.account_id)
        name = request.path_params.get("name")
        if name is None:
            if request.method == "POST":
                return self._create(scope, body)
            return [self._view(e) for e in self.store.list(KIND, limit=100).items if scope.owns(e.arn)]
        found = self.store.get(scope.arn(KIND, name))
        if found is None or found.kind != KIND:
            raise ResourceNotFound(f"Experiment {name} does not exist.")
        if request.method == "DELETE":
            self.store.delete(found.arn)
            self.series.forget(found.arn)
            return {}
        if request.url.path.endswith("/stop"):
            stopped = self.store.update(found.arn, status="STOPPED")
            return self._view(stopped or found)
        return {**self._view(found), "results": self._results(found)}

    def _create(self, scope: Scope, body: bytes) -> dict[str, Any]:
        try:
            given = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError:
            raise InvalidInput("The body must be a JSON object.") from None
        name = given.get("name") if isinstance(given, dict) else None
        if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
            raise InvalidInput("name is required: letters, digits, '-' and '_'.")
        variants = []
        for item in given.get("variants") or []:
            item = dict(item) if isinstance(item, dict) else {}
            for kind in ("campaign", "recommender"):
                if item.get(kind):
                    value = str(item.pop(kind))
                    item[f"{kind}Arn"] = value if value.startswith("arn:") else scope.arn(kind, value)
            variants.append(item)
        parsed = parse_variants(variants)
        for variant in parsed:
            found = self.store.get(variant.arn) if scope.owns(variant.arn) else None
            if found is None or found.kind not in ("campaign", "recommender"):
                raise ResourceNotFound(f"variants {variant.name}: {variant.arn} does not exist.")
        attribution = given.get("metricAttributionArn")
        if attribution and (self.store.get(attribution) is None or not scope.owns(attribution)):
            raise ResourceNotFound(f"metricAttributionArn {attribution} does not exist.")
        arn = scope.arn(KIND, name)
        if self.store.get(arn) is not None:
            raise ResourceAlreadyExists(f"Experiment {name} already exists.")
        now = time.time()
        self.store.create(Resource(arn=arn, kind=KIND, name=name, status="RUNNING", created=now, updated=now,
                                   attrs={"variants": [v.__dict__ for v in parsed],
                                          "metricAttributionArn": attribution}))  # fmt: skip
        return self._view(self.store.get(arn) or _gone(arn))

    def _results(self, experiment: Resource) -> dict[str, Any]:
        variants = parse_variants(experiment.attrs["variants"])
        since = int(experiment.created) - int(experiment.created) % WINDOW_SECONDS
        served: dict[str, float] = defaultdict(float)
        for point in self.series.read(experiment.arn, since, SERVED):
            served[point.source] += point.value
        totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        functions: dict[str, str] = {}
        attribution = self.store.get(experiment.attrs.get("metricAttributionArn") or "")
        if attribution is not None:
            for metric in attribution.attrs["_metrics"]:
                functions[metric["metricName"]] = function_of(metric["expression"])
            for point in self.series.read(attribution.arn, since):
                totals[point.metric_name][point.source] += point.value
        for name in functions:
            totals.setdefault(name, defaultdict(float))
        return results(variants, served, totals, functions)

    @staticmethod
    def _view(experiment: Resource) -> dict[str, Any]:
        return {"name": experiment.name, "experimentArn": experiment.arn, "status": experiment.status,
                "variants": experiment.attrs["variants"], "metricAttributionArn": experiment.attrs.get("metricAttributionArn"),
                "creationDateTime": experiment.created}  # fmt: skip


def _gone(arn: str) -> Resource:
    raise ResourceNotFound(f"Experiment {arn} does not exist.")
