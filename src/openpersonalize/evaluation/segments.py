"""Offline metrics for USER_SEGMENTATION recipes (spec §10): per-user 80/20 split of the
interactions; for each item with held-out users, the top 1 % of users by affinity are compared
with the users who really interacted with it.

``hit_at_1_percent``: the mean number of those top users who did; ``recall_at_1_percent``: the
mean share of the actual users found among them. Items are sampled (at most ``max_items``)
under the seed to bound the cost on big catalogues.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from openpersonalize.data.snapshot import Snapshot

HOLDOUT = 0.2


class Segmenting(Protocol):
    def users_for(self, items: np.ndarray) -> np.ndarray: ...


@dataclass
class SegmentSplit:
    train: Snapshot
    items: np.ndarray  # items with held-out users
    relevant: list[np.ndarray]  # per item, the users who interacted with it in the held-out part


def split_interactions(snapshot: Snapshot, *, seed: int = 42, max_items: int = 500) -> SegmentSplit:
    rng = np.random.default_rng(seed)
    held = np.zeros(snapshot.n_interactions, dtype=bool)
    order = np.argsort(snapshot.users, kind="stable")
    counts = np.bincount(snapshot.users, minlength=snapshot.n_users)
    start = 0
    for count in counts.tolist():
        if count >= 2:
            rows = order[start : start + count]
            held[rng.choice(rows, size=max(1, math.floor(HOLDOUT * count)), replace=False)] = True
        start += count
    train = snapshot.subset(~held)
    seen = set(zip(train.users.tolist(), train.items.tolist(), strict=True))
    by_item: dict[int, set[int]] = {}
    for user, item in zip(snapshot.users[held].tolist(), snapshot.items[held].tolist(), strict=True):
        if (user, item) not in seen:
            by_item.setdefault(item, set()).add(user)
    items = np.array(sorted(by_item), dtype=np.int64)
    if len(items) > max_items:
        items = np.sort(rng.choice(items, size=max_items, replace=False))
    relevant = [np.array(sorted(by_item[i]), dtype=np.int64) for i in items.tolist()]
    return SegmentSplit(train, items, relevant)


def evaluate_segments(model: Segmenting, split: SegmentSplit) -> dict[str, float]:
    if not len(split.items):
        return {}
    k = max(1, math.ceil(0.01 * split.train.n_users))
    hits, recalls = [], []
    for item, actual in zip(split.items.tolist(), split.relevant, strict=True):
        scores = model.users_for(np.array([item]))
        top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
        found = len(np.intersect1d(top, actual))
        hits.append(found)
        recalls.append(found / len(actual))
    return {"hit_at_1_percent": float(np.mean(hits)), "recall_at_1_percent": float(np.mean(recalls))}
