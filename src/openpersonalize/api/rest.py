"""GET /recommendations: a campaign's or recommender's answer as a plain JSON array of items with
their metadata, for messaging tools (Braze Connected Content reads ``recommendations[0].name``)
and web pages.

    GET /recommendations?user_id=42&recommender=for-you&num_results=5&filter=in-stock
    [{"id": "abc123", "name": "First Item", "price": 39.99, "image": "https://..."}, ...]

The answer runs the same pipeline as GetRecommendations. Items columns map to keys by
``rest_fields`` ("id=ITEM_ID,name=TITLE,price=PRICE"; default: every column, lower-cased), with
their schema's types (numbers stay numbers). Answers are reused for ``rest_cache_seconds``; a new
event of the user drops theirs. Errors are JSON with a 4xx status, never a stack trace.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from openpersonalize.api.auth import SigV4OrBasic
from openpersonalize.errors import InvalidInput, ResourceNotFound, ServiceError
from openpersonalize.scope import Scope
from openpersonalize.serving.experiments import Variant, assign, parse_variants
from openpersonalize.serving.requests import DEFAULT_RESULTS, Recommend
from openpersonalize.serving.runtime import Runtime
from openpersonalize.settings import Settings
from openpersonalize.store.metadata import Resource

MAX_RESULTS = 500
VALUE_PREFIX = "value."  # value.GENRE="comedy": a filter placeholder's value


class RestRecommendations:
    def __init__(
        self,
        runtime: Runtime,
        settings: Settings,
        auth: SigV4OrBasic | None,
        served: Callable[[str, str], None],
    ) -> None:
        self.runtime, self.settings, self.auth = runtime, settings, auth
        self.served = served  # (experiment ARN, variant ARN): an experiment's answer went out
        self.answered: Callable[[str, float], None] | None = None  # (campaign or recommender ARN, seconds)
        self._experiments: dict[str, tuple[float, Resource | None]] = {}
        self.api_keys = [k.strip() for k in settings.rest_api_keys.split(",") if k.strip()]
        self.fields = _fields(settings.rest_fields)
        self._cache: dict[tuple[Any, ...], tuple[float, bytes, dict[str, str]]] = {}
        self._by_user: dict[str, set[tuple[Any, ...]]] = {}
        self._lock = threading.Lock()

    async def endpoint(self, request: Request) -> Response:
        cors = {"Access-Control-Allow-Origin": self.settings.rest_cors_origin, "Vary": "Origin"}
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={**cors, "Access-Control-Allow-Methods": "GET",
                                                      "Access-Control-Allow-Headers": "X-Api-Key, Authorization"})  # fmt: skip
        try:
            account = self.authenticate(request)
        except ServiceError as error:  # whatever was wrong with the credentials: 401, as /metrics
            headers = {**cors, "WWW-Authenticate": 'Basic realm="openpersonalize"'}
            return JSONResponse(
                {"error": error.code, "message": str(error)}, status_code=401, headers=headers
            )
        started = time.perf_counter()
        try:
            scope, wanted, variant = self._request(request, account)
            key = (account, request.scope.get("query_string", b""))
            hit = self._cached(key)  # on the event loop: a hit costs no thread hop
            filters = [wanted.filter_arn] if wanted.filter_arn else []
            if hit is not None:
                body, headers = hit
            elif self.runtime.is_ready(wanted.campaign_arn, filters, metadata=True):
                body, headers = self._answer(
                    scope, wanted, key, variant
                )  # at hand: cheaper than a thread hop
            else:
                body, headers = await run_in_threadpool(self._answer, scope, wanted, key, variant)
        except ServiceError as error:
            status = error.rest_status if 400 <= error.rest_status < 500 else 400
            return JSONResponse(
                {"error": error.code, "message": str(error)}, status_code=status, headers=cors
            )
        if "X-Experiment" in headers:
            self.served(headers["X-Experiment"], headers["X-Answered-By"])
        if self.answered is not None:
            self.answered(headers["X-Answered-By"], time.perf_counter() - started)
        return Response(body, media_type="application/json", headers={**cors, **headers})

    def fast(self, scope: Mapping[str, Any]) -> tuple[bytes, list[tuple[bytes, bytes]]] | None:
        """A cached answer for a raw ASGI request, before any routing (``RestFastPath``); None
        when it must take the full path (not cached, or credentials to check)."""
        if self.auth is not None or self.settings.rest_cache_seconds <= 0:
            return None
        if self.api_keys:
            given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-api-key"), "")
            if not any(hmac.compare_digest(given, key) for key in self.api_keys):
                return None  # the full path says why (an api_key parameter, or a 401)
        hit = self._cached((None, scope.get("query_string", b"")))
        if hit is None:
            return None
        body, headers = hit
        if "X-Experiment" in headers:
            self.served(headers["X-Experiment"], headers["X-Answered-By"])
        cors = {"Access-Control-Allow-Origin": self.settings.rest_cors_origin, "Vary": "Origin"}
        raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        raw += [(k.lower().encode(), v.encode()) for k, v in {**cors, **headers}.items()]
        return body, raw

    def forget_experiment(self, arn: str) -> None:
        """An experiment changed here (stopped, deleted): read it again at its next request. Other
        processes see the change within a second."""
        self._experiments.pop(arn, None)

    def observe(self, records: list[dict[str, Any]]) -> None:
        """New events: their users' cached answers are stale."""
        users = {r.get("USER_ID") for r in records if r.get("USER_ID")}
        with self._lock:
            for user in users & set(self._by_user):
                for key in self._by_user.pop(str(user)):
                    self._cache.pop(key, None)

    # -- the steps ----------------------------------------------------------------------------
    def authenticate(self, request: Request) -> str | None:
        """The caller's account (None: the default one). An API key, or --credentials, when set."""
        given = request.headers.get("x-api-key") or request.query_params.get("api_key") or ""
        if given and any(hmac.compare_digest(given, key) for key in self.api_keys):
            return None
        if self.auth is not None:
            raw_path = request.scope.get("raw_path", request.scope["path"].encode()).decode("latin-1")
            return self.auth.check(request.method, raw_path, request.url.query, request.headers)
        if self.api_keys:
            raise _Unauthorized("A valid X-Api-Key header (or api_key parameter) is required.")
        return None

    def _request(
        self, request: Request, account: str | None
    ) -> tuple[Scope, Recommend, tuple[str, str] | None]:
        """The parameters as a runtime request, and (experiment ARN, variant name) when an
        experiment picks the variant (only an experiment's definition is read, cached a second)."""
        query = request.query_params
        scope = Scope(self.settings.region, account or self.settings.account_id)
        variant = None
        if query.get("experiment"):
            experiment, chosen = self._variant(scope, query["experiment"], query.get("user_id"))
            variant = (experiment, chosen.name)
            recommender = ":recommender/" in chosen.arn
            campaign, recommender_arn = (None, chosen.arn) if recommender else (chosen.arn, None)
        else:
            campaign, recommender_arn = self._source(scope, query)
        num = _integer(query.get("num_results"), "num_results", DEFAULT_RESULTS)
        if not 1 <= num <= MAX_RESULTS:
            raise InvalidInput(f"num_results must be between 1 and {MAX_RESULTS}; got {num}.")
        named_filter = query.get("filter")
        recommend = Recommend(
            campaign_arn=campaign, recommender_arn=recommender_arn, user_id=query.get("user_id") or None,
            item_id=query.get("item_id") or None, num_results=num,
            filter_arn=_arn(scope, "filter", named_filter) if named_filter else None,
            filter_values=_filter_values(query),
        )  # fmt: skip
        return scope, recommend, variant

    def _variant(self, scope: Scope, name: str, user: str | None) -> tuple[str, Variant]:
        if not user:
            raise InvalidInput("user_id is required with experiment: it decides the variant.")
        arn = _arn(scope, "experiment", name)
        now = time.monotonic()
        hit = self._experiments.get(arn)
        if hit is None or now - hit[0] >= 1.0:
            hit = self._experiments[arn] = (now, self.runtime.store.get(arn))
        found = hit[1]
        if found is None or found.kind != "experiment":
            raise ResourceNotFound(f"Experiment {name} does not exist.")
        if found.status != "RUNNING":
            raise InvalidInput(f"Experiment {name} is {found.status}.")
        return arn, assign(found.name or name, user, parse_variants(found.attrs["variants"]))

    def _answer(
        self, scope: Scope, request: Recommend, key: tuple[Any, ...], variant: tuple[str, str] | None = None
    ) -> tuple[bytes, dict[str, str]]:
        campaign, recommender = request.campaign_arn, request.recommender_arn
        answer = self.runtime.recommend(request, scope)
        rows = item_rows(self.runtime, str(campaign or recommender), [i.item_id for i in answer.items])
        body = json.dumps(
            [self._decorate(i.item_id, row, i.score) for i, row in zip(answer.items, rows, strict=True)]
        )
        headers = {
            "X-Recommendation-Id": answer.recommendation_id,
            "X-Answered-By": str(campaign or recommender),
        }
        if variant is not None:
            headers.update({"X-Experiment": variant[0], "X-Variant": variant[1]})
        self._keep(key, request.user_id, body.encode(), headers)
        return body.encode(), headers

    def _source(self, scope: Scope, query: Mapping[str, str]) -> tuple[str | None, str | None]:
        if query.get("campaign") and query.get("recommender"):
            raise InvalidInput("Give campaign or recommender, not both.")
        if query.get("campaign"):
            return _arn(scope, "campaign", query["campaign"]), None
        if query.get("recommender"):
            return None, _arn(scope, "recommender", query["recommender"])
        default = self.settings.rest_default
        if not default:
            raise InvalidInput(
                "campaign or recommender is required (a name or an ARN); no default is configured."
            )
        kind = (
            "recommender" if ":recommender/" in default or default.startswith("recommender/") else "campaign"
        )
        name = default.removeprefix("recommender/").removeprefix("campaign/")
        arn = _arn(scope, kind, name)
        return (None, arn) if kind == "recommender" else (arn, None)

    def _decorate(self, item_id: str, row: Mapping[str, Any], score: float | None) -> dict[str, Any]:
        if not self.fields:
            return {
                "id": item_id,
                **{column.lower(): value for column, value in row.items() if column != "ITEM_ID"},
            }
        out: dict[str, Any] = {}
        for key, column in self.fields:
            value = item_id if column == "ITEM_ID" else score if column == "@score" else row.get(column)
            if value is not None:
                out[key] = value
        return out

    def _cached(self, key: tuple[Any, ...]) -> tuple[bytes, dict[str, str]] | None:
        with self._lock:
            hit = self._cache.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1], {**hit[2], "X-Cache": "hit"}

    def _keep(self, key: tuple[Any, ...], user: str | None, body: bytes, headers: dict[str, str]) -> None:
        if self.settings.rest_cache_seconds <= 0:
            return
        with self._lock:
            if len(self._cache) > 100_000:  # bounded: start over rather than grow
                self._cache.clear()
                self._by_user.clear()
            self._cache[key] = (time.monotonic() + self.settings.rest_cache_seconds, body, headers)
            if user:
                self._by_user.setdefault(user, set()).add(key)


def item_rows(
    runtime: Runtime, target_arn: str, ids: list[str], dataset_type: str = "ITEMS"
) -> list[dict[str, Any]]:
    """The Items (or Actions) columns of these ids in the dataset group the campaign or
    recommender serves."""
    target = runtime.targets.cached(target_arn)
    items_dataset = target[1].scene.datasets.get(dataset_type) if target is not None else None
    if items_dataset is None:
        return [{} for _ in ids]
    attributes = runtime.attributes.of(items_dataset)
    return attributes.values(ids, attributes.columns)


class _Unauthorized(ServiceError):
    code = "UnrecognizedClientException"
    status = rest_status = 401


def _fields(text: str) -> list[tuple[str, str]]:
    """ "id=ITEM_ID,name=TITLE" -> [("id", "ITEM_ID"), ("name", "TITLE")] (``@score``: the score)."""
    pairs = []
    for part in (p.strip() for p in text.split(",")):
        if part:
            key, _, column = part.partition("=")
            pairs.append((key.strip(), (column or key).strip()))
    return pairs


def _arn(scope: Scope, kind: str, name_or_arn: str) -> str:
    return name_or_arn if name_or_arn.startswith("arn:") else scope.arn(kind, name_or_arn)


def _integer(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number; got {raw!r}.") from None


def _filter_values(query: Mapping[str, str]) -> dict[str, str]:
    """value.NAME=comedy (quoted for the filter when it is not already) or filter_values={...}."""
    values: dict[str, str] = {}
    if query.get("filter_values"):
        try:
            given = json.loads(query["filter_values"])
        except ValueError:
            raise InvalidInput("filter_values must be a JSON object of strings.") from None
        if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
            raise InvalidInput("filter_values must be a JSON object of strings.")
        values.update(given)
    for name, value in query.items():
        if name.startswith(VALUE_PREFIX):
            values[name[len(VALUE_PREFIX) :]] = value if value.startswith('"') else json.dumps(value)
    return values


class RestFastPath:
    """ASGI middleware: cached GET /recommendations answers go out before routing (a hit then
    costs little more than parsing the request)."""

    def __init__(self, app: Any, rest: RestRecommendations) -> None:
        self.app, self.rest = app, rest

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == "/recommendations":
            hit = self.rest.fast(scope)
            if hit is not None:
                await send({"type": "http.response.start", "status": 200, "headers": hit[1]})
                await send({"type": "http.response.body", "body": hit[0]})
                return
        await self.app(scope, receive, send)
