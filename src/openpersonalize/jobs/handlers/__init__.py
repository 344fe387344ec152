"""One module per job type; HANDLERS maps a job kind to its run function."""

from __future__ import annotations

from openpersonalize.jobs.handlers import dataset_import, train
from openpersonalize.jobs.runtime import Handler

HANDLERS: dict[str, Handler] = {
    dataset_import.JOB_KIND: dataset_import.run,
    train.JOB_KIND: train.run,
}
