"""The three Personalize wire protocols, driven by botocore's service models (spec §1).

`personalize` is JSON 1.1 (POST / with X-Amz-Target), `personalize-events` and
`personalize-runtime` are rest-json with one fixed path per operation and every member in the body.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
import orjson
from botocore.model import OperationModel, ServiceModel, Shape

from openpersonalize.errors import SerializationError

CONTROL = "personalize"
EVENTS = "personalize-events"
RUNTIME = "personalize-runtime"
SERVICES = (CONTROL, EVENTS, RUNTIME)
TARGET_PREFIX = "AmazonPersonalize."
JSON_11 = "application/x-amz-json-1.1"
REST_JSON = "application/json"

_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/")


@dataclass(frozen=True)
class Operation:
    service: str
    name: str
    model: OperationModel

    @property
    def content_type(self) -> str:
        return JSON_11 if self.service == CONTROL else REST_JSON


@cache
def service_model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


@cache
def operations(service: str) -> dict[str, Operation]:
    model = service_model(service)
    return {name: Operation(service, name, model.operation_model(name)) for name in model.operation_names}


@cache
def rest_routes() -> dict[str, Operation]:
    """Request path -> operation, for the two rest-json services."""
    routes: dict[str, Operation] = {}
    for service in (EVENTS, RUNTIME):
        for op in operations(service).values():
            routes[op.model.http["requestUri"]] = op
    return routes


def region_from_authorization(header: str | None) -> str | None:
    """The region of a SigV4 credential scope (ARNs use the caller's region, as AWS does)."""
    if not header:
        return None
    match = _SCOPE.search(header)
    return match.group(1) if match else None


def decode_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SerializationError(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise SerializationError("The request body must be a JSON object.")
    return value


def encode_output(op: Operation, result: dict[str, Any]) -> bytes:
    shape = op.model.output_shape
    if shape is None:
        return b"{}"
    if op.service == RUNTIME:
        return orjson.dumps(result)  # the runtime builds exactly its output shapes; skip the walk
    return orjson.dumps(_trim(shape, result))


def _trim(shape: Shape, value: Any) -> Any:
    """Keep only members the shape models (List ops get Summary shapes), drop None values."""
    kind = shape.type_name
    if kind == "structure":
        members = shape.members  # type: ignore[attr-defined]
        return {k: _trim(members[k], v) for k, v in value.items() if k in members and v is not None}
    if kind == "list":
        return [_trim(shape.member, v) for v in value]  # type: ignore[attr-defined]
    if kind == "map":
        return {k: _trim(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp" and isinstance(value, dt.datetime):
        return value.timestamp()
    return value
