"""How jobs fail: at once with a plain reason, retried only when a second try can help, and out of
memory reported as such (never retried into the same end)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from openpersonalize.control.context import Context
from openpersonalize.jobs import handlers, memory
from openpersonalize.jobs.worker import Worker
from openpersonalize.server import open_context
from openpersonalize.settings import Settings
from openpersonalize.store.metadata import Job, Resource


@pytest.fixture
def ctx(tmp_path):
    settings = Settings(data_dir=tmp_path, job_max_attempts=2, job_stale_seconds=1.0)
    ctx = open_context(settings)
    yield ctx
    ctx.store.close()


def enqueue(ctx: Context, kind: str, arn: str = "r") -> None:
    ctx.store.create(
        Resource(arn=arn, kind="dataset-import-job", status="CREATE PENDING", created=1, updated=1),
        job=Job(kind=kind, resource_arn=arn),
    )


def handler_raising(monkeypatch, error: BaseException) -> list[int]:
    calls: list[int] = []

    def run(job_run):
        calls.append(job_run.job.attempts)
        raise error

    monkeypatch.setitem(handlers.HANDLERS, "boom", run)
    return calls


def test_transient_errors_are_retried_then_failed(ctx, monkeypatch):
    calls = handler_raising(monkeypatch, ConnectionError("object store unreachable"))
    enqueue(ctx, "boom")
    worker = Worker(ctx, "w")
    assert worker.run_once()
    assert ctx.store.get("r").status == "CREATE PENDING"
    time.sleep(1.1)  # the retry is scheduled with a short backoff
    assert worker.run_once()
    assert calls == [1, 2]
    failed = ctx.store.get("r")
    assert failed.status == "CREATE FAILED" and "object store unreachable" in failed.attrs["failureReason"]
    json.dumps(failed.attrs)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (PermissionError(13, "Permission denied", "/srv/data/a.csv"), "Permission denied (/srv/data/a.csv)."),
        (RuntimeError("matrix is singular\nline two"), "Internal error: RuntimeError: matrix is singular"),
    ],
)
def test_deterministic_errors_fail_at_once_with_a_plain_reason(ctx, monkeypatch, error, reason):
    """Regression: a permission error was retried three times and then shown as 'Internal error: ...'."""
    calls = handler_raising(monkeypatch, error)
    enqueue(ctx, "boom")
    assert Worker(ctx, "w").run_once()
    failed = ctx.store.get("r")
    assert calls == [1] and failed.status == "CREATE FAILED"
    assert (
        failed.attrs["failureReason"].startswith(reason) and "line two" not in failed.attrs["failureReason"]
    )


def test_a_job_over_the_memory_limit_fails_as_out_of_memory(ctx, monkeypatch):
    ctx.settings = Settings(
        data_dir=ctx.settings.data_dir, job_memory_limit_megabytes=(memory.resident_bytes() >> 20) + 150
    )
    published = []

    def greedy(job_run):
        block = np.ones(400 << 20, dtype=np.uint8)  # 400 MB, touched: resident
        for _ in range(100):
            job_run.progress(0.5)  # where a handler notices it was stopped
            time.sleep(0.05)
        published.append(block.sum())
        return {}

    monkeypatch.setitem(handlers.HANDLERS, "greedy", greedy)
    enqueue(ctx, "greedy")
    assert Worker(ctx, "w").run_once()
    failed = ctx.store.get("r")
    assert failed.status == "CREATE FAILED" and not published
    assert failed.attrs["failureReason"].startswith("The job ran out of memory: its worker used ")
    assert "the limit is" in failed.attrs["failureReason"]
    assert ctx.store.jobs_for("r")[0].attempts == 1


def test_a_worker_that_died_near_the_memory_limit_is_not_retried(ctx):
    """Regression: an OOM-killed worker's job was retried twice and ended 'interrupted 3 times'."""
    enqueue(ctx, "train")
    job = ctx.store.claim_job("dead-worker", time.time() - 10)
    limit = 20 << 30
    ctx.store.heartbeat(job.id, "dead-worker", time.time() - 10, memory_peak=19 << 30, memory_limit=limit)
    Worker(ctx, "w").recover_stale()
    failed = ctx.store.get("r")
    assert failed.status == "CREATE FAILED"
    assert failed.attrs["failureReason"].startswith("The job ran out of memory: its worker used 19.0 GB")
    assert "20.0 GB" in failed.attrs["failureReason"]


def test_a_worker_killed_far_from_the_limit_is_retried(ctx):
    enqueue(ctx, "train")
    job = ctx.store.claim_job("dead-worker", time.time() - 10)
    ctx.store.heartbeat(job.id, "dead-worker", time.time() - 10, memory_peak=1 << 30, memory_limit=20 << 30)
    Worker(ctx, "w").recover_stale()
    assert ctx.store.get_job(job.id).status == "queued"
