"""aws-similar-items: related items from co-occurrence and item metadata (categories and text).

Two similarities per pair of items, blended per query item by how much evidence it has:
- co-occurrence: the cosine of the two items' user sets (as SIMS with discount 0.5, no item
  percentile exclusions, at least one shared user);
- metadata: the cosine of the items' metadata vectors (``snapshot.item_vectors``: categories,
  numbers, all-MiniLM-L6-v2 text), compressed to ``item_metadata_hidden_dim`` dimensions by PCA
  so all pairs can be compared.

``sim(i, ·) = w_i · cooc(i, ·) + (1 − w_i) · meta(i, ·)`` with ``w_i = n_i / (n_i + EVIDENCE)``,
``n_i`` the item's number of users: an item without interactions is related by its metadata
alone, a popular one mostly by what users do. Each item keeps its top ``NEIGHBOURS``. Without an
Items dataset (or any usable field) it is co-occurrence only. As AWS, results carry no score.
See docs/recipes/aws-similar-items.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from openpersonalize.data.snapshot import Snapshot
from openpersonalize.recipes._featurize import interaction_matrix, unique_user_popularity
from openpersonalize.recipes._topk import BLOCK_CELLS, item_neighbours, top_n_per_row
from openpersonalize.recipes.base import CatalogueRecipe, Progress
from openpersonalize.recipes.sims import SIMS_HALF_LIFE, SIMS_HISTORY_WINDOW, SimsModel

NEIGHBOURS = 100
EVIDENCE = 10.0  # users at which co-occurrence and metadata weigh the same


class SimilarItemsModel(SimsModel):
    # Its items without interactions are already scored from their metadata: serving's cold
    # items only add the items written after training.
    covers_cold_items = True


def metadata_neighbours(vectors: np.ndarray, dims: int, n: int, seed: int) -> sp.csr_matrix:
    """Top ``n`` cosine neighbours of every item by its metadata vector (zero rows: none)."""
    n_items = len(vectors)
    present = np.linalg.norm(vectors, axis=1) > 0
    if present.sum() < 2:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    reduced = _pca(vectors.astype(np.float32), dims, seed)
    norms = np.linalg.norm(reduced, axis=1, keepdims=True)
    reduced = np.divide(reduced, norms, out=np.zeros_like(reduced), where=norms > 0)
    rows, cols, values = [], [], []
    k = min(n, n_items - 1)
    block = max(1, BLOCK_CELLS // max(n_items, 1))
    for start in range(0, n_items, block):
        similarity = reduced[start : start + block] @ reduced.T
        similarity[np.arange(len(similarity)), np.arange(start, start + len(similarity))] = -np.inf
        top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        best = np.take_along_axis(similarity, top, axis=1)
        keep = (best > 0) & present[start : start + len(similarity), None]
        rows.append(np.nonzero(keep)[0] + start)
        cols.append(top[keep])
        values.append(best[keep])
    return sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_items, n_items),
        dtype=np.float32,
    )


def _pca(vectors: np.ndarray, dims: int, seed: int) -> np.ndarray:
    """The vectors projected on their ``dims`` main directions (fitted on a sample of rows)."""
    if vectors.shape[1] <= dims:
        return vectors
    rng = np.random.default_rng(seed)
    sample = vectors[rng.choice(len(vectors), size=min(len(vectors), 20_000), replace=False)]
    mean = sample.mean(axis=0)
    _, _, components = np.linalg.svd(sample - mean, full_matrices=False)
    projected: np.ndarray = (vectors - mean) @ components[:dims].T
    return projected


class SimilarItemsRecipe(CatalogueRecipe):
    def fit(
        self,
        snapshot: Snapshot,
        params: Mapping[str, object],
        *,
        seed: int = 42,
        progress: Progress | None = None,
    ) -> SimilarItemsModel:
        values = self.values(params)
        binary = interaction_matrix(snapshot)
        binary.data[:] = 1.0
        popularity = unique_user_popularity(binary)
        cooc = item_neighbours(binary, n_neighbours=NEIGHBOURS, discount=0.5, min_count=1)
        if progress is not None:
            progress(0.5)
        weights = cooc
        if snapshot.item_vectors is not None and snapshot.item_vectors.shape[1]:
            meta = metadata_neighbours(
                snapshot.item_vectors, values["item_metadata_hidden_dim"], NEIGHBOURS, seed
            )
            evidence = (popularity / (popularity + EVIDENCE)).astype(np.float32)
            weights = sp.diags(evidence) @ cooc + sp.diags(1.0 - evidence) @ meta
            weights = top_n_per_row(sp.csr_matrix(weights, dtype=np.float32), NEIGHBOURS)
        if progress is not None:
            progress(1.0)
        return SimilarItemsModel(
            self.name,
            snapshot.item_ids,
            sp.csr_matrix(weights, dtype=np.float32),
            popularity,
            history_window=SIMS_HISTORY_WINDOW,
            half_life=SIMS_HALF_LIFE,
            params={
                "item_metadata_hidden_dim": values["item_metadata_hidden_dim"],
                "metadata": weights is not cooc,
            },
        )

    def load(self, directory: Path) -> SimilarItemsModel:
        return SimilarItemsModel.load(directory)
