"""How much memory a job may use, how much it used, and how to say it ran out.

A worker's jobs share one limit: `job_memory_limit_megabytes`, or by default 90% of the memory
the worker may use (the machine's, or its cgroup's when lower). The heartbeat samples the
worker's resident memory several times a second and records the job's peak; a job that passes
the limit is failed as out of memory rather than left for the kernel to kill the worker. A worker
that dies anyway while its job's recorded peak was near the limit was almost surely killed for
lack of memory: its job fails with the same reason instead of being retried into the same end.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from openpersonalize.settings import Settings

LIMIT_SHARE = 0.9
# A worker that vanished with its job's peak at this share of the limit or more ran out of memory.
DIED_NEAR_LIMIT = 0.75
_CGROUP_LIMITS = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))


def available_bytes() -> int:
    """The memory this process may use: physical memory, or its cgroup's limit when lower."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in _CGROUP_LIMITS:
        with contextlib.suppress(OSError, ValueError):
            physical = min(physical, int(path.read_text().strip()))
    return physical


def limit_bytes(settings: Settings) -> int:
    if settings.job_memory_limit_megabytes > 0:
        return settings.job_memory_limit_megabytes << 20
    return int(available_bytes() * LIMIT_SHARE)


def resident_bytes() -> int:
    """This process's resident memory now (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def gigabytes(count: int) -> str:
    return f"{count / 2**30:.1f} GB" if count >= 2**30 else f"{count / 2**20:.0f} MB"


def out_of_memory_reason(peak: int, limit: int) -> str:
    return (
        f"The job ran out of memory: its worker used {gigabytes(peak)} at the peak, and the limit is "
        f"{gigabytes(limit)} (OPENPERSONALIZE_JOB_MEMORY_LIMIT_MEGABYTES). Give the worker more memory, "
        "or train on less data (for example fewer items, or an eventType / eventValueThreshold)."
    )


def died_of_memory(peak: int | None, limit: int | None) -> bool:
    return bool(peak and limit and peak >= DIED_NEAR_LIMIT * limit)
