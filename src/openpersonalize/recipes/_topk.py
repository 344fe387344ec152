"""Sparse item-item neighbourhoods with bounded memory.

The co-occurrence matrix XᵀX of a large catalog does not fit in memory, so it is computed a
block of items at a time (blocks in parallel) and only the top-N neighbours of each item are kept.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

from openpersonalize.recipes.threads import default_training_threads

# Upper bound on (items in a block) x (catalog size): caps the transient block product.
BLOCK_CELLS = 20_000_000


def top_n_per_row(matrix: sp.csr_matrix, n: int) -> sp.csr_matrix:
    """Keep the ``n`` largest entries of every row (ties: lower column first)."""
    matrix = sp.csr_matrix(matrix)
    matrix.sort_indices()
    lengths = np.diff(matrix.indptr)
    if n <= 0:
        return sp.csr_matrix(matrix.shape, dtype=matrix.dtype)
    if lengths.size == 0 or lengths.max(initial=0) <= n:
        return matrix
    rows = np.repeat(np.arange(matrix.shape[0]), lengths)
    # Within each row: descending value, then ascending column (stable) -> deterministic.
    order = np.lexsort((matrix.indices, -matrix.data, rows))
    rank = np.arange(order.size) - np.repeat(matrix.indptr[:-1], lengths)
    keep = order[rank < n]
    kept_rows = rows[keep]
    result = sp.csr_matrix(
        (matrix.data[keep], (kept_rows, matrix.indices[keep])), shape=matrix.shape, dtype=matrix.dtype
    )
    result.sort_indices()
    return result


def item_neighbours(
    matrix: sp.csr_matrix,
    *,
    n_neighbours: int,
    discount: float,
    min_count: float = 0.0,
    candidates: np.ndarray | None = None,
) -> sp.csr_matrix:
    """items x items similarities, top ``n_neighbours`` per row, zero diagonal.

        ``sim(i, j) = C_ij / (s_i * s_j) ** discount`` where ``C = XᵀX`` (co-interaction counts for
        a binary X) and ``s_i = C_ii`` (the item's number of users). ``discount`` = 0.5 is the
        cosine; 0 ranks by raw co-occurrence (popular items win); 1 is a lift-like ratio that
        favours rare items. Pairs with ``C_ij < min_count`` are dropped (too little evidence), and
    only items where the boolean mask ``candidates`` is true can be neighbours.
    """
    n_items = matrix.shape[1]
    by_item = sp.csr_matrix(matrix.T, dtype=np.float32)
    by_user = sp.csr_matrix(matrix, dtype=np.float32)
    self_counts = np.asarray(by_item.multiply(by_item).sum(axis=1), dtype=np.float64).ravel()
    scale = np.zeros(n_items, dtype=np.float64)
    present = self_counts > 0
    scale[present] = self_counts[present] ** -discount
    block = max(1, BLOCK_CELLS // max(n_items, 1))

    def neighbours_of(start: int) -> sp.csr_matrix:
        stop = min(start + block, n_items)
        counts = sp.coo_matrix(sp.csr_matrix(by_item[start:stop] @ by_user))
        rows, cols, values = counts.row, counts.col, counts.data
        keep = (rows + start != cols) & (values >= max(min_count, np.finfo(np.float32).tiny))
        if candidates is not None:
            keep &= candidates[cols]
        rows, cols, values = rows[keep], cols[keep], values[keep].astype(np.float64)
        sims = (values * scale[rows + start] * scale[cols]).astype(np.float32)
        part = sp.csr_matrix((sims, (rows, cols)), shape=(stop - start, n_items), dtype=np.float32)
        return top_n_per_row(part, n_neighbours)

    # Blocks are independent and scipy's product and numpy's sorts release the GIL: one thread
    # per training CPU (the same result in any order, as blocks are stacked by position).
    starts = range(0, n_items, block)
    workers = min(default_training_threads(), len(starts))
    if workers > 1:
        with ThreadPoolExecutor(workers, thread_name_prefix="neighbours") as pool:
            blocks = list(pool.map(neighbours_of, starts))
    else:
        blocks = [neighbours_of(start) for start in starts]
    if not blocks:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    return sp.csr_matrix(sp.vstack(blocks, format="csr"), dtype=np.float32)
