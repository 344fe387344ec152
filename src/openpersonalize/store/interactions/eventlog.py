"""Durable, append-only event log with group commit.

PutEvents, PutItems, PutUsers, PutActions and PutActionInteractions acknowledge a request only
once its records are on disk. One background flusher thread takes everything queued, writes it
with one ``write`` and one ``fdatasync``, then wakes every waiter (threads and asyncio tasks), so
the fsync cost is shared by all concurrent requests.

Segment files, their layout and frame format are described in segments.py.

Crash recovery: opening a log recovers the ``.open`` segments of its own writer and of every
writer whose lock is free (a dead process): the tail after the last valid frame is truncated
(a crash mid-write leaves a torn frame; none of it was acknowledged), the file is fsync'd and
sealed. Records written but not yet acknowledged when the process died may survive, so delivery
is at-least-once: consumers deduplicate on eventId where it matters.

Corruption policy: a bad frame inside a sealed segment, or inside the durable part of our own
active segment, raises ``CorruptSegmentError`` naming the file and byte offset; acknowledged
data is never skipped silently. A bad frame in another live writer's ``.open`` segment ends the
replay of that segment (it may be mid-write). An I/O error while writing makes the log unusable
(after a failed fsync the page cache state is unknown); the process must reopen it to recover.

POSIX only (fcntl.flock). Run one compactor per directory at a time.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any, NamedTuple

from openpersonalize.store.interactions.commit_waiters import FutureWaiter, ThreadWaiter, Waiter, settle
from openpersonalize.store.interactions.segments import (
    MAGIC,
    MAX_RECORD_BYTES,
    CorruptSegmentError,
    EventLogError,
    LogPosition,
    decode_records,
    encode_payloads,
    frame_payloads,
    fsync_dir,
    list_sealed_segments,
    list_segments,
    open_scan,
    read_hwm,
    read_segment,
    remove_sealed_segments,
    replay_directory,
    seal_open_segment,
)

__all__ = [
    "MAGIC",
    "MAX_RECORD_BYTES",
    "CorruptSegmentError",
    "EventLog",
    "EventLogError",
    "EventLogStats",
    "LogPosition",
    "WriterInUseError",
    "list_sealed_segments",
    "read_segment",
    "remove_sealed_segments",
    "replay_directory",
]

log = logging.getLogger(__name__)

_WRITER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
_LOCK_WAIT_SECONDS = 2.0  # another process may hold our lock briefly while adopting our segments
_datasync = getattr(os, "fdatasync", os.fsync)


class WriterInUseError(EventLogError):
    """Another live process (or EventLog object) is writing with this writer id."""


@dataclass(frozen=True)
class EventLogStats:
    appends: int  # append calls committed
    records: int
    commits: int  # group commits: one write (and one fsync when enabled) each
    fsyncs: int  # data fsyncs of segment files
    bytes_written: int
    segments_created: int


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _Pending(NamedTuple):
    data: bytes  # encoded frames
    first_seq: int
    last_seq: int
    waiter: Waiter


@dataclass
class _Active:
    path: Path
    first_seq: int
    last_seq: int
    size: int


class EventLog:
    """Append-only, crash-safe record log of one writer; replay sees every writer in the directory."""

    def __init__(
        self,
        directory: Path,
        *,
        writer_id: str | None = None,
        segment_bytes: int = 64 << 20,
        fsync: bool = True,
    ) -> None:
        if segment_bytes <= len(MAGIC):
            raise ValueError(f"segment_bytes must exceed {len(MAGIC)}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._segment_bytes = segment_bytes
        self._fsync = fsync
        self.writer_id, self._lock_fd = self._acquire_writer_id(writer_id)
        try:
            self._adopt_orphans()
            last_seq = self._recover_writer(self.writer_id)
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._seal_waiters: list[ThreadWaiter] = []
        self._next_seq = last_seq + 1
        self._durable_seq = last_seq
        self._closing = False
        self._closed = False
        self._failure: BaseException | None = None
        # Guards segment creation/sealing against replay's directory snapshot; never held during I/O
        # of appends, so readers never wait for an fsync.
        self._files_lock = threading.Lock()
        self._fd = -1
        self._active: _Active | None = None
        self._durable: tuple[Path, int] | None = None  # active segment and its durable size
        self._counts = {"appends": 0, "records": 0, "commits": 0, "fsyncs": 0, "bytes": 0, "segments": 0}
        self._flusher = threading.Thread(
            target=self._run_flusher, name=f"eventlog-{self.writer_id}", daemon=True
        )
        self._flusher.start()

    # -- writer identity and recovery --------------------------------------------------------

    def _try_lock(self, writer_id: str, wait: float) -> int | None:
        fd = os.open(self.directory / f"{writer_id}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return None
                time.sleep(0.02)

    def _acquire_writer_id(self, writer_id: str | None) -> tuple[str, int]:
        if writer_id is not None:
            if not _WRITER_ID.match(writer_id):
                raise ValueError(f"writer_id {writer_id!r} must match [A-Za-z0-9_-]{{1,64}}")
            fd = self._try_lock(writer_id, _LOCK_WAIT_SECONDS)
            if fd is None:
                raise WriterInUseError(f"writer id {writer_id!r} is in use in {self.directory}")
            return writer_id, fd
        for slot in count():  # stable ids w0, w1, ...: a restarted process reuses a free slot
            fd = self._try_lock(f"w{slot}", 0)
            if fd is not None:
                return f"w{slot}", fd
        raise AssertionError("unreachable")

    def _adopt_orphans(self) -> None:
        """Recover the open segments of writers whose process died, so they can be compacted."""
        writers = {s.writer_id for s in list_segments(self.directory) if not s.sealed}
        for writer_id in sorted(writers - {self.writer_id}):
            fd = self._try_lock(writer_id, 0)
            if fd is None:
                continue  # alive
            try:
                self._recover_writer(writer_id)
            finally:
                os.close(fd)

    def _recover_writer(self, writer_id: str) -> int:
        """Seal the writer's open segments (truncating torn tails); return its last sequence number."""
        last_seq = read_hwm(self.directory, writer_id)
        for segment in list_segments(self.directory, writer_id):
            if not segment.sealed:
                segment = seal_open_segment(segment, fsync=self._fsync)
            if segment.last_seq is not None:
                last_seq = max(last_seq, segment.last_seq)
        return last_seq

    # -- appending -----------------------------------------------------------------------------

    def _check_writable(self) -> None:
        if self._failure is not None:
            raise EventLogError(f"event log is unusable after a write failure: {self._failure}")
        if self._closing:
            raise EventLogError("event log is closed")

    def _enqueue(self, encoded: list[tuple[bytes, int]], waiter: Waiter) -> None:
        with self._cond:
            self._check_writable()
            first = self._next_seq
            self._next_seq = first + len(encoded)
            self._queue.append(_Pending(frame_payloads(encoded, first), first, self._next_seq - 1, waiter))
            self._cond.notify()

    def append(self, records: list[dict[str, Any]]) -> int:
        """Append records; return the last one's sequence number once all are durable."""
        if not records:
            with self._cond:
                self._check_writable()
                return self._durable_seq
        waiter = ThreadWaiter()
        self._enqueue(encode_payloads(records), waiter)
        result: int = waiter.wait()
        return result

    async def append_async(self, records: list[dict[str, Any]]) -> int:
        """Like append, but awaits durability without blocking the event loop."""
        if not records:
            return self.append(records)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._enqueue(encode_payloads(records), FutureWaiter(loop, future))
        return await future

    def seal(self) -> Path | None:
        """Seal the active segment (after flushing queued appends); None when there is none."""
        waiter = ThreadWaiter()
        with self._cond:
            self._check_writable()
            self._seal_waiters.append(waiter)
            self._cond.notify()
        sealed: Path | None = waiter.wait()
        return sealed

    # -- the flusher thread --------------------------------------------------------------------

    def _run_flusher(self) -> None:
        while True:
            with self._cond:
                while not (self._queue or self._seal_waiters or self._closing):
                    self._cond.wait()
                batch, self._queue = self._queue, []
                seal_waiters, self._seal_waiters = self._seal_waiters, []
                closing = self._closing
            try:
                if batch:
                    self._commit(batch)
                sealed = self._seal_active() if seal_waiters or closing else None
            except BaseException as exc:  # nobody may be left waiting, whatever went wrong
                if not isinstance(exc, OSError):
                    log.exception("event log flusher crashed")
                self._fail(exc, [*((p.waiter, None) for p in batch), *((w, None) for w in seal_waiters)])
                return
            settle((w, sealed) for w in seal_waiters)
            if closing:
                return

    def _fail(self, exc: BaseException, taken: list[tuple[Waiter, Any]]) -> None:
        log.error("event log %s failed; reopen it to recover: %s", self.directory, exc)
        with self._cond:
            self._failure = exc
            taken += [(p.waiter, None) for p in self._queue] + [(w, None) for w in self._seal_waiters]
            self._queue, self._seal_waiters = [], []
        settle(taken, exc)

    def _commit(self, batch: list[_Pending]) -> None:
        data = batch[0].data if len(batch) == 1 else b"".join(p.data for p in batch)
        active = self._active
        if active is not None and active.size + len(data) > self._segment_bytes:
            self._seal_active()
            active = None
        if active is None:
            active = self._create_segment(batch[0].first_seq)
        _write_all(self._fd, data)
        if self._fsync:
            _datasync(self._fd)
            self._counts["fsyncs"] += 1
        active.size += len(data)
        active.last_seq = batch[-1].last_seq
        self._durable = (active.path, active.size)
        self._durable_seq = active.last_seq
        counts = self._counts
        counts["appends"] += len(batch)
        counts["records"] += active.last_seq - batch[0].first_seq + 1
        counts["commits"] += 1
        counts["bytes"] += len(data)
        settle((p.waiter, p.last_seq) for p in batch)

    def _create_segment(self, first_seq: int) -> _Active:
        path = self.directory / f"{self.writer_id}.{first_seq:020d}.open"
        with self._files_lock:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o644)
            try:
                _write_all(fd, MAGIC)
                if self._fsync:  # the header and the directory entry first, so the file survives a crash
                    _datasync(fd)
                    fsync_dir(self.directory)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            self._active = _Active(path, first_seq, first_seq - 1, len(MAGIC))
            self._durable = (path, len(MAGIC))
        self._counts["segments"] += 1
        return self._active

    def _seal_active(self) -> Path | None:
        active = self._active
        if active is None:
            return None
        sealed = active.path.with_name(f"{self.writer_id}.{active.first_seq:020d}-{active.last_seq:020d}.log")
        with self._files_lock:
            os.close(self._fd)  # its data was fsync'd by the commit that wrote it
            self._fd = -1
            self._active = self._durable = None
            os.rename(active.path, sealed)
            if self._fsync:
                fsync_dir(self.directory)
        return sealed

    # -- reading and maintenance ---------------------------------------------------------------

    def replay(
        self, since: LogPosition | Mapping[str, int] | None = None
    ) -> Iterator[tuple[LogPosition, dict[str, Any]]]:
        """Every durable record, ordered by writer id then sequence number.

        ``since`` skips records at or before a position: a LogPosition applies to its writer
        only; a mapping writer_id -> seq resumes several writers. Records appended while the
        replay runs may or may not be included.
        """
        floors = {since.writer_id: since.seq} if isinstance(since, LogPosition) else dict(since or {})
        with self._files_lock:
            segments = list_segments(self.directory)
            durable = self._durable
        for segment in segments:
            floor = floors.get(segment.writer_id, 0)
            if segment.last_seq is not None and segment.last_seq <= floor:
                continue
            own_active = durable is not None and segment.path == durable[0]
            scan = open_scan(segment, durable[1] if durable is not None and own_active else None)
            if scan is None:
                continue  # compacted and removed meanwhile
            yield from decode_records(scan, floor)
            if own_active or scan.segment.sealed:
                scan.raise_if_damaged()
            elif scan.problem is not None:
                log.debug("stopped reading %s at byte %d: %s", segment.path, scan.end, scan.problem)

    def sealed_segments(self) -> list[Path]:
        return list_sealed_segments(self.directory)

    def remove_segments(self, paths: Iterable[Path]) -> None:
        remove_sealed_segments(self.directory, paths, fsync=self._fsync)

    @property
    def stats(self) -> EventLogStats:
        c = self._counts
        return EventLogStats(c["appends"], c["records"], c["commits"], c["fsyncs"], c["bytes"], c["segments"])

    @property
    def last_durable_seq(self) -> int:
        return self._durable_seq

    def close(self) -> None:
        """Flush queued appends, seal the active segment and release the writer id."""
        with self._cond:
            if self._closed:
                return
            self._closed = self._closing = True
            self._cond.notify()
        self._flusher.join()
        if self._fd >= 0:  # only after a write failure: the segment stays open for recovery
            os.close(self._fd)
            self._fd = -1
        os.close(self._lock_fd)

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
