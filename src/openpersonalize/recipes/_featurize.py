"""Training-data preparation shared by the recipes: the user x item matrix, Personalize's
percentile filters, and unique-user popularity."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from openpersonalize.data.snapshot import Snapshot


def interaction_matrix(snapshot: Snapshot) -> sp.csr_matrix:
    """users x items, float32; a cell is the largest event weight of that pair (1.0 unweighted).

    Repeats do not add up: for implicit top-N, *that* a user interacted matters, and counting
    repeats lets a few heavy users dominate the item-item statistics.
    """
    shape = (snapshot.n_users, snapshot.n_items)
    if snapshot.n_interactions == 0:
        return sp.csr_matrix(shape, dtype=np.float32)
    weight = float(snapshot.weights[0])
    if weight > 0 and (snapshot.weights == weight).all():  # unweighted: no max to take, a fast path
        matrix = snapshot.matrix()
        matrix.data[:] = weight
        return matrix
    order = np.lexsort((snapshot.items, snapshot.users))
    users, items = snapshot.users[order], snapshot.items[order]
    weights = snapshot.weights[order].astype(np.float32)
    starts = np.flatnonzero(np.r_[True, (users[1:] != users[:-1]) | (items[1:] != items[:-1])])
    cell_weights = np.maximum.reduceat(weights, starts)
    matrix = sp.csr_matrix((cell_weights, (users[starts], items[starts])), shape=shape, dtype=np.float32)
    matrix.eliminate_zeros()
    return matrix


def unique_user_popularity(matrix: sp.csr_matrix) -> np.ndarray:
    """Number of distinct users per item (float32)."""
    return np.asarray((matrix > 0).sum(axis=0), dtype=np.float32).ravel()


def tie_breaker(popularity: np.ndarray) -> np.ndarray:
    """Popularity squashed into [0, 1): orders otherwise equal scores, popular first."""
    top = float(popularity.max()) if popularity.size else 0.0
    if top <= 0:
        return np.zeros_like(popularity, dtype=np.float32)
    return (popularity / (top * 1.0001)).astype(np.float32)


def _percentile_bounds(counts: np.ndarray, low: float, high: float) -> tuple[float, float]:
    if counts.size == 0:
        return 0.0, 0.0
    lower = float(np.quantile(counts, low)) if low > 0 else -np.inf
    upper = float(np.quantile(counts, high)) if high < 1 else np.inf
    return lower, upper


def filter_users_by_history_length(matrix: sp.csr_matrix, low: float, high: float) -> sp.csr_matrix:
    """Drop (zero out) users whose history length lies outside the [low, high] percentiles,
    as Personalize's min/max_user_history_length_percentile do (e.g. bots with huge histories)."""
    lengths = np.diff(matrix.indptr)
    active = lengths > 0
    lower, upper = _percentile_bounds(lengths[active], low, high)
    keep = active & (lengths >= lower) & (lengths <= upper)
    if keep.all() or not keep.any():  # never filter the whole data set away
        return matrix
    return sp.csr_matrix(sp.diags(keep.astype(np.float32)) @ matrix)


def items_within_interaction_percentiles(matrix: sp.csr_matrix, low: float, high: float) -> np.ndarray:
    """Boolean mask of items whose distinct-user count lies within the [low, high] percentiles
    (over items with at least one interaction)."""
    counts = unique_user_popularity(matrix)
    active = counts > 0
    lower, upper = _percentile_bounds(counts[active], low, high)
    mask: np.ndarray = active & (counts >= lower) & (counts <= upper)
    return mask if mask.any() else active
