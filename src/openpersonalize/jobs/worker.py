"""The worker loop: claim a job, move its resource through the lifecycle, recover crashed jobs.

CREATE PENDING -> CREATE IN_PROGRESS -> ACTIVE | CREATE FAILED (failureReason). A job whose worker
stops sending heartbeats (crash, kill -9) is retried up to job_max_attempts times, then failed:
nothing stays IN_PROGRESS forever.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback

from openpersonalize.control.context import Context
from openpersonalize.control.lifecycle import (
    ACTIVE,
    CREATE_FAILED,
    CREATE_IN_PROGRESS,
    CREATE_PENDING,
    CREATE_STOPPED,
    CREATE_STOPPING,
)
from openpersonalize.data.event_compaction import compact_event_log
from openpersonalize.errors import DataError
from openpersonalize.jobs.handlers import HANDLERS
from openpersonalize.jobs.runtime import JobRun, JobStopped
from openpersonalize.jobs.scheduler import run_due_trainings
from openpersonalize.store.metadata import Job

log = logging.getLogger(__name__)
RETRY_DELAY_SECONDS = 1.0
PROGRESS_EVERY_SECONDS = 1.0


class Worker:
    def __init__(self, ctx: Context, worker_id: str | None = None) -> None:
        self.ctx = ctx
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.settings = ctx.settings
        self._last_recovery = 0.0
        self._last_schedule = 0.0
        self._last_compaction = 0.0

    def run_forever(self, stop: threading.Event) -> None:
        log.info("worker %s started", self.worker_id)
        while not stop.is_set():
            try:
                if not self.run_once():
                    stop.wait(self.settings.job_poll_seconds)
            except Exception:  # keep the worker alive through DB hiccups
                log.exception("worker loop error")
                stop.wait(1.0)

    def run_once(self) -> bool:
        """Recover stale jobs (now and then), then run one queued job. True if a job ran."""
        now = time.time()
        if now - self._last_recovery > min(5.0, self.settings.job_stale_seconds / 3):
            self._last_recovery = now
            self.recover_stale()
        if now - self._last_schedule > self.settings.scheduler_tick_seconds:
            self._last_schedule = now
            run_due_trainings(self.ctx, now)
        if now - self._last_compaction > self.settings.compaction_seconds:
            self._last_compaction = now
            self.compact()
        job = self.ctx.store.claim_job(self.worker_id, time.time())
        if job is None:
            return False
        self._run(job)
        return True

    def compact(self) -> int:
        """Move sealed event-log segments into Parquet parts (a no-op where another worker is at it)."""
        ctx = self.ctx
        moved = compact_event_log(ctx.store, ctx.objects, ctx.settings.event_log_dir)
        if moved:
            log.info("compacted %d event records into Parquet", moved)
        return moved

    def recover_stale(self) -> None:
        for job in self.ctx.store.stale_jobs(time.time() - self.settings.job_stale_seconds):
            if job.attempts < self.settings.job_max_attempts:
                log.warning("job %s (%s) lost its worker %s; retrying", job.id, job.kind, job.worker_id)
                self.ctx.store.requeue_job(job.id, time.time())
            else:
                reason = f"The job was interrupted {job.attempts} times (its worker stopped); giving up."
                self._fail(job, reason)

    def _run(self, job: Job) -> None:
        handler = HANDLERS.get(job.kind)
        if handler is None:
            self._fail(job, f"No handler for job type {job.kind}.")
            return
        resource = self.ctx.store.update(
            job.resource_arn, status=CREATE_IN_PROGRESS, expect_status=(CREATE_PENDING, CREATE_IN_PROGRESS)
        )
        if resource is None:  # deleted or stopped meanwhile
            self._stopped(job)
            return
        beat = _Heartbeat(self, job)
        beat.start()
        try:
            attrs = handler(JobRun(self.ctx, job, resource, beat.set_progress))
        except DataError as exc:
            beat.stop()
            self._fail(job, str(exc))
            return
        except JobStopped:
            beat.stop()
            self._stopped(job)
            return
        except Exception as exc:
            beat.stop()
            log.error("job %s failed: %s", job.id, traceback.format_exc())
            if job.attempts < self.settings.job_max_attempts:
                self.ctx.store.requeue_job(job.id, time.time() + RETRY_DELAY_SECONDS * job.attempts)
                self.ctx.store.update(
                    job.resource_arn, status=CREATE_PENDING, expect_status=(CREATE_IN_PROGRESS,)
                )
            else:
                self._fail(job, f"Internal error: {type(exc).__name__}: {exc}")
            return
        beat.stop()
        done = self.ctx.store.update(
            job.resource_arn, status=ACTIVE, attrs=attrs, expect_status=(CREATE_IN_PROGRESS,)
        )
        if done is None:  # stopped (or deleted) while finishing
            self._stopped(job)
            return
        self.ctx.store.finish_job(job.id)

    def _stopped(self, job: Job) -> None:
        """The resource was stopped (CREATE STOPPING ends as CREATE STOPPED) or deleted: drop the job."""
        self.ctx.store.update(job.resource_arn, status=CREATE_STOPPED, expect_status=(CREATE_STOPPING,))
        self.ctx.store.finish_job(job.id, error="stopped or deleted before it finished")

    def _fail(self, job: Job, reason: str) -> None:
        self.ctx.store.update(
            job.resource_arn,
            status=CREATE_FAILED,
            attrs={"failureReason": reason},
            expect_status=(CREATE_PENDING, CREATE_IN_PROGRESS),
        )
        self.ctx.store.finish_job(job.id, error=reason)


class _Heartbeat:
    """Tells the job table this worker is alive while a handler runs."""

    def __init__(self, worker: Worker, job: Job) -> None:
        self.worker = worker
        self.job = job
        self.progress: float | None = None
        self._written = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{job.id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def set_progress(self, fraction: float) -> None:
        self.progress = max(0.0, min(1.0, fraction))
        now = time.time()
        if now - self._written >= PROGRESS_EVERY_SECONDS:  # show progress promptly, not only on beats
            self._written = now
            self.worker.ctx.store.heartbeat(self.job.id, self.worker.worker_id, now, self.progress)

    def _loop(self) -> None:
        interval = max(0.2, self.worker.settings.job_stale_seconds / 4)
        while not self._stop.wait(interval):
            try:
                self.worker.ctx.store.heartbeat(
                    self.job.id, self.worker.worker_id, time.time(), self.progress
                )
            except Exception:
                log.exception("heartbeat failed")
