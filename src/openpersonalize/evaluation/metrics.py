"""Personalize's offline metrics (spec §10) and the evaluation loop that produces them.

Every metric ranks against the full catalog (never sampled negatives), so the numbers are
comparable with GetSolutionMetrics. All metrics are computed from one boolean "hit" matrix
(test users x rank positions), which keeps them vectorised and mutually consistent.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from openpersonalize.evaluation.split import Split
from openpersonalize.recipes.base import Model

METRIC_NAMES = (
    "coverage",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
)
CUTOFFS = (5, 10, 25)
MRR_CUTOFF = 25
_NO_ITEM = -1  # pads ranked lists shorter than the widest one


def ranking_metrics(
    recommended: Sequence[np.ndarray], relevant: Sequence[np.ndarray], *, catalog_size: int
) -> dict[str, float]:
    """The METRIC_NAMES map for per-user ranked lists (best first) against per-user relevant sets.

    NDCG@K uses gain 1/log2(1 + position) and divides by the ideal DCG over min(K, |relevant|)
    positions; MRR@25 is 1/rank of the first relevant item in the top 25 (0 if none);
    precision@K is hits/K even when fewer than K items were recommended; coverage is the number
    of distinct recommended items over ``catalog_size``. With no test users every metric is 0.
    """
    if catalog_size <= 0:
        raise ValueError(f"catalog_size must be positive, got {catalog_size}")
    ranked = _pad(recommended, MRR_CUTOFF)
    hits = _hit_matrix(ranked, relevant)
    n_relevant = np.array([len(np.unique(r)) for r in relevant], dtype=np.int64)
    metrics = {"coverage": _distinct_items(ranked) / catalog_size}
    metrics["mean_reciprocal_rank_at_25"] = _mean(_reciprocal_ranks(hits[:, :MRR_CUTOFF]))
    for k in CUTOFFS:
        metrics[f"normalized_discounted_cumulative_gain_at_{k}"] = _mean(_ndcg(hits, n_relevant, k))
    for k in CUTOFFS:
        metrics[f"precision_at_{k}"] = _mean(hits[:, :k].sum(axis=1) / k)
    return {name: float(metrics[name]) for name in METRIC_NAMES}


def recall_at(recommended: Sequence[np.ndarray], relevant: Sequence[np.ndarray], k: int) -> float:
    """Mean over users of (relevant items in the top k) / |relevant|; users without relevant
    items count as 0."""
    hits = _hit_matrix(_pad(recommended, k), relevant)[:, :k]
    n_relevant = np.array([len(np.unique(r)) for r in relevant], dtype=np.float64)
    per_user = np.divide(hits.sum(axis=1), n_relevant, out=np.zeros(len(n_relevant)), where=n_relevant > 0)
    return _mean(per_user)


def hit_rate_at(recommended: Sequence[np.ndarray], relevant: Sequence[np.ndarray], k: int) -> float:
    """Share of users with at least one relevant item in their top k (HR@k)."""
    hits = _hit_matrix(_pad(recommended, k), relevant)[:, :k]
    return _mean(np.asarray(hits.any(axis=1), dtype=np.float64))


def evaluate(
    model: Model, split: Split, *, k: int = 25, exclude_history: bool = True, batch: int = 256
) -> dict[str, float]:
    """Recommend the top ``k`` of all items to every test user from their history and score the
    lists with ``ranking_metrics``. Items in the history are never recommended when
    ``exclude_history`` (as a recipe's "exclude interacted items" filter would do)."""
    if k < 1 or batch < 1:
        raise ValueError(f"k and batch must be positive, got k={k}, batch={batch}")
    n_items = split.train.n_items
    recommended: list[np.ndarray] = []
    for start in range(0, split.n_test_users, batch):
        histories = split.histories[start : start + batch]
        scores = np.stack([_score_row(model, history, n_items) for history in histories])
        if exclude_history:
            rows = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
            scores[rows, np.concatenate(histories).astype(np.int64)] = -np.inf
        recommended.extend(top_k(scores, k))
    return ranking_metrics(recommended, split.relevant, catalog_size=n_items)


def top_k(scores: np.ndarray, k: int) -> list[np.ndarray]:
    """Per row of a (users x items) score matrix: the indices of the k best items, best first
    (equal scores in the top k by lower item index). Items scored -inf or NaN are never
    returned, so a row can yield fewer than k items."""
    n_users, n_items = scores.shape
    k = min(k, n_items)
    if k == 0:
        return [np.empty(0, dtype=np.int32) for _ in range(n_users)]
    # argpartition ranks NaN above every number; treat it like an excluded item instead.
    if np.isnan(scores).any():
        scores = np.where(np.isnan(scores), -np.inf, scores)
    candidates = np.argpartition(scores, n_items - k, axis=1)[:, n_items - k :]
    candidate_scores = np.take_along_axis(scores, candidates, axis=1)
    # lexsort: last key is primary -> descending score, then ascending item index.
    order = np.lexsort((candidates, -candidate_scores), axis=1)
    ranked = np.take_along_axis(candidates, order, axis=1)
    ranked_scores = np.take_along_axis(candidate_scores, order, axis=1)
    return [
        row[row_scores > -np.inf].astype(np.int32)
        for row, row_scores in zip(ranked, ranked_scores, strict=True)
    ]


def _score_row(model: Model, history: np.ndarray, n_items: int) -> np.ndarray:
    row = np.asarray(model.user_scores(history), dtype=np.float32)
    if row.shape != (n_items,):
        raise ValueError(f"{model.recipe} scored {row.shape} items; the split's catalog has {n_items}")
    return row


def _pad(recommended: Sequence[np.ndarray], min_width: int) -> np.ndarray:
    """Ranked lists as one (users x width) int64 matrix padded with _NO_ITEM."""
    width = max([min_width, *(len(r) for r in recommended)])
    ranked = np.full((len(recommended), width), _NO_ITEM, dtype=np.int64)
    for row, items in enumerate(recommended):
        ranked[row, : len(items)] = items
    return ranked


def _hit_matrix(ranked: np.ndarray, relevant: Sequence[np.ndarray]) -> np.ndarray:
    """hits[u, p] is true when the item at position p for user u is relevant to u. A relevant item
    listed twice counts once, so no metric can exceed its ideal value."""
    if len(relevant) != len(ranked):
        raise ValueError(f"{len(ranked)} recommendation lists for {len(relevant)} relevant sets")
    n_users, width = ranked.shape
    # Encode (user, item) pairs as one int64 so membership for all users is a single isin.
    base = max(int(ranked.max(initial=0)), *(int(r.max(initial=0)) for r in relevant), 0) + 1
    users = np.arange(n_users, dtype=np.int64)
    ranked_codes = users[:, None] * base + ranked
    relevant_codes = np.concatenate(
        [np.empty(0, dtype=np.int64)]
        + [u * base + np.asarray(r, dtype=np.int64) for u, r in enumerate(relevant)]
    )
    hits = np.isin(ranked_codes, relevant_codes) & (ranked != _NO_ITEM)
    first = np.zeros(n_users * width, dtype=bool)
    first[np.unique(ranked_codes.ravel(), return_index=True)[1]] = True
    return hits & first.reshape(n_users, width)


def _reciprocal_ranks(hits: np.ndarray) -> np.ndarray:
    first_hit = hits.argmax(axis=1)
    return np.where(hits.any(axis=1), 1.0 / (first_hit + 1), 0.0)


def _ndcg(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    gains = 1.0 / np.log2(np.arange(2, k + 2))  # position p (1-based) -> 1/log2(1 + p)
    dcg = hits[:, :k] @ gains
    ideal_positions = np.minimum(n_relevant, k)
    ideal = np.concatenate([[0.0], np.cumsum(gains)])[ideal_positions]
    return np.divide(dcg, ideal, out=np.zeros(len(dcg)), where=ideal > 0)


def _distinct_items(ranked: np.ndarray) -> int:
    return len(np.unique(ranked[ranked != _NO_ITEM]))


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else 0.0
