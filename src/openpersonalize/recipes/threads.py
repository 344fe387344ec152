"""Bound the BLAS thread pool during training so a worker does not oversubscribe its machine."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

_configured = 0


def configure(threads: int) -> None:
    """Set once by the worker from its training_threads setting (0: every CPU it may use)."""
    global _configured
    _configured = max(0, threads)


def default_training_threads() -> int:
    """The configured number of training threads if set, else the CPUs this process may use."""
    if _configured > 0:
        return _configured
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def blas_threads(limit: int | None = None) -> Iterator[None]:
    """Limit BLAS/OpenMP threads inside the block (no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=limit or default_training_threads()):
        yield
