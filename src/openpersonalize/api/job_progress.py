"""GET /jobs/progress?arn=<arn>: how far the work behind a resource is (an import, a training, a
batch job, a deployment), which AWS's Describe shapes have no member for. The CLI draws its
progress bars from it.

    {"arn": "...", "status": "CREATE IN_PROGRESS", "percentDone": 42.0}

``percentDone`` is null when no job of the resource is queued or running. With --credentials,
only the caller's own account's resources can be read.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from openpersonalize.api.errors import error_response
from openpersonalize.api.plain_routes import caller_owns
from openpersonalize.api.protocol import RUNTIME
from openpersonalize.control import registry
from openpersonalize.errors import InvalidInput, ResourceNotFound, ServiceError
from openpersonalize.store.metadata import MetadataStore, progress_of


def progress_endpoint(store: MetadataStore) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            body = await run_in_threadpool(_progress, store, request)
        except ServiceError as exc:
            return error_response(exc, RUNTIME, str(uuid.uuid4()))
        return JSONResponse(body)

    return endpoint


def _progress(store: MetadataStore, request: Request) -> dict[str, Any]:
    arn = request.query_params.get("arn") or ""
    if not arn:
        raise InvalidInput("arn is required.")
    found = store.get(arn)
    if found is None or not caller_owns(request, arn):
        raise ResourceNotFound(f"Resource Arn {arn} does not exist.")
    done = progress_of(store, arn)
    declared = registry.KINDS.get(found.kind)
    status = declared.status_names.get(found.status, found.status) if declared else found.status
    return {"arn": arn, "status": status, "percentDone": done * 100 if done is not None else None}
