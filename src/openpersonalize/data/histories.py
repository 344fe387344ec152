"""Per-user interaction histories saved next to a model, so serving can score known users.

Only the most recent ``MAX_HISTORY`` items per user are kept: recommendations depend on recent
behaviour, and it bounds memory at serving time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openpersonalize.data.snapshot import Snapshot

MAX_HISTORY = 200
FILE = "histories.npz"


class Histories:
    def __init__(
        self, user_ids: np.ndarray, indptr: np.ndarray, items: np.ndarray, popularity: np.ndarray
    ) -> None:
        self.user_ids = user_ids
        self.indptr = indptr
        self.items = items
        # Distinct users per item: the fallback ranking for unknown users and items.
        self.popularity = popularity
        self._index = {u: i for i, u in enumerate(user_ids.tolist())}

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot, max_history: int = MAX_HISTORY) -> Histories:
        order = np.argsort(snapshot.users, kind="stable")  # by user, then time
        users = snapshot.users[order]
        items = snapshot.items[order].astype(np.int32)
        counts = np.bincount(users, minlength=snapshot.n_users)
        ends = np.cumsum(counts)
        starts = ends - counts
        keep_from = np.maximum(starts, ends - max_history)
        mask = np.arange(len(users)) >= np.repeat(keep_from, counts)
        kept = np.bincount(users[mask], minlength=snapshot.n_users)
        indptr = np.concatenate([[0], np.cumsum(kept)]).astype(np.int64)
        pairs = snapshot.matrix()  # one cell per (user, item)
        popularity = np.bincount(pairs.indices, minlength=snapshot.n_items).astype(np.float32)
        return cls(snapshot.user_ids, indptr, items[mask], popularity)

    def of(self, user_id: str) -> np.ndarray:
        """Item indices of a user's history, oldest first (empty for an unknown user)."""
        index = self._index.get(user_id)
        if index is None:
            return np.empty(0, np.int32)
        return self.items[self.indptr[index] : self.indptr[index + 1]]

    def save(self, directory: Path) -> None:
        np.savez(
            directory / FILE,
            user_ids=np.array(self.user_ids.tolist(), dtype=str),
            indptr=self.indptr,
            items=self.items,
            popularity=self.popularity,
        )

    @classmethod
    def load(cls, directory: Path) -> Histories:
        with np.load(directory / FILE, allow_pickle=False) as data:
            return cls(data["user_ids"].astype(object), data["indptr"], data["items"], data["popularity"])
