"""Durable, append-only event log with group commit.

PutEvents, PutItems, PutUsers, PutActions and PutActionInteractions acknowledge a request only
once its records are on disk. One background flusher thread takes everything queued, writes it
with one ``write`` and one ``fdatasync``, then wakes every waiter (threads and asyncio tasks), so
the fsync cost is shared by all concurrent requests.

Directory layout (several processes may share one directory; each writes only its own files)::

    <writer>.lock                  flock held by the live process writing as <writer>
    <writer>.<first>.open          that writer's active segment (at most one)
    <writer>.<first>-<last>.log    sealed segments, ready for compaction into Parquet
    <writer>.hwm                   highest sequence number removed by compaction

A segment is an 8-byte magic followed by frames ``u32 length, u32 crc32, u64 seq, payload``
(little endian, payload = orjson). The crc covers payload, length and seq; sequence numbers are
dense and increasing per writer, starting at 1.

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
import contextlib
import fcntl
import logging
import os
import re
import struct
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import IO, Any, NamedTuple

import orjson

log = logging.getLogger(__name__)

MAGIC = b"OPEVLOG1"
MAX_RECORD_BYTES = 16 << 20
_FRAME = struct.Struct("<IIQ")  # payload length, crc32, sequence number
_CRC_TAIL = struct.Struct("<IQ")  # length and seq, folded into the crc after the payload
_WRITER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
_SEGMENT = re.compile(r"([A-Za-z0-9_-]{1,64})\.(\d{20})(?:-(\d{20}))?\.(open|log)\Z")
_READ_BUFFER = 1 << 20
_LOCK_WAIT_SECONDS = 2.0  # another process may hold our lock briefly while adopting our segments
_datasync = getattr(os, "fdatasync", os.fsync)


class EventLogError(Exception):
    """The event log cannot accept or return records."""


class CorruptSegmentError(EventLogError):
    """A segment holds a damaged frame where only acknowledged, durable data should be."""


class WriterInUseError(EventLogError):
    """Another live process (or EventLog object) is writing with this writer id."""


class LogPosition(NamedTuple):
    writer_id: str
    seq: int


@dataclass(frozen=True)
class EventLogStats:
    appends: int  # append calls committed
    records: int
    commits: int  # group commits: one write (and one fsync when enabled) each
    fsyncs: int  # data fsyncs of segment files
    bytes_written: int
    segments_created: int


@dataclass(frozen=True)
class _Segment:
    path: Path
    writer_id: str
    first_seq: int
    last_seq: int | None  # None while the segment is open

    @property
    def sealed(self) -> bool:
        return self.last_seq is not None


def _parse_segment(path: Path) -> _Segment | None:
    match = _SEGMENT.match(path.name)
    if match is None:
        return None
    writer, first, last, _kind = match.groups()
    return _Segment(path, writer, int(first), int(last) if last is not None else None)


def _list_segments(directory: Path, writer_id: str | None = None) -> list[_Segment]:
    segments = [s for s in map(_parse_segment, directory.iterdir()) if s is not None]
    if writer_id is not None:
        segments = [s for s in segments if s.writer_id == writer_id]
    return sorted(segments, key=lambda s: (s.writer_id, s.first_seq))


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _Scan:
    """Iterates the valid frames of one segment. After iteration, ``end`` is the byte offset past
    the last valid frame and ``problem`` says why scanning stopped early (None: clean end)."""

    def __init__(self, segment: _Segment, limit: int | None = None) -> None:
        self.segment = segment
        self._file: IO[bytes] = open(segment.path, "rb", buffering=_READ_BUFFER)  # noqa: SIM115
        self._limit = limit
        self.end = 0
        self.last_seq: int | None = None
        self.problem: str | None = None

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        f = self._file
        try:
            size = os.fstat(f.fileno()).st_size
            limit = size if self._limit is None else min(self._limit, size)
            if limit < len(MAGIC) or f.read(len(MAGIC)) != MAGIC:
                self.problem = "missing or invalid segment header"
                return
            offset = self.end = len(MAGIC)
            expected = self.segment.first_seq
            while offset < limit:
                if limit - offset < _FRAME.size:
                    self.problem = "truncated frame header"
                    return
                length, crc, seq = _FRAME.unpack(f.read(_FRAME.size))
                if length > MAX_RECORD_BYTES or limit - offset - _FRAME.size < length:
                    self.problem = "truncated or oversized frame"
                    return
                payload = f.read(length)
                if zlib.crc32(_CRC_TAIL.pack(length, seq), zlib.crc32(payload)) != crc:
                    self.problem = "checksum mismatch"
                    return
                if seq != expected:
                    self.problem = f"sequence number {seq}, expected {expected}"
                    return
                offset = self.end = offset + _FRAME.size + length
                self.last_seq, expected = seq, seq + 1
                yield seq, payload
        finally:
            f.close()

    def raise_if_damaged(self) -> None:
        if self.problem is not None:
            raise CorruptSegmentError(f"{self.segment.path}: {self.problem} at byte {self.end}")


def _open_scan(segment: _Segment, limit: int | None = None) -> _Scan | None:
    """Open a segment for reading, following a concurrent seal (rename); None if it was removed."""
    try:
        return _Scan(segment, limit)
    except FileNotFoundError:
        if segment.sealed:
            return None
    pattern = f"{segment.writer_id}.{segment.first_seq:020d}-*.log"
    for path in segment.path.parent.glob(pattern):
        sealed = _parse_segment(path)
        if sealed is not None:
            try:
                return _Scan(sealed, limit)
            except FileNotFoundError:
                return None
    return None


def _decode(scan: _Scan, floor: int) -> Iterator[tuple[LogPosition, dict[str, Any]]]:
    writer = scan.segment.writer_id
    for seq, payload in scan:
        if seq > floor:
            yield LogPosition(writer, seq), orjson.loads(payload)


def read_segment(path: Path) -> Iterator[tuple[LogPosition, dict[str, Any]]]:
    """All records of one sealed segment, for compaction; raises CorruptSegmentError on damage."""
    segment = _parse_segment(Path(path))
    if segment is None or not segment.sealed:
        raise ValueError(f"{path} is not a sealed event log segment")
    scan = _Scan(segment)
    yield from _decode(scan, 0)
    scan.raise_if_damaged()


def replay_directory(directory: Path) -> Iterator[tuple[LogPosition, dict[str, Any]]]:
    """Every record on disk in ``directory``, from any process, without becoming a writer.

    Ordered by writer then sequence number. A live writer's open segment is read up to its last
    complete frame (it may be mid-write); damage in a sealed segment raises CorruptSegmentError.
    """
    for segment in _list_segments(Path(directory)):
        scan = _open_scan(segment)
        if scan is None:
            continue
        yield from _decode(scan, 0)
        if scan.segment.sealed:
            scan.raise_if_damaged()
        elif scan.problem is not None:
            log.debug("stopped reading %s at byte %d: %s", segment.path, scan.end, scan.problem)


def list_sealed_segments(directory: Path) -> list[Path]:
    """Sealed segments of every writer in ``directory``, ordered by writer then sequence."""
    return [s.path for s in _list_segments(Path(directory)) if s.sealed]


def _hwm_path(directory: Path, writer_id: str) -> Path:
    return directory / f"{writer_id}.hwm"


def _read_hwm(directory: Path, writer_id: str) -> int:
    try:
        text = _hwm_path(directory, writer_id).read_text()
    except FileNotFoundError:
        return 0
    if not text.strip().isdigit():
        raise EventLogError(f"{_hwm_path(directory, writer_id)}: invalid high-water mark {text!r}")
    return int(text)


def remove_sealed_segments(directory: Path, paths: Iterable[Path], *, fsync: bool = True) -> None:
    """Delete sealed segments after their records were compacted elsewhere.

    The writer's high-water mark is saved first, so its sequence numbers never restart below
    records that were already handed out, even when all of its segments are gone.
    """
    directory = Path(directory)
    segments: list[_Segment] = []
    highest: dict[str, int] = {}
    for path in paths:
        segment = _parse_segment(Path(path))
        if segment is None or segment.last_seq is None or Path(path).parent.resolve() != directory.resolve():
            raise ValueError(f"{path} is not a sealed event log segment in {directory}")
        segments.append(segment)
        highest[segment.writer_id] = max(highest.get(segment.writer_id, 0), segment.last_seq)
    for writer_id, seq in highest.items():
        if seq > _read_hwm(directory, writer_id):
            tmp = directory / f".{writer_id}.hwm.{os.getpid()}.{threading.get_ident()}.tmp"
            with open(tmp, "w") as f:
                f.write(str(seq))
                f.flush()
                if fsync:
                    os.fsync(f.fileno())
            os.replace(tmp, _hwm_path(directory, writer_id))
    if highest and fsync:
        _fsync_dir(directory)
    for segment in segments:
        segment.path.unlink(missing_ok=True)
    if segments and fsync:
        _fsync_dir(directory)


class _ThreadWaiter:
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


class _FutureWaiter(NamedTuple):
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


_Waiter = _ThreadWaiter | _FutureWaiter


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


def _settle(items: Iterable[tuple[_Waiter, Any]], error: BaseException | None = None) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for waiter, value in items:
        if isinstance(waiter, _ThreadWaiter):
            waiter.settle(value, error)
        else:
            by_loop.setdefault(waiter.loop, []).append((waiter.future, value))
    for loop, futures in by_loop.items():  # one wake-up per event loop per commit
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody awaits these futures any more
            loop.call_soon_threadsafe(_settle_futures, futures, error)


class _Pending(NamedTuple):
    data: bytes  # encoded frames
    first_seq: int
    last_seq: int
    waiter: _Waiter


@dataclass
class _Active:
    path: Path
    first_seq: int
    last_seq: int
    size: int


def _encode(records: list[dict[str, Any]]) -> list[tuple[bytes, int]]:
    encoded = []
    for record in records:
        payload = orjson.dumps(record)
        if len(payload) > MAX_RECORD_BYTES:
            raise ValueError(f"record of {len(payload)} bytes exceeds {MAX_RECORD_BYTES} bytes")
        encoded.append((payload, zlib.crc32(payload)))
    return encoded


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
        self._seal_waiters: list[_ThreadWaiter] = []
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
        writers = {s.writer_id for s in _list_segments(self.directory) if not s.sealed}
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
        last_seq = _read_hwm(self.directory, writer_id)
        for segment in _list_segments(self.directory, writer_id):
            if not segment.sealed:
                segment = self._recover_open_segment(segment)
            if segment.last_seq is not None:
                last_seq = max(last_seq, segment.last_seq)
        return last_seq

    def _recover_open_segment(self, segment: _Segment) -> _Segment:
        scan = _Scan(segment)
        for _ in scan:
            pass
        if scan.last_seq is None:
            log.warning(
                "removing event log segment %s without complete records (%s)", segment.path, scan.problem
            )
            segment.path.unlink()
            if self._fsync:
                _fsync_dir(self.directory)
            return segment
        with open(segment.path, "r+b") as f:
            if scan.problem is not None:
                log.warning(
                    "truncating torn tail of %s at byte %d (%s)", segment.path, scan.end, scan.problem
                )
                f.truncate(scan.end)
            if self._fsync:  # the tail may exist only in the page cache of the dead process
                os.fsync(f.fileno())
        sealed = segment.path.with_name(
            f"{segment.writer_id}.{segment.first_seq:020d}-{scan.last_seq:020d}.log"
        )
        os.rename(segment.path, sealed)
        if self._fsync:
            _fsync_dir(self.directory)
        return _Segment(sealed, segment.writer_id, segment.first_seq, scan.last_seq)

    # -- appending -----------------------------------------------------------------------------

    def _check_writable(self) -> None:
        if self._failure is not None:
            raise EventLogError(f"event log is unusable after a write failure: {self._failure}")
        if self._closing:
            raise EventLogError("event log is closed")

    def _enqueue(self, encoded: list[tuple[bytes, int]], waiter: _Waiter) -> None:
        with self._cond:
            self._check_writable()
            first = seq = self._next_seq
            parts: list[bytes] = []
            for payload, payload_crc in encoded:
                length = len(payload)
                crc = zlib.crc32(_CRC_TAIL.pack(length, seq), payload_crc)
                parts += (_FRAME.pack(length, crc, seq), payload)
                seq += 1
            self._next_seq = seq
            self._queue.append(_Pending(b"".join(parts), first, seq - 1, waiter))
            self._cond.notify()

    def append(self, records: list[dict[str, Any]]) -> int:
        """Append records; return the last one's sequence number once all are durable."""
        if not records:
            with self._cond:
                self._check_writable()
                return self._durable_seq
        waiter = _ThreadWaiter()
        self._enqueue(_encode(records), waiter)
        result: int = waiter.wait()
        return result

    async def append_async(self, records: list[dict[str, Any]]) -> int:
        """Like append, but awaits durability without blocking the event loop."""
        if not records:
            return self.append(records)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._enqueue(_encode(records), _FutureWaiter(loop, future))
        return await future

    def seal(self) -> Path | None:
        """Seal the active segment (after flushing queued appends); None when there is none."""
        waiter = _ThreadWaiter()
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
            _settle((w, sealed) for w in seal_waiters)
            if closing:
                return

    def _fail(self, exc: BaseException, taken: list[tuple[_Waiter, Any]]) -> None:
        log.error("event log %s failed; reopen it to recover: %s", self.directory, exc)
        with self._cond:
            self._failure = exc
            taken += [(p.waiter, None) for p in self._queue] + [(w, None) for w in self._seal_waiters]
            self._queue, self._seal_waiters = [], []
        _settle(taken, exc)

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
        _settle((p.waiter, p.last_seq) for p in batch)

    def _create_segment(self, first_seq: int) -> _Active:
        path = self.directory / f"{self.writer_id}.{first_seq:020d}.open"
        with self._files_lock:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o644)
            try:
                _write_all(fd, MAGIC)
                if self._fsync:  # the header and the directory entry first, so the file survives a crash
                    _datasync(fd)
                    _fsync_dir(self.directory)
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
                _fsync_dir(self.directory)
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
            segments = _list_segments(self.directory)
            durable = self._durable
        for segment in segments:
            floor = floors.get(segment.writer_id, 0)
            if segment.last_seq is not None and segment.last_seq <= floor:
                continue
            own_active = durable is not None and segment.path == durable[0]
            scan = _open_scan(segment, durable[1] if durable is not None and own_active else None)
            if scan is None:
                continue  # compacted and removed meanwhile
            yield from _decode(scan, floor)
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
