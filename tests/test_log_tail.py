"""LogTailer reads only what other writers appended since its last poll, across seals and removals."""

from __future__ import annotations

from openpersonalize.store.interactions.eventlog import EventLog, list_sealed_segments, remove_sealed_segments
from openpersonalize.store.interactions.tail import LogTailer


def test_tailer_follows_other_writers(tmp_path):
    other = EventLog(tmp_path, writer_id="other", segment_bytes=4096)
    mine = EventLog(tmp_path, writer_id="mine")
    other.append([{"n": 0}])
    tailer = LogTailer(tmp_path, "mine")
    tailer.skip_existing()
    assert tailer.poll() == []
    mine.append([{"n": "own"}])
    other.append([{"n": 1}, {"n": 2}])
    assert tailer.poll() == [{"n": 1}, {"n": 2}]
    assert tailer.poll() == []
    other.seal()
    other.append([{"n": 3}])
    assert tailer.poll() == [{"n": 3}]
    for n in range(4, 200):  # several rotations of a small segment
        other.append([{"n": n, "pad": "x" * 100}])
    assert [r["n"] for r in tailer.poll()] == list(range(4, 200))
    remove_sealed_segments(tmp_path, list_sealed_segments(tmp_path))
    other.append([{"n": 200}])
    assert tailer.poll() == [{"n": 200}]
    other.close()
    mine.close()
