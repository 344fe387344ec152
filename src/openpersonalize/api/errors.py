"""Service exceptions -> AWS wire errors (spec §2): {"__type", "message"} + status + headers."""

from __future__ import annotations

import logging

import orjson
from starlette.responses import Response

from openpersonalize.api.protocol import CONTROL, JSON_11, REST_JSON
from openpersonalize.errors import ServiceError, ValidationError

log = logging.getLogger(__name__)


def error_response(
    exc: BaseException, service: str, request_id: str, validation_code: str = "InvalidInputException"
) -> Response:
    if isinstance(exc, ServiceError):
        code, message = exc.code, exc.message
        if isinstance(exc, ValidationError):
            code = validation_code
        status = exc.status if service == CONTROL else exc.rest_status
    else:
        log.exception("internal error (request %s)", request_id)
        code, message, status = "InternalFailure", f"Internal server error (request id {request_id}).", 500
    headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": code}
    body = orjson.dumps({"__type": code, "message": message})
    content_type = JSON_11 if service == CONTROL else REST_JSON
    return Response(body, status_code=status, headers=headers, media_type=content_type)
