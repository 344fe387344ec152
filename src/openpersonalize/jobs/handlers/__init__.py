"""One module per job type; HANDLERS maps a job kind to its run function."""

from __future__ import annotations

from collections.abc import Callable

from openpersonalize.jobs import job_serving
from openpersonalize.jobs.handlers import (
    batch_inference,
    batch_segment,
    data_deletion,
    dataset_export,
    dataset_import,
    train,
)
from openpersonalize.jobs.runtime import Handler, JobRun

HANDLERS: dict[str, Handler] = {
    dataset_import.JOB_KIND: dataset_import.run,
    dataset_export.JOB_KIND: dataset_export.run,
    data_deletion.JOB_KIND: data_deletion.run,
    train.JOB_KIND: train.run,
    batch_inference.JOB_KIND: batch_inference.run,
    batch_segment.JOB_KIND: batch_segment.run,
}

# Parts of another resource's job (jobs/parts.py): run by any worker, they change no status.
PART_HANDLERS: dict[str, Callable[[JobRun], None]] = {
    batch_inference.PART_KIND: batch_inference.run_part,
    batch_segment.PART_KIND: batch_segment.run_part,
}

# Called by a worker that found nothing to do: what a handler keeps between parts can go.
IDLE_HOOKS: list[Callable[[], None]] = [job_serving.forget]
