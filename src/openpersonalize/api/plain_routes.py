"""Routes outside the three AWS APIs (/health, /metrics, /attribution): plain GETs that honour
--credentials too.

With credentials configured, such a request must be SigV4-signed or carry HTTP Basic
authentication with a configured access key id and its secret (what probes and Prometheus send);
otherwise it gets 401 and an AWS-style error body. The caller's account is then in
``request.state.account`` (routes that show one account's data keep to it).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from openpersonalize.api.auth import SigV4OrBasic
from openpersonalize.api.errors import error_response
from openpersonalize.api.protocol import RUNTIME
from openpersonalize.errors import ServiceError

Endpoint = Callable[[Request], Awaitable[Response]]


def guarded(endpoint: Endpoint, auth: SigV4OrBasic | None) -> Endpoint:
    if auth is None:
        return endpoint

    async def checked(request: Request) -> Response:
        raw_path = request.scope.get("raw_path", request.scope["path"].encode()).decode("latin-1")
        try:
            request.state.account = auth.check(request.method, raw_path, request.url.query, request.headers)
        except ServiceError as exc:
            response = error_response(exc, RUNTIME, str(uuid.uuid4()))
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Basic realm="openpersonalize"'
            return response
        return await endpoint(request)

    return checked


def caller_owns(request: Request, arn: str) -> bool:
    """Whether a guarded request's caller may read this ARN: any, with no credentials configured;
    else only its own account's."""
    account = getattr(request.state, "account", None)
    return account is None or arn.split(":")[4:5] == [account]
