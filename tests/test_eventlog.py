"""The durable event log: round trips, group commit, crash recovery and segment handling."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path

import pytest

from openpersonalize.store.interactions.eventlog import (
    MAGIC,
    CorruptSegmentError,
    EventLog,
    EventLogError,
    LogPosition,
    WriterInUseError,
    read_segment,
)

SRC = Path(__file__).resolve().parents[1] / "src"


def event(n: int) -> dict[str, object]:
    return {
        "userId": f"u{n % 97}",
        "sessionId": f"s{n % 13}",
        "itemId": f"i{n}",
        "eventType": "click",
        "sentAt": 1_700_000_000 + n,
        "properties": f'{{"n": {n}}}',
        "n": n,
    }


def replayed_numbers(log: EventLog) -> list[int]:
    return [int(record["n"]) for _, record in log.replay()]


def test_round_trip_returns_increasing_sequence_numbers(tmp_path: Path) -> None:
    with EventLog(tmp_path, writer_id="a") as log:
        assert log.append([event(0), event(1), event(2)]) == 3
        assert log.append([event(3)]) == 4
        assert log.append([]) == 4
        replayed = list(log.replay())
    assert [position for position, _ in replayed] == [LogPosition("a", s) for s in range(1, 5)]
    assert [record for _, record in replayed] == [event(n) for n in range(4)]


def test_sequence_numbers_continue_after_reopen_and_replay_since(tmp_path: Path) -> None:
    with EventLog(tmp_path, writer_id="a") as log:
        log.append([event(0), event(1)])
    with EventLog(tmp_path, writer_id="a") as log:
        assert log.append([event(2)]) == 3
        assert [r["n"] for _, r in log.replay(since=LogPosition("a", 1))] == [1, 2]
        assert [r["n"] for _, r in log.replay(since={"a": 3})] == []


def test_concurrent_thread_appends_are_all_durable_and_group_committed(tmp_path: Path) -> None:
    threads, per_thread = 16, 40
    acked: list[int] = []
    lock = threading.Lock()
    with EventLog(tmp_path) as log:

        def worker(t: int) -> None:
            for i in range(per_thread):
                n = t * per_thread + i
                seq = log.append([event(n)])
                with lock:
                    acked.append(seq)

        pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        stats = log.stats
        numbers = replayed_numbers(log)
    assert sorted(acked) == list(range(1, threads * per_thread + 1))
    assert sorted(numbers) == list(range(threads * per_thread))
    assert stats.appends == threads * per_thread
    assert stats.fsyncs == stats.commits
    assert stats.fsyncs < stats.appends  # appends waiting on one fsync share the next one


def test_concurrent_asyncio_appends(tmp_path: Path) -> None:
    async def run(log: EventLog) -> list[int]:
        async def task(t: int) -> list[int]:
            return [await log.append_async([event(t * 100 + i), event(t * 100 + i + 50)]) for i in range(20)]

        results = await asyncio.gather(*(task(t) for t in range(30)))
        return [seq for seqs in results for seq in seqs]

    with EventLog(tmp_path) as log:
        acked = asyncio.run(run(log))
        stats = log.stats
        numbers = replayed_numbers(log)
    assert sorted(acked) == list(range(2, 30 * 20 * 2 + 1, 2))
    assert sorted(numbers) == sorted(t * 100 + i + k for t in range(30) for i in range(20) for k in (0, 50))
    assert stats.fsyncs < stats.appends == 600


def test_unserialisable_record_is_rejected_and_changes_nothing(tmp_path: Path) -> None:
    with EventLog(tmp_path) as log:
        log.append([event(0)])
        with pytest.raises(TypeError):
            log.append([event(1), {"bad": object()}])
        assert log.append([event(2)]) == 2
        assert replayed_numbers(log) == [0, 2]


def crash_leftover(directory: Path, tail: bytes = b"", cut: int = 0) -> int:
    """Turn writer a's sealed segment back into the open segment a crashed process leaves behind,
    with ``cut`` bytes lost from its end and ``tail`` appended; return the intact size."""
    (sealed,) = directory.glob("a.*.log")
    data = sealed.read_bytes()
    sealed.unlink()
    (directory / f"a.{1:020d}.open").write_bytes(data[: len(data) - cut] + tail)
    return len(data)


def test_torn_tail_is_truncated_on_reopen(tmp_path: Path) -> None:
    with EventLog(tmp_path, writer_id="a") as log:
        for n in range(5):
            log.append([event(n)])
    intact = crash_leftover(tmp_path, tail=b"\x10\x00\x00\x00garbage")
    with EventLog(tmp_path, writer_id="a") as log:
        assert replayed_numbers(log) == [0, 1, 2, 3, 4]
        (sealed,) = log.sealed_segments()
        assert sealed.stat().st_size == intact
        assert log.append([event(5)]) == 6
        assert replayed_numbers(log) == [0, 1, 2, 3, 4, 5]


def test_truncated_mid_frame_keeps_earlier_records(tmp_path: Path) -> None:
    with EventLog(tmp_path, writer_id="a") as log:
        for n in range(4):
            log.append([event(n)])
    crash_leftover(tmp_path, cut=3)
    with EventLog(tmp_path, writer_id="a") as log:
        assert replayed_numbers(log) == [0, 1, 2]
        assert log.append([event(9)]) == 4
        assert replayed_numbers(log) == [0, 1, 2, 9]


def test_open_segment_without_header_is_discarded(tmp_path: Path) -> None:
    (tmp_path / f"a.{1:020d}.open").write_bytes(MAGIC[:3])
    with EventLog(tmp_path, writer_id="a") as log:
        assert replayed_numbers(log) == []
        assert log.append([event(0)]) == 1


def test_corruption_inside_sealed_segment_raises(tmp_path: Path) -> None:
    with EventLog(tmp_path, writer_id="a") as log:
        log.append([event(n) for n in range(10)])
        sealed = log.seal()
        assert sealed is not None
        data = bytearray(sealed.read_bytes())
        data[len(data) // 2] ^= 0xFF
        sealed.write_bytes(bytes(data))
        with pytest.raises(CorruptSegmentError, match="checksum mismatch|sequence number|oversized"):
            list(log.replay())
        with pytest.raises(CorruptSegmentError, match=str(sealed)):
            list(read_segment(sealed))


def test_rotation_replay_across_segments_and_writers(tmp_path: Path) -> None:
    a = EventLog(tmp_path, writer_id="a", segment_bytes=600)
    b = EventLog(tmp_path, writer_id="b", segment_bytes=600)
    try:
        for n in range(30):
            (a if n % 2 == 0 else b).append([event(n)])
        assert len(list(tmp_path.glob("a.*.log"))) >= 3
        assert len(list(tmp_path.glob("b.*.log"))) >= 3
        replayed = list(a.replay())
        assert replayed == list(b.replay())
        assert [p.writer_id for p, _ in replayed] == ["a"] * 15 + ["b"] * 15
        assert [r["n"] for _, r in replayed] == list(range(0, 30, 2)) + list(range(1, 30, 2))
        assert [p.seq for p, _ in replayed] == list(range(1, 16)) * 2
        assert [p.seq for p, _ in a.replay(since={"a": 10, "b": 14})] == [11, 12, 13, 14, 15, 15]
    finally:
        a.close()
        b.close()


def test_seal_compact_remove_keeps_sequence_monotonic(tmp_path: Path) -> None:
    with EventLog(tmp_path, writer_id="a") as log:
        log.append([event(0), event(1)])
        assert log.seal() is not None
        assert log.seal() is None  # nothing active
        compacted = [r["n"] for path in log.sealed_segments() for _, r in read_segment(path)]
        assert compacted == [0, 1]
        log.remove_segments(log.sealed_segments())
        assert replayed_numbers(log) == []
        with pytest.raises(ValueError):
            log.remove_segments([tmp_path / "a.lock"])
    with EventLog(tmp_path, writer_id="a") as log:
        assert log.append([event(2)]) == 3  # not 1: those numbers were handed out already


def test_writer_id_is_exclusive_and_default_ids_take_free_slots(tmp_path: Path) -> None:
    with EventLog(tmp_path, writer_id="a"), pytest.raises(WriterInUseError):
        EventLog(tmp_path, writer_id="a")
    first, second = EventLog(tmp_path), EventLog(tmp_path)
    try:
        assert {first.writer_id, second.writer_id} == {"w0", "w1"}
    finally:
        first.close()
        second.close()
    with pytest.raises(ValueError):
        EventLog(tmp_path, writer_id="bad.id")


def test_append_after_close_fails(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    log.close()
    log.close()
    with pytest.raises(EventLogError, match="closed"):
        log.append([event(0)])


_CHILD = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from openpersonalize.store.interactions.eventlog import EventLog

    log = EventLog(Path(sys.argv[1]), writer_id=sys.argv[2], segment_bytes=32 << 10)
    out_lock = threading.Lock()

    def worker(t):
        for i in range(10**9):
            n = t * 10**7 + i
            log.append([{"n": n, "k": k, "pad": "x" * 200} for k in range(3)])
            with out_lock:
                sys.stdout.write(f"{n}\\n")
                sys.stdout.flush()

    for t in range(4):
        threading.Thread(target=worker, args=(t,), daemon=True).start()
    threading.Event().wait()
    """
)


@pytest.mark.integration
@pytest.mark.parametrize("reopen_as", ["child", "other"])
def test_kill_9_loses_no_acknowledged_record(tmp_path: Path, reopen_as: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(tmp_path), "child"], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    acked: set[int] = set()
    try:
        while len(acked) < 400:
            line = child.stdout.readline()
            assert line, f"child exited early with {child.poll()}"
            acked.add(int(line))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    # Acknowledgements the child printed before dying count too.
    acked.update(int(line) for line in child.stdout.read().split())
    child.stdout.close()

    # Reopening as the same writer recovers its segment; another writer adopts the orphan.
    with EventLog(tmp_path, writer_id="child" if reopen_as == "child" else "parent") as log:
        records = [(position, record) for position, record in log.replay()]
        assert not list(tmp_path.glob("*.open"))
    records_per_append = Counter(r["n"] for _, r in records)
    assert all(records_per_append[n] == 3 for n in acked)
    assert [p.seq for p, _ in records] == list(range(1, len(records) + 1))


def test_replay_while_appending_sees_a_consistent_prefix(tmp_path: Path) -> None:
    stop = threading.Event()
    with EventLog(tmp_path, writer_id="a", segment_bytes=2_000) as log:

        def writer() -> None:
            n = 0
            while not stop.is_set():
                log.append([event(n), event(n + 1)])
                n += 2

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            for _ in range(50):
                seqs = [position.seq for position, _ in log.replay()]
                assert seqs == list(range(1, len(seqs) + 1))
        finally:
            stop.set()
            thread.join()


def test_write_failure_fails_waiters_and_later_appends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openpersonalize.store.interactions import eventlog

    log = EventLog(tmp_path, writer_id="a")
    try:
        log.append([event(0)])

        def broken_disk(fd: int) -> None:
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(eventlog, "_datasync", broken_disk)
        with pytest.raises(EventLogError, match="Input/output error"):
            log.append([event(1)])
        with pytest.raises(EventLogError, match="unusable"):
            asyncio.run(log.append_async([event(2)]))
    finally:
        log.close()
    monkeypatch.undo()
    with EventLog(tmp_path, writer_id="a") as reopened:
        assert replayed_numbers(reopened)[:1] == [0]
        assert reopened.append([event(3)]) > 1
