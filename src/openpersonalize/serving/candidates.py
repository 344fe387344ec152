"""A request's candidate scores and the cut to its top k: the middle of the serving pipeline.

Scores come in one of two shapes: dense (one raw score per catalogue item) or sparse (the items a
user's history reaches, over the model's per-item background; big catalogues). ``top`` applies
the request's mask (filters, items it may not get) before it cuts the top k, so a filtered list
still has k items when enough qualify. Reported scores are AWS's softmax over the whole
catalogue: an item's score does not depend on k or on what the mask removed.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from openpersonalize.serving.models import Deployed
from openpersonalize.serving.scoring import Background, softmax_at, top_k


class Candidates:
    def __init__(
        self,
        deployed: Deployed,
        *,
        dense: np.ndarray | None = None,
        reached: tuple[np.ndarray, np.ndarray] | None = None,
        cold: bool = False,
    ) -> None:
        self.deployed = deployed
        self.dense = dense
        self.reached = reached
        self.cold = cold  # the same for every user with no history: its top k is cached

    @classmethod
    def for_history(cls, deployed: Deployed, history: np.ndarray) -> Candidates:
        if not len(history):
            return cls(deployed, dense=deployed.cold_scores(), cold=True)
        sparse = getattr(deployed.model, "sparse_user_scores", None)
        has_cold = deployed.cold_items is not None and len(deployed.cold_items.positions)
        reached = sparse(history) if sparse is not None and not has_cold else None
        if reached is not None:
            return cls(deployed, reached=reached)
        return cls(deployed, dense=deployed.scores_of(deployed.model.user_scores(history)))

    @classmethod
    def related_to(
        cls, deployed: Deployed, item_id: str, influence: Mapping[str, float] | None = None
    ) -> Candidates:
        index = deployed.item_index.get(item_id)
        if index is not None and index >= len(deployed.model.item_ids):  # arrived after training
            return cls.related_to_new(deployed, index)
        if index is None:  # never seen: popular items
            return cls(deployed, dense=deployed.scores_of(deployed.histories.popularity.astype(np.float32)))
        influenced = getattr(deployed.model, "influenced_scores", None)
        if influenced is not None and influence:  # Semantic-Similarity's rankingInfluence
            raw = influenced(index, influence.get("POPULARITY", 0.0), influence.get("FRESHNESS", 0.0))
        else:
            raw = deployed.model.item_scores(index)
        scores = np.array(deployed.scores_of(raw), dtype=np.float32, copy=True)
        scores[index] = -np.inf  # never the item itself
        return cls(deployed, dense=scores)

    @classmethod
    def related_to_new(cls, deployed: Deployed, index: int) -> Candidates:
        """Items related to one that arrived after training: its metadata neighbours first, then
        what is related to them (popular items when it has none)."""
        cold = deployed.cold_items
        neighbours, weights = cold.neighbours_of(index) if cold is not None else (np.empty(0, np.int32), None)
        popularity = deployed.histories.popularity.astype(np.float32)
        if not len(neighbours) or weights is None:
            scores = deployed.scores_of(popularity)
        else:
            related = sum(
                w * np.asarray(deployed.model.item_scores(int(j)), np.float32)
                for j, w in zip(neighbours, weights, strict=True)
            )
            scores = deployed.scores_of(np.asarray(related, np.float32))
            scores[neighbours] = scores.max() + 1.0 + weights  # the nearest by metadata come first
        scores = np.array(scores, dtype=np.float32, copy=True)
        scores[index] = -np.inf
        return cls(deployed, dense=scores)

    def in_context(self, context: Mapping[str, str]) -> Candidates:
        """These scores moved by what the request's context favours (unchanged without one)."""
        if self.deployed.context is None or not context:
            return self
        return Candidates(self.deployed, dense=self.deployed.in_context(self.scores(), context))

    def scores(self) -> np.ndarray:
        """Every item's raw score (dense)."""
        if self.dense is not None:
            return self.dense
        assert self.reached is not None
        dense = self.deployed.background().scores.copy()
        dense[self.reached[0]] = self.reached[1]
        return dense

    def top(self, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, list[float]]:
        """The k best allowed items, best first, with their scores."""
        if allowed is not None:
            allowed = fit(allowed, self.deployed.n_items if self.dense is None else len(self.dense))
        if self.reached is not None:
            items, scores, total = self.deployed.background().rank(*self.reached, k, allowed)
            return items, Background.probabilities(scores, total)
        assert self.dense is not None
        if self.cold:
            if allowed is None:
                return self.deployed.cold_start(k)
            none = np.empty(0, np.int64)
            items, scores, total = self.deployed.cold_background().rank(none, none, k, allowed)
            return items, Background.probabilities(scores, total)
        masked = self.dense if allowed is None else np.where(allowed, self.dense, -np.inf)
        chosen = top_k(masked, k)
        return chosen, softmax_at(self.dense, chosen)


def fit(mask: np.ndarray, n: int) -> np.ndarray:
    """A mask over ``n`` items (items that arrived while it was computed are not allowed)."""
    if len(mask) == n:
        return mask
    out = np.zeros(n, dtype=bool)
    out[: min(n, len(mask))] = mask[:n]
    return out
