"""One listener for all three services: route, decode, validate, call, encode (spec §1)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from openpersonalize.api import protocol
from openpersonalize.api.auth import SigV4Verifier
from openpersonalize.api.errors import error_response
from openpersonalize.api.validate import validate
from openpersonalize.control.arns import Scope
from openpersonalize.control.service import ControlPlane
from openpersonalize.errors import UnknownOperation

# A data-plane handler: validated params -> output members.
DataHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


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

    async def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        target = request.headers.get("x-amz-target")
        path = request.scope["path"]  # cheaper than building request.url on the hot path
        service = protocol.CONTROL if target or path == "/" else protocol.EVENTS
        try:
            op = self._route(path, target, request.method)
            service = op.service
            body = await request.body()
            if self.verifier is not None:
                self.verifier.verify(request.method, path, request.url.query, request.headers, body)
            params = validate(op.model, protocol.decode_body(body))
            if op.service == protocol.CONTROL:
                region = protocol.region_from_authorization(request.headers.get("authorization"))
                scope = Scope(region or self.default_region, self.account)
                result = await run_in_threadpool(self.control.call, op.name, params, scope)
                if not op.name.startswith(("Describe", "List", "Get")):
                    for hook in self.on_control_change:
                        hook()
            else:
                result = await self._data_call(op, params)
            body = protocol.encode_output(op, result)
        except Exception as exc:
            return error_response(exc, service, request_id, self.validation_code)
        return Response(
            body, status_code=200, media_type=op.content_type, headers={"x-amzn-RequestId": request_id}
        )

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

    async def _data_call(self, op: protocol.Operation, params: dict[str, Any]) -> dict[str, Any]:
        handler = self.data_handlers.get(op.name)
        if handler is None:
            # Reuse the control plane's message for not-yet-built operations.
            return await run_in_threadpool(self.control.call, op.name, params)
        return await handler(params)
