"""The serving runtime a batch job runs its lines through, one per worker process.

The model, the Items and Users attributes and the live events after training are loaded once
for the job a worker is working on, not for every part; an idle worker lets them go (forget).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from openpersonalize.errors import DataError
from openpersonalize.jobs.runtime import JobRun
from openpersonalize.scope import Scope
from openpersonalize.serving.attributes import AttributeStore
from openpersonalize.serving.live import LiveEvents
from openpersonalize.serving.models import ModelCache
from openpersonalize.serving.runtime import Runtime
from openpersonalize.serving.targets import Target

_lock = threading.Lock()
_current: dict[tuple[int, str, float], tuple[Runtime, Target]] = {}


def forget() -> None:
    with _lock:
        _current.clear()


def target_for(run: JobRun, label: str, config: Mapping[str, Any]) -> tuple[Runtime, Target]:
    """The runtime, and the job's solution version made ready to answer as ``label``."""
    job = run.resource
    key = (id(run.ctx.store), job.arn, job.created)  # a job of the same name elsewhere is another
    with _lock:
        hit = _current.get(key)
        if hit is not None:
            return hit
        ctx = run.ctx
        version = ctx.store.get(job.attrs["solutionVersionArn"])
        if version is None or version.status != "ACTIVE":
            raise DataError(f"The solution version {job.attrs['solutionVersionArn']} is no longer ACTIVE.")
        live = LiveEvents()
        live.add(ctx.interactions.recent(time.time() - ctx.settings.live_events_window_seconds))
        models = ModelCache(
            ctx.objects, ctx.settings.data_dir / "job-model-cache", ctx.settings.model_cache_megabytes << 20
        )
        runtime = Runtime(ctx.store, models, live, AttributeStore(ctx.store, ctx.interactions))
        target = runtime.targets.of_version(version, job.arn, label, config, record_served=False)
        _current.clear()
        _current[key] = (runtime, target)
        return runtime, target


def scope_of(arn: str) -> Scope:
    """The account and region a job's ARN names: its filters are looked up there."""
    partition, _, region, account = arn.split(":")[1:5]
    return Scope(region, account, partition)
