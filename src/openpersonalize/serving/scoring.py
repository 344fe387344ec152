"""Top-k and AWS-style softmax scores, over a dense score vector or a sparse one on a background.

Sparse scoring serves big catalogues: a user's history reaches a few thousand items; every other
item shares a user-independent background score. The top k then comes from the reached items
and the best background items (ordered once per model), and the softmax normaliser from the
reached items plus a per-model constant — no pass over the whole catalogue per request.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best finite scores, best first (NaN and -inf are never recommended)."""
    if np.isnan(scores).any():
        scores = np.where(np.isnan(scores), -np.inf, scores)
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, np.int64)
    candidates = np.argpartition(-scores, k - 1)[:k]
    candidates = candidates[np.argsort(-scores[candidates], kind="stable")]
    return candidates[np.isfinite(scores[candidates])]


def softmax_at(scores: np.ndarray, chosen: np.ndarray) -> list[float]:
    """AWS scores: a softmax over all candidates, reported for the chosen ones."""
    if not len(chosen) or not len(scores):
        return []
    finite = np.isfinite(scores)
    peak = float(scores[chosen[0]]) if np.isfinite(scores[chosen[0]]) else float(np.max(scores[finite]))
    total = float(np.exp(np.where(finite, scores - peak, -np.inf), dtype=np.float64).sum())
    return [float(v) for v in (np.exp(scores[chosen].astype(np.float64) - peak) / total).tolist()]


@dataclass
class Background:
    """A model's user-independent scores for items a history does not reach (or, for users with
    no history, every item's score)."""

    scores: np.ndarray
    order: np.ndarray  # item indices, best background score first
    peak: float  # the best finite score
    exp_total: float  # sum of exp(scores - peak): the softmax normaliser's background part

    @classmethod
    def of(cls, scores: np.ndarray) -> Background:
        scores = scores.astype(np.float32)
        order = np.argsort(-scores, kind="stable")
        finite = scores[np.isfinite(scores)]
        peak = float(finite.max()) if len(finite) else 0.0
        return cls(scores, order, peak, float(np.exp(finite.astype(np.float64) - peak).sum()))

    def rank(
        self, reached: np.ndarray, reached_scores: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """(top k items among the ``allowed`` ones, their scores, softmax normaliser relative to the
        best of them). The normaliser covers the whole catalogue, whatever ``allowed`` leaves out."""
        every_reached = reached
        if allowed is not None:
            keep = allowed[reached]
            reached, reached_scores_kept = reached[keep], reached_scores[keep]
        else:
            reached_scores_kept = reached_scores
        taken = np.zeros(len(self.scores), dtype=bool)
        taken[every_reached] = True
        filler = self._first(k, taken, len(every_reached), allowed)
        items = np.concatenate([reached, filler])
        scores = np.concatenate([reached_scores_kept, self.scores[filler]])
        best = top_k(scores, k)
        items, scores = items[best], scores[best]
        if not len(items):
            return items, scores, 1.0
        peak = float(scores[0])
        reached64 = reached_scores.astype(np.float64)
        # Σ over all items = Σ reached exp(s - peak) + e^(P - peak) (Σ_all exp(b - P) - Σ_reached exp(b - P))
        reached_background = self.scores[every_reached].astype(np.float64) - self.peak
        background = self.exp_total - float(np.exp(reached_background[np.isfinite(reached_background)]).sum())
        total = float(np.exp(reached64 - peak).sum()) + np.exp(self.peak - peak) * max(background, 0.0)
        return items, scores, total

    def _first(self, k: int, taken: np.ndarray, n_taken: int, allowed: np.ndarray | None) -> np.ndarray:
        """The k best background items neither taken nor disallowed. The order is read in growing
        chunks: a filter leaving 1% of a big catalogue needs a few thousand items, not all."""
        found: list[np.ndarray] = []
        count, start, size = 0, 0, max(4 * k, 256) + n_taken
        while count < k and start < len(self.order):
            chunk = self.order[start : start + size]
            keep = ~taken[chunk] if allowed is None else allowed[chunk] & ~taken[chunk]
            found.append(chunk[keep])
            count += len(found[-1])
            start, size = start + size, size * 4
        return np.concatenate(found)[:k] if found else np.empty(0, np.int64)

    @staticmethod
    def probabilities(scores: np.ndarray, total: float) -> list[float]:
        if not len(scores):
            return []
        peak = float(scores[0])
        return [float(v) for v in (np.exp(scores.astype(np.float64) - peak) / total).tolist()]
