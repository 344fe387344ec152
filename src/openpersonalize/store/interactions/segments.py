"""Event log segment files: naming, framing, scanning, reading and removal (see eventlog.py).

Directory layout (several processes may share one directory; each writes only its own files)::

    <writer>.lock                  flock held by the live process writing as <writer>
    <writer>.<first>.open          that writer's active segment (at most one)
    <writer>.<first>-<last>.log    sealed segments, ready for compaction into Parquet
    <writer>.hwm                   highest sequence number removed by compaction

A segment is an 8-byte magic followed by frames ``u32 length, u32 crc32, u64 seq, payload``
(little endian, payload = orjson). The crc covers payload, length and seq; sequence numbers are
dense and increasing per writer, starting at 1.

Everything here works on files alone, so readers (replay, compaction) need not be writers.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import threading
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

import orjson

log = logging.getLogger(__name__)

MAGIC = b"OPEVLOG1"
MAX_RECORD_BYTES = 16 << 20
_FRAME = struct.Struct("<IIQ")  # payload length, crc32, sequence number
_CRC_TAIL = struct.Struct("<IQ")  # length and seq, folded into the crc after the payload
_SEGMENT = re.compile(r"([A-Za-z0-9_-]{1,64})\.(\d{20})(?:-(\d{20}))?\.(open|log)\Z")
_READ_BUFFER = 1 << 20


class EventLogError(Exception):
    """The event log cannot accept or return records."""


class CorruptSegmentError(EventLogError):
    """A segment holds a damaged frame where only acknowledged, durable data should be."""


class LogPosition(NamedTuple):
    writer_id: str
    seq: int


@dataclass(frozen=True)
class Segment:
    path: Path
    writer_id: str
    first_seq: int
    last_seq: int | None  # None while the segment is open

    @property
    def sealed(self) -> bool:
        return self.last_seq is not None


def parse_segment(path: Path) -> Segment | None:
    match = _SEGMENT.match(path.name)
    if match is None:
        return None
    writer, first, last, _kind = match.groups()
    return Segment(path, writer, int(first), int(last) if last is not None else None)


def list_segments(directory: Path, writer_id: str | None = None) -> list[Segment]:
    segments = [s for s in map(parse_segment, directory.iterdir()) if s is not None]
    if writer_id is not None:
        segments = [s for s in segments if s.writer_id == writer_id]
    return sorted(segments, key=lambda s: (s.writer_id, s.first_seq))


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def encode_payloads(records: list[dict[str, Any]]) -> list[tuple[bytes, int]]:
    """Each record's payload and its crc32; done outside the writer's lock, it is the costly part."""
    encoded = []
    for record in records:
        payload = orjson.dumps(record)
        if len(payload) > MAX_RECORD_BYTES:
            raise ValueError(f"record of {len(payload)} bytes exceeds {MAX_RECORD_BYTES} bytes")
        encoded.append((payload, zlib.crc32(payload)))
    return encoded


def frame_payloads(encoded: list[tuple[bytes, int]], first_seq: int) -> bytes:
    """The frames of ``encoded`` payloads, numbered from ``first_seq``."""
    seq = first_seq
    parts: list[bytes] = []
    for payload, payload_crc in encoded:
        length = len(payload)
        crc = zlib.crc32(_CRC_TAIL.pack(length, seq), payload_crc)
        parts += (_FRAME.pack(length, crc, seq), payload)
        seq += 1
    return b"".join(parts)


class Scan:
    """Iterates the valid frames of one segment. After iteration, ``end`` is the byte offset past
    the last valid frame and ``problem`` says why scanning stopped early (None: clean end)."""

    def __init__(
        self, segment: Segment, limit: int | None = None, resume: tuple[int, int] | None = None
    ) -> None:
        self.segment = segment
        self._file: IO[bytes] = open(segment.path, "rb", buffering=_READ_BUFFER)  # noqa: SIM115
        self._limit = limit
        # (byte offset, next sequence number) where an earlier scan of this segment stopped.
        self._resume = resume
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
            if self._resume is not None and self._resume[0] > offset:
                offset = self.end = self._resume[0]
                expected = self._resume[1]
                f.seek(offset)
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


def open_scan(
    segment: Segment, limit: int | None = None, resume: tuple[int, int] | None = None
) -> Scan | None:
    """Open a segment for reading, following a concurrent seal (rename); None if it was removed."""
    try:
        return Scan(segment, limit, resume)
    except FileNotFoundError:
        if segment.sealed:
            return None
    pattern = f"{segment.writer_id}.{segment.first_seq:020d}-*.log"
    for path in segment.path.parent.glob(pattern):
        sealed = parse_segment(path)
        if sealed is not None:
            try:
                return Scan(sealed, limit, resume)
            except FileNotFoundError:
                return None
    return None


def decode_records(scan: Scan, floor: int) -> Iterator[tuple[LogPosition, dict[str, Any]]]:
    writer = scan.segment.writer_id
    for seq, payload in scan:
        if seq > floor:
            yield LogPosition(writer, seq), orjson.loads(payload)


def seal_open_segment(segment: Segment, *, fsync: bool = True) -> Segment:
    """Recover a dead writer's open segment: truncate its torn tail, fsync and seal it.

    A segment without one complete record is removed (then the result names the removed file).
    The caller must hold the writer's lock.
    """
    scan = Scan(segment)
    for _ in scan:
        pass
    if scan.last_seq is None:
        log.warning("removing event log segment %s without complete records (%s)", segment.path, scan.problem)
        segment.path.unlink()
        if fsync:
            fsync_dir(segment.path.parent)
        return segment
    with open(segment.path, "r+b") as f:
        if scan.problem is not None:
            log.warning("truncating torn tail of %s at byte %d (%s)", segment.path, scan.end, scan.problem)
            f.truncate(scan.end)
        if fsync:  # the tail may exist only in the page cache of the dead process
            os.fsync(f.fileno())
    sealed = segment.path.with_name(f"{segment.writer_id}.{segment.first_seq:020d}-{scan.last_seq:020d}.log")
    os.rename(segment.path, sealed)
    if fsync:
        fsync_dir(segment.path.parent)
    return Segment(sealed, segment.writer_id, segment.first_seq, scan.last_seq)


def read_segment(path: Path) -> Iterator[tuple[LogPosition, dict[str, Any]]]:
    """All records of one sealed segment, for compaction; raises CorruptSegmentError on damage."""
    segment = parse_segment(Path(path))
    if segment is None or not segment.sealed:
        raise ValueError(f"{path} is not a sealed event log segment")
    scan = Scan(segment)
    yield from decode_records(scan, 0)
    scan.raise_if_damaged()


def replay_directory(directory: Path) -> Iterator[tuple[LogPosition, dict[str, Any]]]:
    """Every record on disk in ``directory``, from any process, without becoming a writer.

    Ordered by writer then sequence number. A live writer's open segment is read up to its last
    complete frame (it may be mid-write); damage in a sealed segment raises CorruptSegmentError.
    """
    for segment in list_segments(Path(directory)):
        scan = open_scan(segment)
        if scan is None:
            continue
        yield from decode_records(scan, 0)
        if scan.segment.sealed:
            scan.raise_if_damaged()
        elif scan.problem is not None:
            log.debug("stopped reading %s at byte %d: %s", segment.path, scan.end, scan.problem)


def list_sealed_segments(directory: Path) -> list[Path]:
    """Sealed segments of every writer in ``directory``, ordered by writer then sequence."""
    return [s.path for s in list_segments(Path(directory)) if s.sealed]


def _hwm_path(directory: Path, writer_id: str) -> Path:
    return directory / f"{writer_id}.hwm"


def read_hwm(directory: Path, writer_id: str) -> int:
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
    segments: list[Segment] = []
    highest: dict[str, int] = {}
    for path in paths:
        segment = parse_segment(Path(path))
        if segment is None or segment.last_seq is None or Path(path).parent.resolve() != directory.resolve():
            raise ValueError(f"{path} is not a sealed event log segment in {directory}")
        segments.append(segment)
        highest[segment.writer_id] = max(highest.get(segment.writer_id, 0), segment.last_seq)
    for writer_id, seq in highest.items():
        if seq > read_hwm(directory, writer_id):
            tmp = directory / f".{writer_id}.hwm.{os.getpid()}.{threading.get_ident()}.tmp"
            with open(tmp, "w") as f:
                f.write(str(seq))
                f.flush()
                if fsync:
                    os.fsync(f.fileno())
            os.replace(tmp, _hwm_path(directory, writer_id))
    if highest and fsync:
        fsync_dir(directory)
    for segment in segments:
        segment.path.unlink(missing_ok=True)
    if segments and fsync:
        fsync_dir(directory)
