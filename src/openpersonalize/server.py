"""Composition root: settings -> stores -> services -> one ASGI app for all three APIs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from threadpoolctl import threadpool_limits

from openpersonalize.api import metrics, protocol
from openpersonalize.api.auth import SigV4OrBasic, SigV4Verifier, parse_credentials
from openpersonalize.api.dispatch import Dispatcher
from openpersonalize.api.plain_routes import guarded
from openpersonalize.api.validate import precompile
from openpersonalize.control.context import Context
from openpersonalize.control.service import ControlPlane
from openpersonalize.data.event_compaction import compaction_key, recent_event_records
from openpersonalize.data.events import EventIngestor
from openpersonalize.scope import Scope
from openpersonalize.serving.live import LiveEvents
from openpersonalize.serving.models import ModelCache
from openpersonalize.serving.runtime import Runtime
from openpersonalize.settings import Settings
from openpersonalize.store.interactions.eventlog import EventLog
from openpersonalize.store.interactions.tail import LogTailer
from openpersonalize.store.metadata.sql import SqlMetadataStore
from openpersonalize.store.objects.factory import open_object_store

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    ctx: Context
    control: ControlPlane
    event_log: EventLog
    ingestor: EventIngestor
    runtime: Runtime
    live: LiveEvents
    tailer: LogTailer

    def close(self) -> None:
        self.event_log.close()
        self.ctx.store.close()


def build_services(settings: Settings) -> Services:
    # Requests are short and many: one BLAS thread each, so concurrent requests don't oversubscribe.
    threadpool_limits(limits=1)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = SqlMetadataStore(settings.resolved_metadata_url)
    objects = open_object_store(settings.resolved_object_url, settings)
    ctx = Context(settings=settings, store=store, objects=objects)
    event_log = EventLog(settings.event_log_dir)
    tailer = LogTailer(settings.event_log_dir, event_log.writer_id)
    tailer.skip_existing()  # from here on it follows the other processes' new events
    live = LiveEvents()
    live.add(recent_event_records(store, objects, time.time() - settings.live_events_window_seconds))
    live.load(settings.event_log_dir)
    ingestor = EventIngestor(store, event_log)
    ingestor.listeners.append(live.add)
    runtime = Runtime(
        store,
        ModelCache(objects, settings.data_dir / "model-cache", settings.model_cache_megabytes << 20),
        live,
    )
    return Services(settings, ctx, ControlPlane(ctx), event_log, ingestor, runtime, live, tailer)


def build_app(settings: Settings, services: Services | None = None) -> Starlette:
    services = services or build_services(settings)
    # Build every request validator now, not on a client's first request.
    precompile(op.model for service in protocol.SERVICES for op in protocol.operations(service).values())
    ingest = services.ingestor
    runtime = services.runtime
    verifier = SigV4Verifier(parse_credentials(settings.credentials)) if settings.credentials else None
    dispatcher = Dispatcher(
        services.control,
        {
            "PutEvents": ingest.put_events,
            "PutItems": ingest.put_items,
            "PutUsers": ingest.put_users,
            "PutActions": ingest.put_actions,
            "PutActionInteractions": ingest.put_action_interactions,
            "GetRecommendations": _inline_when_ready(runtime, runtime.get_recommendations),
            "GetPersonalizedRanking": _inline_when_ready(runtime, runtime.get_personalized_ranking),
            "GetActionRecommendations": _inline_when_ready(runtime, runtime.get_action_recommendations),
        },
        account=settings.account_id,
        default_region=settings.region,
        validation_code=settings.validation_error_code,
        verifier=verifier,
    )

    dispatcher.on_control_change += [ingest.invalidate, runtime.invalidate]
    plain_auth = SigV4OrBasic(verifier) if verifier is not None else None
    gauges = metrics.registry(
        metrics.EventLogCollector(services.ctx.store, settings.event_log_dir, compaction_key(settings))
    )

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def prometheus(_: Request) -> Response:
        body = await run_in_threadpool(metrics.render, gauges)
        return Response(body, media_type=metrics.CONTENT_TYPE)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        sealer = asyncio.create_task(_seal_periodically(services.event_log, settings.event_log_seal_seconds))
        follower = asyncio.create_task(_follow_other_processes(services, settings.tail_seconds))
        yield
        sealer.cancel()
        follower.cancel()
        services.close()

    app = Starlette(
        routes=[
            Route("/health", guarded(health, plain_auth), methods=["GET"]),
            Route("/metrics", guarded(prometheus, plain_auth), methods=["GET"]),
            Route(
                "/{path:path}",
                dispatcher.handle,
                methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"],
            ),
        ],
        lifespan=lifespan,
    )
    app.state.services = services
    return app


async def _seal_periodically(event_log: EventLog, every: float) -> None:
    """Seal the active segment now and then so workers can compact it into Parquet."""
    appended = event_log.stats.appends
    while True:
        await asyncio.sleep(every)
        if event_log.stats.appends != appended:
            appended = event_log.stats.appends
            try:
                await run_in_threadpool(event_log.seal)
            except Exception:
                log.exception("sealing the event log failed")


async def _follow_other_processes(services: Services, every: float) -> None:
    """Feed events other server processes wrote (same data directory) into the live user state."""
    while True:
        await asyncio.sleep(every)
        try:
            records = await run_in_threadpool(services.tailer.poll)
        except Exception:
            log.exception("following the event log failed")
            continue
        if records:
            services.live.add(records)


def _inline_when_ready(
    runtime: Runtime, call: Callable[[dict[str, Any], Scope], dict[str, Any]]
) -> Callable[[dict[str, Any], Scope], Awaitable[dict[str, Any]]]:
    """Answer on the event loop when the campaign's model is loaded (well under a millisecond; a
    thread hop would cost more than the work); otherwise in the thread pool, where a model load
    or a metadata refresh may block without stalling other requests."""

    async def run(params: dict[str, Any], scope: Scope) -> dict[str, Any]:
        if runtime.is_ready(params):
            return call(params, scope)
        return await run_in_threadpool(call, params, scope)

    return run
