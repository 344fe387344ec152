"""Hold-out splits for offline metrics.

``split_users`` is Personalize's split (spec §10): users go 90 % to training and 10 % to testing
with all of a user's interactions on one side; a test user's oldest 90 % of interactions are the
input history and the newest 10 % are the items a good model should recommend.
``split_by_time_leave_last_out`` is the common research protocol, used by the benchmarks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from openpersonalize.data.snapshot import Snapshot


@dataclass
class Split:
    train: Snapshot  # the snapshot restricted to training interactions (same vocabularies)
    test_users: np.ndarray  # int32 user indices of the test users, ascending
    histories: list[np.ndarray]  # per test user: item indices given as input, oldest first
    relevant: list[np.ndarray]  # per test user: unique held-out item indices (at least one)

    @property
    def n_test_users(self) -> int:
        return len(self.test_users)


def split_users(
    snapshot: Snapshot,
    *,
    test_fraction: float = 0.1,
    holdout_fraction: float = 0.1,
    seed: int = 42,
    max_test_users: int | None = 5000,
) -> Split:
    """Personalize's user split.

    ``test_fraction`` of all users (at least one when any user qualifies) are drawn, under ``seed``,
    from the users with at least 2 interactions — a user with one interaction has nothing to hold
    out, so they always train. ``max_test_users`` bounds evaluation cost on big data: users beyond
    the cap stay in training rather than being wasted. Per test user, the newest
    ``ceil(holdout_fraction * n)`` interactions (at least 1, at most n - 1) are held out.
    """
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    if not 0.0 < holdout_fraction < 1.0:
        raise ValueError(f"holdout_fraction must be in (0, 1), got {holdout_fraction}")
    order, starts, counts = _group_by_user(snapshot)
    eligible = np.flatnonzero(counts >= 2).astype(np.int32)
    n_test = min(len(eligible), max(1, round(test_fraction * snapshot.n_users))) if test_fraction > 0 else 0
    if max_test_users is not None:
        n_test = min(n_test, max_test_users)
    rng = np.random.default_rng(seed)
    test_users = np.sort(rng.choice(eligible, size=n_test, replace=False)).astype(np.int32)

    histories: list[np.ndarray] = []
    relevant: list[np.ndarray] = []
    for user in test_users:
        rows = order[starts[user] : starts[user] + counts[user]]  # this user's interactions, oldest first
        # The epsilon keeps float noise (0.55 * 100 = 55.00000000000001) from adding one more item.
        n_held_out = min(len(rows) - 1, max(1, math.ceil(holdout_fraction * len(rows) - 1e-9)))
        cut = len(rows) - n_held_out
        histories.append(snapshot.items[rows[:cut]].astype(np.int32))
        relevant.append(np.unique(snapshot.items[rows[cut:]]).astype(np.int32))

    is_test_user = np.zeros(snapshot.n_users, dtype=bool)
    is_test_user[test_users] = True
    return Split(snapshot.subset(~is_test_user[snapshot.users]), test_users, histories, relevant)


def split_by_time_leave_last_out(
    snapshot: Snapshot, *, max_test_users: int | None = None, seed: int = 42
) -> Split:
    """Every user with at least 2 interactions is a test user: their last interaction's item is
    relevant, the rest is history. Training keeps everything except those last interactions.

    ``max_test_users`` samples that many test users (under ``seed``); the others' last
    interactions then stay in training.
    """
    order, starts, counts = _group_by_user(snapshot)
    test_users = np.flatnonzero(counts >= 2).astype(np.int32)
    if max_test_users is not None and len(test_users) > max_test_users:
        rng = np.random.default_rng(seed)
        test_users = np.sort(rng.choice(test_users, size=max_test_users, replace=False)).astype(np.int32)

    last_rows = order[starts[test_users] + counts[test_users] - 1]
    histories = [
        snapshot.items[order[starts[user] : starts[user] + counts[user] - 1]].astype(np.int32)
        for user in test_users
    ]
    relevant = [snapshot.items[row : row + 1].astype(np.int32) for row in last_rows]

    keep = np.ones(snapshot.n_interactions, dtype=bool)
    keep[last_rows] = False
    return Split(snapshot.subset(keep), test_users, histories, relevant)


def _group_by_user(snapshot: Snapshot) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interaction rows grouped by user, chronological within a user (the snapshot is sorted by
    time and the sort is stable), with each user's start offset and count into that order."""
    order = np.argsort(snapshot.users, kind="stable")
    counts = np.bincount(snapshot.users, minlength=snapshot.n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return order, starts, counts
