"""Composition root: settings -> stores -> services -> one ASGI app for all three APIs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from threadpoolctl import threadpool_limits

from openpersonalize.api import metrics, protocol, runtime_wire
from openpersonalize.api.attribution_routes import series_endpoint
from openpersonalize.api.auth import SigV4OrBasic, SigV4Verifier, parse_credentials
from openpersonalize.api.dispatch import Dispatcher
from openpersonalize.api.experiment_routes import experiment_routes
from openpersonalize.api.job_progress import progress_endpoint
from openpersonalize.api.plain_routes import guarded
from openpersonalize.api.request_metrics import JobsCollector, ModelMemoryCollector, RequestMetrics
from openpersonalize.api.rest import RestFastPath, RestRecommendations
from openpersonalize.api.validate import precompile
from openpersonalize.console.pages import Pages
from openpersonalize.console.routes import Console
from openpersonalize.control.context import Context
from openpersonalize.control.service import ControlPlane
from openpersonalize.data.events import EventIngestor
from openpersonalize.data.schema import parse_schema
from openpersonalize.data.text_embedding import warm_for
from openpersonalize.serving.attributes import AttributeStore
from openpersonalize.serving.attribution import Attribution
from openpersonalize.serving.experiment_book import ExperimentBook
from openpersonalize.serving.live import LiveEvents
from openpersonalize.serving.models import ModelCache
from openpersonalize.serving.runtime import Runtime
from openpersonalize.settings import Settings
from openpersonalize.store.interactions import InteractionsStore, open_interactions
from openpersonalize.store.metadata.series import AttributionSeries
from openpersonalize.store.metadata.sql import SqlMetadataStore
from openpersonalize.store.objects.factory import open_object_store

log = logging.getLogger(__name__)
ATTRIBUTION_FLUSH_SECONDS = 1.0


@dataclass
class Services:
    settings: Settings
    ctx: Context
    control: ControlPlane
    ingestor: EventIngestor
    runtime: Runtime
    live: LiveEvents
    attribution: Attribution
    # Called with the events other server processes took (live state, caches).
    followers: list[Callable[[list[dict[str, Any]]], None]] = field(default_factory=list)

    def close(self) -> None:
        self.ctx.interactions.close()
        self.ctx.store.close()


def open_context(settings: Settings, *, writer: bool = False) -> Context:
    """The stores of these settings; ``writer`` for the process that takes events (a server)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = SqlMetadataStore(settings.resolved_metadata_url)
    objects = open_object_store(settings.resolved_object_url, settings)
    interactions = open_interactions(settings, store, objects, writer=writer)
    return Context(settings, store, objects, interactions, AttributionSeries(store))


def build_services(settings: Settings) -> Services:
    # Requests are short and many: one BLAS thread each, so concurrent requests don't oversubscribe.
    threadpool_limits(limits=1)
    ctx = open_context(settings, writer=True)
    live = LiveEvents()
    live.add(ctx.interactions.recent(time.time() - settings.live_events_window_seconds))
    runtime = Runtime(
        ctx.store,
        ModelCache(ctx.objects, settings.data_dir / "model-cache", settings.model_cache_megabytes << 20),
        live,
        AttributeStore(ctx.store, ctx.interactions),
    )
    threading.Thread(target=_warm_text_model, args=(ctx,), name="text-model-warm", daemon=True).start()
    ingestor = EventIngestor(ctx.store, ctx.interactions)
    ingestor.listeners.append(runtime.observe)
    ingestor.recommendations = runtime.served.shown
    attribution = Attribution(ctx.store, ctx.series, runtime.attributes)
    attribution.flush()  # reads which groups measure what
    ingestor.listeners.append(attribution.observe)  # this process's events only: each is counted once
    return Services(settings, ctx, ControlPlane(ctx), ingestor, runtime, live, attribution, [runtime.observe])


def _warm_text_model(ctx: Context) -> None:
    """Load the text model at start when some Items dataset has text (new items need it)."""
    found = []
    for dataset in ctx.store.list("dataset", limit=1000).items:
        schema = (
            ctx.store.get(dataset.attrs["schemaArn"]) if dataset.attrs.get("datasetType") == "ITEMS" else None
        )
        if schema is not None:
            found.append(parse_schema(schema.attrs["schema"]))
    warm_for(ctx.settings.data_dir / "encoders", found)


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
            **runtime_wire.handlers(runtime),
        },
        account=settings.account_id,
        default_region=settings.region,
        validation_code=settings.validation_error_code,
        verifier=verifier,
    )

    dispatcher.on_control_change += [ingest.invalidate, runtime.invalidate, services.attribution.refresh]
    plain_auth = SigV4OrBasic(verifier) if verifier is not None else None
    rest = RestRecommendations(runtime, settings, plain_auth, services.attribution.count_served)
    ingest.listeners.append(rest.observe)  # a user's new event drops their cached answers
    services.followers.append(rest.observe)
    gauges = metrics.registry(
        metrics.EventLogCollector(services.ctx.store, services.ctx.interactions),
        metrics.AttributionCollector(services.ctx.store, services.ctx.series),
        ModelMemoryCollector(runtime.models),
        JobsCollector(services.ctx.store),
    )
    dispatcher.metrics = RequestMetrics(gauges)
    rest.answered = dispatcher.metrics.answered
    ingest.listeners.append(dispatcher.metrics.taken)

    book = ExperimentBook(services.ctx.store, services.ctx.series)
    book.on_change.append(rest.forget_experiment)
    pages = Pages(dispatcher.call_control, services.ctx.store, services.ctx.interactions, services.ctx.series,
                  dispatcher.metrics.recent, book)  # fmt: skip
    console = Console(pages, dispatcher.call_runtime, runtime, verifier.keys if verifier else {},
                      settings.region, settings.account_id)  # fmt: skip

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def prometheus(_: Request) -> Response:
        body = await run_in_threadpool(metrics.render, gauges)
        return Response(body, media_type=metrics.CONTENT_TYPE)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        sealer = asyncio.create_task(
            _seal_periodically(services.ctx.interactions, settings.event_log_seal_seconds)
        )
        follower = asyncio.create_task(_follow_other_processes(services, settings.tail_seconds))
        flusher = asyncio.create_task(_flush_attribution(services.attribution))
        yield
        sealer.cancel()
        follower.cancel()
        flusher.cancel()
        await run_in_threadpool(services.attribution.flush)  # the last second's sums
        services.close()

    app = Starlette(
        routes=[
            Route("/health", guarded(health, plain_auth), methods=["GET"]),
            Route("/metrics", guarded(prometheus, plain_auth), methods=["GET"]),
            Route("/recommendations", rest.endpoint, methods=["GET", "OPTIONS"]),
            *experiment_routes(book, rest),
            *console.routes(),
            Route(
                "/jobs/progress", guarded(progress_endpoint(services.ctx.store), plain_auth), methods=["GET"]
            ),
            Route(
                "/attribution/series",
                guarded(series_endpoint(services.ctx.store, services.ctx.series), plain_auth),
                methods=["GET"],
            ),
            Route(
                "/{path:path}",
                dispatcher.handle,
                methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"],
            ),
        ],
        lifespan=lifespan,
        middleware=[Middleware(RestFastPath, rest=rest)],
    )
    app.state.services = services
    return app


async def _seal_periodically(interactions: InteractionsStore, every: float) -> None:
    """Seal what this process appended now and then, so workers can compact it into Parquet."""
    while True:
        await asyncio.sleep(every)
        try:
            await run_in_threadpool(interactions.seal)
        except Exception:
            log.exception("sealing the event log failed")


async def _flush_attribution(attribution: Attribution) -> None:
    """Add the metric sums of this process's events to the shared series every second."""
    while True:
        await asyncio.sleep(ATTRIBUTION_FLUSH_SECONDS)
        try:
            await run_in_threadpool(attribution.flush)
        except Exception:
            log.exception("adding metric attribution sums failed (kept for the next try)")


async def _follow_other_processes(services: Services, every: float) -> None:
    """Feed events other server processes wrote (same data directory) into the live user state."""
    while True:
        await asyncio.sleep(every)
        try:
            records = await run_in_threadpool(services.ctx.interactions.follow)
        except Exception:
            log.exception("following the event log failed")
            continue
        if records:
            for follower in services.followers:
                follower(records)
