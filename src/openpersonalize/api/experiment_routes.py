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

from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openpersonalize.api.rest import RestRecommendations
from openpersonalize.errors import InvalidInput, ServiceError
from openpersonalize.scope import Scope
from openpersonalize.serving.experiment_book import ExperimentBook


def experiment_routes(book: ExperimentBook, rest: RestRecommendations) -> list[Route]:
    api = _Experiments(book, rest)
    return [
        Route("/experiments", api.handle, methods=["GET", "POST"]),
        Route("/experiments/{name}", api.handle, methods=["GET", "DELETE"]),
        Route("/experiments/{name}/stop", api.handle, methods=["POST"]),
    ]


class _Experiments:
    def __init__(self, book: ExperimentBook, rest: RestRecommendations) -> None:
        self.book, self.rest = book, rest

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
                try:
                    given = orjson.loads(body or b"{}")
                except orjson.JSONDecodeError:
                    raise InvalidInput("The body must be a JSON object.") from None
                return self.book.view(self.book.create(scope, given))
            return [self.book.view(e) for e in self.book.list(scope)]
        found = self.book.get(scope, name)
        if request.method == "DELETE":
            self.book.delete(found)
            return {}
        if request.url.path.endswith("/stop"):
            return self.book.view(self.book.stop(found))
        return {**self.book.view(found), "results": self.book.results(found)}
