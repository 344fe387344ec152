"""Follow other processes' event-log segments in a shared directory, reading only what is new.

Several `serve` processes on one machine share a data directory, each writing its own segments;
each follows the others' so a user's events change their next recommendations whichever process
answers.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson

from openpersonalize.store.interactions.segments import list_segments, open_scan

log = logging.getLogger(__name__)


class LogTailer:
    def __init__(self, directory: Path, own_writer: str) -> None:
        self.directory = directory
        self.own_writer = own_writer
        # (writer id, first sequence number) -> (byte offset, next sequence number) read so far
        self._positions: dict[tuple[str, int], tuple[int, int]] = {}

    def skip_existing(self) -> None:
        """Start from the current end of every segment (what is there is loaded separately)."""
        self.poll()

    def poll(self) -> list[dict[str, Any]]:
        """Records other writers appended since the last poll (complete frames only)."""
        if not self.directory.exists():
            return []
        records: list[dict[str, Any]] = []
        present = set()
        for segment in list_segments(self.directory):
            if segment.writer_id == self.own_writer:
                continue
            key = (segment.writer_id, segment.first_seq)
            present.add(key)
            scan = open_scan(segment, resume=self._positions.get(key))
            if scan is None:
                continue
            for _, payload in scan:
                records.append(orjson.loads(payload))
            if scan.last_seq is not None:
                self._positions[key] = (scan.end, scan.last_seq + 1)
        for gone in set(self._positions) - present:  # compacted and removed
            del self._positions[gone]
        return records
