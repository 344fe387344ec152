"""The worker loop: claim a job, move its resource through the lifecycle, recover crashed jobs.

CREATE PENDING -> CREATE IN_PROGRESS -> ACTIVE | CREATE FAILED (failureReason). Failures are told
apart by what a second try could change:
- bad data, a refused path, a bug: the job fails at once with a plain failureReason;
- a lost connection, a timeout, a busy database or object store: retried with a short backoff;
- a worker that stops sending heartbeats (crash, kill -9) is retried up to job_max_attempts times,
  unless it died with its job's memory near the limit (jobs/memory.py): that job ran out of memory.
Nothing stays IN_PROGRESS forever.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable

import botocore.exceptions
import sqlalchemy.exc

from openpersonalize.control.context import Context
from openpersonalize.control.lifecycle import (
    ACTIVE,
    CREATE_FAILED,
    CREATE_IN_PROGRESS,
    CREATE_PENDING,
    CREATE_STOPPED,
    CREATE_STOPPING,
)
from openpersonalize.data.event_compaction import COMPACTION_JOB, CompactionReport, compact_event_log
from openpersonalize.errors import DataError
from openpersonalize.jobs import memory
from openpersonalize.jobs.handlers import HANDLERS, IDLE_HOOKS, PART_HANDLERS
from openpersonalize.jobs.runtime import JobRun, JobStopped
from openpersonalize.jobs.scheduler import run_due_retrainings, run_due_trainings
from openpersonalize.recipes.threads import configure as configure_training_threads
from openpersonalize.store.metadata import Job

log = logging.getLogger(__name__)
RETRY_DELAY_SECONDS = 1.0
PROGRESS_EVERY_SECONDS = 1.0
MEMORY_SAMPLE_SECONDS = 0.2
# Exit status of a worker process that ended itself because a job passed the memory limit.
EXIT_OUT_OF_MEMORY = 75
_THROTTLED = {"Throttling", "ThrottlingException", "SlowDown", "RequestTimeout", "ServiceUnavailable"}


class JobOutOfMemory(Exception):
    """Raised into a handler (at its next progress report) once its job passed the memory limit."""


class Worker:
    def __init__(
        self, ctx: Context, worker_id: str | None = None, *, exit_on_memory_limit: bool = False
    ) -> None:
        self.ctx = ctx
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.settings = ctx.settings
        self.memory_limit = memory.limit_bytes(ctx.settings)
        # A worker process of its own ends when a job passes the limit: the handler cannot be
        # interrupted, and only the process's end gives its memory back (serve restarts it).
        self.exit_on_memory_limit = exit_on_memory_limit
        self._last_recovery = 0.0
        self._last_schedule = 0.0
        self._last_compaction = 0.0
        self._compaction_failed = True  # until a run says otherwise (clears an earlier failure)
        configure_training_threads(self.settings.training_threads)

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
            run_due_retrainings(self.ctx, now)
        if now - self._last_compaction > self.settings.compaction_seconds:
            self._last_compaction = now
            self.compact()
        job = self.ctx.store.claim_job(self.worker_id, time.time())
        if job is None:
            for hook in IDLE_HOOKS:
                hook()
            return False
        self._run(job)
        return True

    def compact(self) -> CompactionReport:
        """Move sealed event-log segments into Parquet parts (a no-op where another worker is at it).

        The outcome is kept as a job row (`openpersonalize jobs`, the server's /metrics): failed,
        naming each skipped segment and why, until a run compacts everything again.
        """
        ctx = self.ctx
        report = compact_event_log(ctx.store, ctx.interactions)
        if report.moved:
            log.info("compacted %d event records into Parquet", report.moved)
        if report.compacted or report.skipped or self._compaction_failed:
            error = None
            if report.skipped:
                listed = "; ".join(f"{name}: {why}" for name, why in report.skipped.items())
                error = f"{len(report.skipped)} event-log segment(s) could not be compacted: {listed}"
            payload = {"moved": report.moved, "compacted": report.compacted, "skipped": report.skipped}
            ctx.store.record_outcome(
                COMPACTION_JOB, ctx.interactions.name, error=error, payload=payload, now=time.time()
            )
            self._compaction_failed = bool(report.skipped)
        return report

    def recover_stale(self) -> None:
        for job in self.ctx.store.stale_jobs(time.time() - self.settings.job_stale_seconds):
            if memory.died_of_memory(job.memory_peak, job.memory_limit):
                assert job.memory_peak is not None and job.memory_limit is not None
                log.warning("job %s (%s) died with its worker near the memory limit", job.id, job.kind)
                self._fail(job, memory.out_of_memory_reason(job.memory_peak, job.memory_limit))
            elif job.attempts < self.settings.job_max_attempts:
                log.warning("job %s (%s) lost its worker %s; retrying", job.id, job.kind, job.worker_id)
                self.ctx.store.requeue_job(job.id, time.time())
            else:
                reason = f"The job was interrupted {job.attempts} times (its worker stopped); giving up."
                self._fail(job, reason)

    def _run(self, job: Job) -> None:
        if job.kind in PART_HANDLERS:
            self._run_part(job)
            return
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
        beat = _Heartbeat(self, job, self._out_of_memory)
        beat.start()
        try:
            attrs = handler(JobRun(self.ctx, job, resource, beat.set_progress))
        except DataError as exc:
            self._fail(job, str(exc))
            return
        except JobStopped:
            self._stopped(job)
            return
        except (MemoryError, JobOutOfMemory):
            peak = max(beat.peak, memory.resident_bytes())
            self._fail(job, memory.out_of_memory_reason(peak, self.memory_limit))
            return
        except Exception as exc:
            self._failed_unexpectedly(job, exc)
            return
        finally:
            beat.stop()
        if beat.out_of_memory.is_set():
            return  # failed by the watchdog already; what the handler made is not published
        done = self.ctx.store.update(
            job.resource_arn, status=ACTIVE, attrs=attrs, expect_status=(CREATE_IN_PROGRESS,)
        )
        if done is None:  # stopped (or deleted) while finishing
            self._stopped(job)
            return
        self.ctx.store.finish_job(job.id)

    def _run_part(self, job: Job) -> None:
        """A part of another job (jobs/parts.py): its outcome is the job row's; no status changes."""
        resource = self.ctx.store.get(job.resource_arn)
        if resource is None or resource.status != CREATE_IN_PROGRESS:
            self.ctx.store.finish_job(job.id, error="its job is no longer in progress")
            return
        beat = _Heartbeat(self, job, self._out_of_memory)
        beat.start()
        try:
            PART_HANDLERS[job.kind](JobRun(self.ctx, job, resource, beat.set_progress))
        except DataError as exc:
            self.ctx.store.finish_job(job.id, error=str(exc))
            return
        except (MemoryError, JobOutOfMemory):
            peak = max(beat.peak, memory.resident_bytes())
            self.ctx.store.finish_job(job.id, error=memory.out_of_memory_reason(peak, self.memory_limit))
            return
        except Exception as exc:
            log.error("job %s failed: %s", job.id, traceback.format_exc())
            if _transient(exc) and job.attempts < self.settings.job_max_attempts:
                self.ctx.store.requeue_job(job.id, time.time() + RETRY_DELAY_SECONDS * job.attempts)
            else:
                self.ctx.store.finish_job(job.id, error=_plain_reason(exc))
            return
        finally:
            beat.stop()
        if not beat.out_of_memory.is_set():
            self.ctx.store.finish_job(job.id)

    def _stopped(self, job: Job) -> None:
        """The resource was stopped (CREATE STOPPING ends as CREATE STOPPED) or deleted: drop the job."""
        self.ctx.store.update(job.resource_arn, status=CREATE_STOPPED, expect_status=(CREATE_STOPPING,))
        self.ctx.store.finish_job(job.id, error="stopped or deleted before it finished")

    def _failed_unexpectedly(self, job: Job, exc: Exception) -> None:
        log.error("job %s failed: %s", job.id, traceback.format_exc())
        if _transient(exc) and job.attempts < self.settings.job_max_attempts:
            self.ctx.store.requeue_job(job.id, time.time() + RETRY_DELAY_SECONDS * job.attempts)
            self.ctx.store.update(
                job.resource_arn, status=CREATE_PENDING, expect_status=(CREATE_IN_PROGRESS,)
            )
        else:
            self._fail(job, _plain_reason(exc))

    def _out_of_memory(self, job: Job, peak: int) -> None:
        """Called by the heartbeat when the job's memory passes the limit."""
        log.error(
            "job %s used %s, over the %s limit",
            job.id,
            memory.gigabytes(peak),
            memory.gigabytes(self.memory_limit),
        )
        self._fail(job, memory.out_of_memory_reason(peak, self.memory_limit))
        if self.exit_on_memory_limit:
            logging.shutdown()
            os._exit(EXIT_OUT_OF_MEMORY)

    def _fail(self, job: Job, reason: str) -> None:
        self.ctx.store.update(
            job.resource_arn,
            status=CREATE_FAILED,
            attrs={"failureReason": reason},
            expect_status=(CREATE_PENDING, CREATE_IN_PROGRESS),
        )
        self.ctx.store.finish_job(job.id, error=reason)


class _Heartbeat:
    """Tells the job table this worker is alive while a handler runs, and watches its memory."""

    def __init__(self, worker: Worker, job: Job, on_out_of_memory: Callable[[Job, int], None]) -> None:
        self.worker = worker
        self.job = job
        self.progress: float | None = None
        self.peak = memory.resident_bytes()
        self.out_of_memory = threading.Event()
        self._on_out_of_memory = on_out_of_memory
        self._written = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{job.id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def set_progress(self, fraction: float) -> None:
        if self.out_of_memory.is_set():
            raise JobOutOfMemory()
        self.progress = max(0.0, min(1.0, fraction))
        now = time.time()
        if now - self._written >= PROGRESS_EVERY_SECONDS:  # show progress promptly, not only on beats
            self._beat(now)

    def _beat(self, now: float) -> None:
        self._written = now
        self.worker.ctx.store.heartbeat(
            self.job.id,
            self.worker.worker_id,
            now,
            self.progress,
            memory_peak=self.peak,
            memory_limit=self.worker.memory_limit,
        )

    def _loop(self) -> None:
        interval = max(0.2, self.worker.settings.job_stale_seconds / 4)
        last_beat = time.monotonic()
        while not self._stop.wait(MEMORY_SAMPLE_SECONDS):
            resident = memory.resident_bytes()
            grew = resident > self.peak * 1.1  # a steep climb is recorded at once: the kernel may be next
            self.peak = max(self.peak, resident)
            if resident > self.worker.memory_limit and not self.out_of_memory.is_set():
                self.out_of_memory.set()
                self._on_out_of_memory(self.job, self.peak)
            if grew or time.monotonic() - last_beat >= interval:
                last_beat = time.monotonic()
                try:
                    self._beat(time.time())
                except Exception:
                    log.exception("heartbeat failed")


def _transient(exc: BaseException) -> bool:
    """True for failures a second try may not meet: lost connections, timeouts, a busy service."""
    if isinstance(exc, ConnectionError | TimeoutError | botocore.exceptions.ConnectionError):
        return True
    if isinstance(exc, sqlalchemy.exc.OperationalError):
        return True  # connection lost, database locked or restarting
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        return status >= 500 or error.get("Code") in _THROTTLED
    return False


def _plain_reason(exc: BaseException) -> str:
    """A failureReason for an unexpected error: its kind and its first line, kept short."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}."
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    detail = f": {first_line[:200]}" if first_line else ""
    return f"Internal error: {type(exc).__name__}{detail} (the worker's log has the details)."
