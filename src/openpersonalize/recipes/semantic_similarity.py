"""aws-semantic-similarity: items whose text means something similar.

Each item's ``textual`` fields are embedded with all-MiniLM-L6-v2 (``snapshot.item_text_vectors``)
and every item keeps its ``NEIGHBOURS`` nearest by cosine. Interactions are optional: with them,
popularity can lift related items; with ``CREATION_TIMESTAMP``, freshness can — as much as the
campaign's ``rankingInfluence`` (``POPULARITY``, ``FRESHNESS``, 0–1) says, both computed at
training, as AWS does. Items written after training are related through their text by serving's
cold items. See docs/recipes/aws-semantic-similarity.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Self

import numpy as np
import scipy.sparse as sp

from openpersonalize.data.snapshot import Snapshot
from openpersonalize.errors import DataError
from openpersonalize.recipes._featurize import interaction_matrix, unique_user_popularity
from openpersonalize.recipes.base import CatalogueRecipe, Progress
from openpersonalize.recipes.similar_items import metadata_neighbours
from openpersonalize.recipes.sims import SIMS_HALF_LIFE, SIMS_HISTORY_WINDOW, SimsModel

NEIGHBOURS = 100
TEXT_DIMS = 384
INFLUENCE_FILE = "influence.npz"


class SemanticModel(SimsModel):
    covers_cold_items = True  # every item is scored from its text, interactions or not
    freshness: np.ndarray = np.empty(0, np.float32)  # CREATION_TIMESTAMP as a rank in [0, 1]

    def influenced_scores(self, item: int, popularity: float, freshness: float) -> np.ndarray:
        """``item_scores`` with the related items lifted by their popularity and freshness."""
        scores = self.item_scores(item)
        related = scores > 1.0
        if related.any() and (popularity or freshness):
            top = float(self.popularity.max()) or 1.0
            lift = popularity * self.popularity / top + freshness * self.freshness
            scores[related] += lift[related].astype(np.float32)
        return scores

    def save(self, directory: Path) -> None:
        super().save(directory)
        np.savez(directory / INFLUENCE_FILE, freshness=self.freshness)

    @classmethod
    def load(cls, directory: Path) -> Self:
        model = super().load(directory)
        with np.load(directory / INFLUENCE_FILE, allow_pickle=False) as data:
            model.freshness = data["freshness"]
        return model


class SemanticSimilarityRecipe(CatalogueRecipe):
    def fit(
        self,
        snapshot: Snapshot,
        params: Mapping[str, object],
        *,
        seed: int = 42,
        progress: Progress | None = None,
    ) -> SemanticModel:
        self.values(params)
        text = snapshot.item_text_vectors
        schema = snapshot.items_schema
        if text is None or schema is None or not any(f.item_name for f in schema.fields):
            raise DataError(
                "Create failed. aws-semantic-similarity needs an Items dataset with a string field marked "
                '"itemName": true and at least one "textual" field.'
            )
        weights = metadata_neighbours(text, TEXT_DIMS, NEIGHBOURS, seed)
        matrix = interaction_matrix(snapshot)
        model = SemanticModel(
            self.name,
            snapshot.item_ids,
            sp.csr_matrix(weights, dtype=np.float32),
            unique_user_popularity(matrix),
            history_window=SIMS_HISTORY_WINDOW,
            half_life=SIMS_HALF_LIFE,
            params={"neighbours": NEIGHBOURS},
        )
        model.freshness = _freshness(snapshot)
        return model

    def load(self, directory: Path) -> SemanticModel:
        return SemanticModel.load(directory)


def _freshness(snapshot: Snapshot) -> np.ndarray:
    """Each item's CREATION_TIMESTAMP as its rank among the items' (newest 1, unknown 0)."""
    table = snapshot.items_table
    out = np.zeros(snapshot.n_items, np.float32)
    if table is None or "CREATION_TIMESTAMP" not in table.column_names:
        return out
    index = snapshot.item_index()
    created = {
        str(r["ITEM_ID"]): r["CREATION_TIMESTAMP"]
        for r in table.select(["ITEM_ID", "CREATION_TIMESTAMP"]).to_pylist()
    }
    known = [(index[i], float(t)) for i, t in created.items() if t is not None and i in index]
    if known:
        positions = np.array([p for p, _ in known])
        times = np.array([t for _, t in known])
        ranks = np.argsort(np.argsort(times, kind="stable"), kind="stable")
        out[positions] = (ranks + 1) / len(known)
    return out
