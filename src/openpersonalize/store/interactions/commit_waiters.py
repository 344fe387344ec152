"""How the event log's flusher thread wakes whoever waits on a group commit.

Threads block on an Event; asyncio tasks await a future that is resolved on its own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterable
from typing import Any, NamedTuple

from openpersonalize.store.interactions.segments import EventLogError


class ThreadWaiter:
    """A blocked thread; ``wait`` returns the committed value or raises the write failure."""

    __slots__ = ("_event", "value", "error")

    def __init__(self) -> None:
        self._event = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None

    def settle(self, value: Any, error: BaseException | None) -> None:
        self.value, self.error = value, error
        self._event.set()

    def wait(self) -> Any:
        self._event.wait()
        if self.error is not None:
            raise EventLogError(f"event log write failed: {self.error}") from self.error
        return self.value


class FutureWaiter(NamedTuple):
    """An asyncio task awaiting ``future``, which only ``loop`` may resolve."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


Waiter = ThreadWaiter | FutureWaiter


def _settle_futures(items: list[tuple[asyncio.Future[Any], Any]], error: BaseException | None) -> None:
    for future, value in items:
        if future.done():  # the awaiting task was cancelled
            continue
        if error is None:
            future.set_result(value)
        else:
            exc = EventLogError(f"event log write failed: {error}")
            exc.__cause__ = error
            future.set_exception(exc)


def settle(items: Iterable[tuple[Waiter, Any]], error: BaseException | None = None) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for waiter, value in items:
        if isinstance(waiter, ThreadWaiter):
            waiter.settle(value, error)
        else:
            by_loop.setdefault(waiter.loop, []).append((waiter.future, value))
    for loop, futures in by_loop.items():  # one wake-up per event loop per commit
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody awaits these futures any more
            loop.call_soon_threadsafe(_settle_futures, futures, error)
