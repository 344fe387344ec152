"""The reader's exact-duplicate search: rows are hashed, and only rows sharing a hash compared."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from openpersonalize.data import dataset_reader

TABLE = pa.table(
    {
        "USER_ID": ["u1", "u1", "u2", "u1", None, None, "u2"],
        "ITEM_ID": ["a", "a", "a", "b", "a", "a", "a"],
        "TIMESTAMP": [1, 1, 1, 1, 2, 2, 1],
        "EVENT_VALUE": [0.5, 0.5, None, 0.5, -0.0, 0.0, None],
    }
)
# Later copies of an earlier row: 1 (of 0), 5 (of 4: -0.0 equals 0.0), 6 (of 2, nulls alike).
REPEATED = [False, True, False, False, False, True, True]


def test_later_copies_of_a_row_are_found_nulls_included() -> None:
    alive = np.ones(TABLE.num_rows, dtype=bool)
    assert dataset_reader._repeated_rows(TABLE, alive).tolist() == REPEATED


def test_rows_sharing_a_hash_but_not_their_values_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row collides: the values alone decide, as with a real (vanishingly rare) collision."""
    monkeypatch.setattr(dataset_reader, "_mix", lambda values: np.zeros(len(values), np.uint64))
    alive = np.ones(TABLE.num_rows, dtype=bool)
    assert dataset_reader._repeated_rows(TABLE, alive).tolist() == REPEATED


def test_only_alive_rows_take_part() -> None:
    alive = np.array([False, True, True, True, True, True, True])
    found = dataset_reader._repeated_rows(TABLE, alive)
    assert not found[1] and found[6] and found[5]
