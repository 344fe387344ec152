"""One listener for all three services: route, authenticate, read, decode, validate, call, encode (spec §1).

A request is refused as early as it can be: its route and its headers (size, signature scope,
key, date) are checked before any of its body is read, and the body is read only up to the
service's limit.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from openpersonalize.api import protocol
from openpersonalize.api.auth import SigV4Verifier
from openpersonalize.api.errors import error_response
from openpersonalize.api.request_metrics import RequestMetrics
from openpersonalize.api.validate import validate
from openpersonalize.control.service import ControlPlane
from openpersonalize.errors import RequestTooLarge, UnknownOperation
from openpersonalize.scope import Scope

# A data-plane handler: validated params and the caller's scope -> output members.
DataHandler = Callable[[dict[str, Any], Scope], Awaitable[dict[str, Any]]]

# Request bodies larger than this are refused unread. The biggest valid requests: PutItems with
# 10 records of 100 metadata fields and a 20,000-character text; CreateSolution with full
# hyperparameter maps; GetPersonalizedRanking with 500 items and 150 context entries.
MAX_BODY_BYTES = {protocol.CONTROL: 1 << 20, protocol.EVENTS: 2 << 20, protocol.RUNTIME: 1 << 20}
# Bodies above this are decoded and validated in a worker thread, not on the event loop.
INLINE_DECODE_BYTES = 64 << 10


class Dispatcher:
    def __init__(
        self,
        control: ControlPlane,
        data_handlers: dict[str, DataHandler],
        *,
        account: str,
        default_region: str,
        validation_code: str,
        verifier: SigV4Verifier | None = None,
    ) -> None:
        self.control = control
        self.data_handlers = data_handlers
        self.account = account
        self.default_region = default_region
        self.validation_code = validation_code
        self.verifier = verifier
        # Called after a control-plane write, so this process's caches see it at once.
        self.on_control_change: list[Callable[[], None]] = []
        self.metrics: RequestMetrics | None = None  # set by the server: per-operation counts and latency

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            return await self._handle(request)
        finally:
            if self.metrics is not None:
                scope = request.scope
                self.metrics.observe(scope.get("op_name", "unknown"), scope.get("op_outcome", "ok"),
                                     time.perf_counter() - started, scope.get("op_params"))  # fmt: skip

    async def _handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        target = request.headers.get("x-amz-target")
        path = request.scope["path"]  # cheaper than building request.url on the hot path
        service = protocol.CONTROL if target or path == "/" else protocol.EVENTS
        try:
            # Unauthenticated callers learn nothing, not even which routes exist (as on AWS).
            signed = self.verifier.check_headers(request.headers) if self.verifier is not None else None
            op = self._route(path, target, request.method)
            service = op.service
            request.scope["op_name"] = op.name
            limit = MAX_BODY_BYTES[service]
            _check_declared_length(request, limit)
            body = await _read_body(request, limit)
            if signed is not None:
                assert self.verifier is not None
                raw_path = request.scope.get("raw_path", path.encode()).decode("latin-1")
                self.verifier.verify(
                    signed, request.method, raw_path, request.url.query, request.headers, body
                )
                scope = Scope(signed.region, signed.key.account)
            else:
                region = protocol.region_from_authorization(request.headers.get("authorization"))
                scope = Scope(region or self.default_region, self.account)
            if len(body) > INLINE_DECODE_BYTES:
                params = await run_in_threadpool(_decode, op, body)
            else:
                params = _decode(op, body)
            request.scope["op_params"] = params
            if op.service == protocol.CONTROL:
                result = await run_in_threadpool(self.control.call, op.name, params, scope)
                self._announce(op.name)
            else:
                result = await self._data_call(op, params, scope)
            body = protocol.encode_output(op, result)
        except ClientDisconnect:
            # The client went away mid-body: nobody will read an answer, and it is no server fault.
            request.scope["op_outcome"] = "disconnected"
            return Response(status_code=400)
        except Exception as exc:
            request.scope["op_outcome"] = getattr(exc, "code", "InternalFailure")
            return error_response(exc, service, request_id, self.validation_code)
        return Response(
            body, status_code=200, media_type=op.content_type, headers={"x-amzn-RequestId": request_id}
        )

    def call_control(self, name: str, params: dict[str, Any], scope: Scope) -> dict[str, Any]:
        """A control-plane call from another adapter (the console): validated and announced to the
        caches exactly as the same call over the wire."""
        op = protocol.operations(protocol.CONTROL)[name]
        result = self.control.call(name, validate(op.model, params), scope)
        self._announce(name)
        return result

    def _announce(self, operation: str) -> None:
        """After a control-plane write, tell this process's caches."""
        if not operation.startswith(("Describe", "List", "Get")):
            for hook in self.on_control_change:
                hook()

    async def call_runtime(self, name: str, params: dict[str, Any], scope: Scope) -> dict[str, Any]:
        """A personalize-runtime call from another adapter, validated as over the wire."""
        op = protocol.operations(protocol.RUNTIME)[name]
        return await self._data_call(op, validate(op.model, params), scope)

    def _route(self, path: str, target: str | None, method: str = "POST") -> protocol.Operation:
        if method != "POST":
            raise UnknownOperation(
                f"{method} {path} is not an operation: every Personalize API call is a POST."
            )
        if target is not None:
            name = target.removeprefix(protocol.TARGET_PREFIX)
            op = protocol.operations(protocol.CONTROL).get(name)
            if op is None or not target.startswith(protocol.TARGET_PREFIX) or path != "/":
                raise UnknownOperation(f"Unknown operation: X-Amz-Target '{target}' on path '{path}'.")
            return op
        op = protocol.rest_routes().get(path)
        if op is None:
            raise UnknownOperation(
                f"No operation at path '{path}'. Control-plane calls need the X-Amz-Target header."
            )
        return op

    async def _data_call(
        self, op: protocol.Operation, params: dict[str, Any], scope: Scope
    ) -> dict[str, Any]:
        handler = self.data_handlers.get(op.name)
        if handler is None:
            # Reuse the control plane's message for not-yet-built operations.
            return await run_in_threadpool(self.control.call, op.name, params, scope)
        return await handler(params, scope)


def _decode(op: protocol.Operation, body: bytes) -> dict[str, Any]:
    return validate(op.model, protocol.decode_body(body))


def _check_declared_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(_too_large(int(declared), limit))


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, read chunk by chunk and abandoned as soon as it passes ``limit``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(_too_large(size, limit, at_least=True))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int, *, at_least: bool = False) -> str:
    return (
        f"The request body is {'over ' if at_least else ''}{size} bytes; "
        f"this operation accepts at most {limit} bytes."
    )
