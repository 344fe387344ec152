"""Items without interactions, scored from their metadata, and the share of a list that explores them.

A cold item is an Items row the model has no interactions for: there at training, or written
after it by PutItems or an import. Its score for a request is the similarity-weighted mean of the
scores of the ``NEIGHBOURS`` trained items whose metadata vectors (``data/item_features.py``) are
closest to its own, so a new dress is scored like the dresses this user's history favours.
Items after the model's vocabulary get positions ``n_model_items ..`` in the request's scores.

Exploration (``campaignConfig.itemExplorationConfig``): up to ``ceil(k × explorationWeight)``
slots of a list may go to cold items no older than ``explorationItemAgeCutOff`` days, best cold
score first; each takes its slot with probability ``1 / (1 + shown / SHOWN_HALF +
interactions / INTERACTED_HALF)``, so the exploration of an item fades as it is shown and used.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from openpersonalize.data.item_features import Encode, ItemFeaturizer, number

NEIGHBOURS = 10
SHOWN_HALF = 50.0  # exposures that halve an item's chance to be explored
INTERACTED_HALF = 5.0  # interactions after training that halve it
DAY = 86_400.0


class ColdItems:
    def __init__(
        self,
        featurizer: ItemFeaturizer,
        features: np.ndarray,  # (n_model_items, d): the model's items, zero rows without metadata
        trained: np.ndarray,  # bool per model item: had interactions in training
        encode: Encode | None,
        latest_interaction: float = 0.0,  # the training data's newest TIMESTAMP
    ) -> None:
        self.latest_interaction = latest_interaction
        self.featurizer = featurizer
        self.n_model = len(trained)
        self.encode = encode
        self._warm = np.flatnonzero(trained).astype(np.int32)
        self._warm_features = np.asarray(features[self._warm], np.float32)
        self.extra_ids: list[str] = []  # items after the model's vocabulary, in arrival order
        self.created: dict[int, float] = {}  # position -> CREATION_TIMESTAMP, where known
        self.shown = np.zeros(0, np.float32)  # per cold position: times served
        self.positions = np.zeros(0, np.int64)  # every cold item's position
        self._row: dict[int, int] = {}  # position -> its row in positions / neighbours / shown
        self._neighbours = np.zeros((0, NEIGHBOURS), np.int32)
        self._weights = np.zeros((0, NEIGHBOURS), np.float32)
        self._seen_generation = -1
        self._lock = threading.Lock()
        cold = np.flatnonzero(~trained)
        if len(cold):
            self._add(cold.astype(np.int64), np.asarray(features[cold], np.float32))

    @property
    def n_items(self) -> int:
        return self.n_model + len(self.extra_ids)

    # -- growing ------------------------------------------------------------------------------
    def sync(self, generation: int, keys: Callable[[], list[str]], row: Callable[[str], Mapping[str, Any] | None],
             known: Mapping[str, int]) -> list[str]:  # fmt: skip
        """Take in the Items rows written since the last call (``generation`` changes with every
        write); returns the new item ids, which the caller appends to its vocabulary."""
        if generation == self._seen_generation:
            return []
        with self._lock:
            if generation == self._seen_generation:
                return []
            extra = set(self.extra_ids)
            new = [k for k in keys() if k not in known and k not in extra]
            if new:
                rows = [row(k) for k in new]
                features = self.featurizer.transform(rows, self.encode)
                start = self.n_items
                self.extra_ids.extend(new)
                positions = np.arange(start, start + len(new), dtype=np.int64)
                self._add(positions, features)
                for position, r in zip(positions, rows, strict=True):
                    created = number(r.get("CREATION_TIMESTAMP")) if r else None
                    if created is not None:
                        self.created[int(position)] = created
            self._seen_generation = generation
            return new

    def behind(self, generation: int | None) -> bool:
        """Whether Items rows were written (or must be read) since the last ``sync``."""
        return generation is None or generation != self._seen_generation

    def set_created(self, created: Mapping[int, float]) -> None:
        self.created.update(created)

    def _add(self, positions: np.ndarray, features: np.ndarray) -> None:
        k = min(NEIGHBOURS, len(self._warm))
        neighbours = np.zeros((len(positions), NEIGHBOURS), np.int32)
        weights = np.zeros((len(positions), NEIGHBOURS), np.float32)
        if k and features.shape[1]:
            similarity = features @ self._warm_features.T  # (new, warm)
            top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
            best = np.take_along_axis(similarity, top, axis=1).clip(min=0.0) ** 2
            total = best.sum(axis=1, keepdims=True)
            neighbours[:, :k] = self._warm[top]
            weights[:, :k] = np.divide(best, total, out=np.zeros_like(best), where=total > 0)
        self._row.update({p: len(self.positions) + i for i, p in enumerate(positions.tolist())})
        self.positions = np.concatenate([self.positions, positions])
        self._neighbours = np.concatenate([self._neighbours, neighbours])
        self._weights = np.concatenate([self._weights, weights])
        self.shown = np.concatenate([self.shown, np.zeros(len(positions), np.float32)])

    # -- scoring ------------------------------------------------------------------------------
    def extend(self, scores: np.ndarray) -> np.ndarray:
        """Scores over the model's items -> scores over every item, cold ones from their
        neighbours (an item with no metadata neighbour gets the mean score)."""
        positions, neighbours, weights = self.positions, self._neighbours, self._weights
        out = np.empty(self.n_model + len(self.extra_ids), np.float32)
        out[: self.n_model] = scores
        if len(positions):
            n = min(len(positions), len(neighbours))
            values = (scores[neighbours[:n]] * weights[:n]).sum(axis=1)
            has = weights[:n].sum(axis=1) > 0
            finite = scores[np.isfinite(scores)]
            fallback = float(finite.mean()) if finite.size else 0.0
            out[positions[:n]] = np.where(has, values, fallback)
        return out

    def neighbours_of(self, position: int) -> tuple[np.ndarray, np.ndarray]:
        """A cold item's nearest trained items by metadata, and their weights (may be empty)."""
        row = self._row.get(position)
        if row is None:
            return np.empty(0, np.int32), np.empty(0, np.float32)
        keep = self._weights[row] > 0
        return self._neighbours[row][keep], self._weights[row][keep]

    # -- exploration --------------------------------------------------------------------------
    def explorable(self, now: float, age_cut_off_days: float) -> np.ndarray:
        """Cold positions young enough to explore (items without a creation time always are)."""
        if not len(self.positions):
            return self.positions
        limit = now - age_cut_off_days * DAY
        return np.array(
            [p for p in self.positions.tolist() if self.created.get(p, math.inf) >= limit], dtype=np.int64
        )

    def chances(self, positions: np.ndarray, interactions: Mapping[int, int]) -> np.ndarray:
        shown = self.shown[[self._row[p] for p in positions.tolist()]]
        used = np.array([interactions.get(p, 0) for p in positions.tolist()], np.float32)
        return 1.0 / (1.0 + shown / SHOWN_HALF + used / INTERACTED_HALF)

    def record_shown(self, positions: list[int]) -> None:
        with self._lock:
            for p in positions:
                if p in self._row:
                    self.shown[self._row[p]] += 1
