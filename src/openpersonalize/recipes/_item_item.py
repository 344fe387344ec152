"""A model that scores items from the user's history through an item x item weight matrix.

Used by aws-user-personalization / -ranking (EASE, dense; item-kNN, sparse) and aws-sims
(co-occurrence neighbours, sparse). The history arrives with every request, so a user's new
events change the next scores without retraining.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from openpersonalize.recipes._featurize import tie_breaker
from openpersonalize.recipes._io import (
    csr_from_arrays,
    csr_to_arrays,
    ids_from_array,
    ids_to_array,
    load_arrays,
    read_manifest,
    save_model_files,
)
from openpersonalize.recipes.base import manifest

# Popularity is added with this weight so equal scores (e.g. items no neighbour reaches) come
# out popular-first; small enough not to reorder items the history does reach.
TIE_BREAK_WEIGHT = 1e-6


class ItemItemModel:
    """scores(history) = Σ_k w_k · W[history_k], w_k = recency · event weight.

    ``history_window`` bounds the work per request to the latest events; ``half_life`` (in
    events, 0 = off) weights the most recent events more:
    w = floor + (1 - floor) * 0.5 ** (age / half_life), age = number of newer events.
    """

    def __init__(
        self,
        recipe: str,
        item_ids: np.ndarray,
        weights: np.ndarray | sp.csr_matrix,
        popularity: np.ndarray,
        *,
        history_window: int,
        half_life: float,
        recency_floor: float = 0.0,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.recipe = recipe
        self.item_ids = item_ids
        self.weights = weights
        self.popularity = np.asarray(popularity, dtype=np.float32)
        self.history_window = history_window
        self.half_life = half_life
        self.recency_floor = recency_floor
        self.params = dict(params or {})
        self._fallback = tie_breaker(self.popularity)
        self._background: np.ndarray | None = None

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def history_weights(
        self, history: np.ndarray, weights: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(distinct items, weight of each): latest ``history_window`` events, recency-weighted;
        an item seen several times counts with its largest weight. Indices outside the
        vocabulary (e.g. -1 for items unknown to this model) are skipped."""
        items = np.asarray(history, dtype=np.int64)[-self.history_window :]
        event_weights = np.ones(items.size, dtype=np.float32)
        if weights is not None:
            event_weights *= np.asarray(weights, dtype=np.float32)[-self.history_window :]
        known = (items >= 0) & (items < self.n_items)
        if not known.all():
            items, event_weights = items[known], event_weights[known]
        if self.half_life > 0:
            age = np.arange(items.size - 1, -1, -1, dtype=np.float32)
            decay = np.exp2(-age / np.float32(self.half_life))
            event_weights *= np.float32(self.recency_floor) + np.float32(1.0 - self.recency_floor) * decay
        if weights is None:
            # Recency weights only grow towards the end, so an item's largest weight is that of its
            # latest occurrence: the first one in the reversed history (cheaper than maximum.at).
            distinct, latest = np.unique(items[::-1], return_index=True)
            return distinct, event_weights[::-1][latest]
        distinct, position = np.unique(items, return_inverse=True)
        combined = np.zeros(distinct.size, dtype=np.float32)
        np.maximum.at(combined, position, event_weights)
        return distinct, combined

    def user_scores(self, history: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        items, item_weights = self.history_weights(history, weights)
        if items.size == 0:
            return self._fallback.copy()
        if isinstance(self.weights, np.ndarray):
            scores = item_weights @ self.weights[items]
        else:
            scores = self.weights[items].T @ item_weights
        scores = np.asarray(scores, dtype=np.float32).ravel()
        scores += np.float32(TIE_BREAK_WEIGHT) * self._fallback
        return scores

    def item_scores(self, item: int) -> np.ndarray:
        return self.user_scores(np.array([item], dtype=np.int64))

    def sparse_user_scores(
        self, history: np.ndarray, weights: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """``user_scores`` as (items the history reaches, their scores) over ``background_scores``
        for every other item — None for dense weights or an empty history. Big catalogues are served this way: the
        work grows with the neighbours reached, not with the catalogue."""
        matrix = self.weights
        if isinstance(matrix, np.ndarray):
            return None
        items, item_weights = self.history_weights(history, weights)
        if items.size == 0:
            return None  # no history: user_scores gives the popularity ranking itself
        # Gather the history items' neighbour rows straight from the CSR arrays (cheaper than
        # scipy's row slicing and product at this size), then add up per neighbour.
        starts = matrix.indptr[items]
        lengths = matrix.indptr[items + 1] - starts
        row_starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        positions = np.repeat(starts - row_starts, lengths) + np.arange(int(lengths.sum()))
        neighbours = matrix.indices[positions]
        contributions = matrix.data[positions] * np.repeat(item_weights, lengths)
        candidates, slot = np.unique(neighbours, return_inverse=True)
        scores = np.bincount(slot, weights=contributions, minlength=len(candidates)).astype(np.float32)
        return candidates.astype(np.int64), scores + self.background_scores()[candidates]

    def background_scores(self) -> np.ndarray:
        """What ``user_scores`` gives items the history does not reach (the popularity tie-break)."""
        if self._background is None:
            self._background = np.float32(TIE_BREAK_WEIGHT) * self._fallback
        return self._background

    def save(self, directory: Path) -> None:
        arrays = {"item_ids": ids_to_array(self.item_ids), "popularity": self.popularity}
        if isinstance(self.weights, np.ndarray):
            arrays["weights_dense"] = self.weights
        else:
            arrays.update(csr_to_arrays("weights", self.weights))
        info = manifest(
            self.recipe,
            params=self.params,
            n_items=self.n_items,
            history_window=self.history_window,
            half_life=self.half_life,
            recency_floor=self.recency_floor,
        )
        save_model_files(directory, info, arrays)

    @classmethod
    def load(cls, directory: Path) -> Self:
        info = read_manifest(directory)
        arrays = load_arrays(directory)
        weights: np.ndarray | sp.csr_matrix
        weights = arrays["weights_dense"] if "weights_dense" in arrays else csr_from_arrays("weights", arrays)
        return cls(
            info["recipe"],
            ids_from_array(arrays["item_ids"]),
            weights,
            arrays["popularity"],
            history_window=int(info["history_window"]),
            half_life=float(info["half_life"]),
            recency_floor=float(info.get("recency_floor", 0.0)),
            params=info.get("params", {}),
        )
