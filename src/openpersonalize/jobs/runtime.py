"""What a job handler gets while it runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openpersonalize.control.context import Context
from openpersonalize.store.metadata import Job, Resource


@dataclass
class JobRun:
    ctx: Context
    job: Job
    resource: Resource
    # Report progress as a fraction in [0, 1]; shown as percent done where the API has room for it.
    progress: Callable[[float], None]


# A handler does the work and returns the attrs to merge into the resource when it becomes ACTIVE.
# It raises errors.DataError for bad input data (the message becomes the failureReason).
Handler = Callable[[JobRun], dict[str, Any]]


class JobStopped(Exception):
    """Raised by a handler that saw its resource move to CREATE STOPPING: it ends CREATE STOPPED."""
