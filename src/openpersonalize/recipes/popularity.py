"""aws-popularity-count: the most popular items, popularity = number of distinct users.

The same list for every user (history is ignored) and for every item; Personalize's
recommended baseline for offline metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from openpersonalize.data.snapshot import Snapshot
from openpersonalize.recipes._featurize import interaction_matrix, unique_user_popularity
from openpersonalize.recipes._io import (
    ids_from_array,
    ids_to_array,
    load_arrays,
    read_manifest,
    save_model_files,
)
from openpersonalize.recipes.base import CatalogueRecipe, Progress, manifest

NAME = "aws-popularity-count"


class PopularityModel:
    recipe = NAME

    def __init__(self, item_ids: np.ndarray, popularity: np.ndarray) -> None:
        self.item_ids = item_ids
        self.popularity = np.asarray(popularity, dtype=np.float32)

    def user_scores(self, history: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return self.popularity.copy()

    def item_scores(self, item: int) -> np.ndarray:
        return self.popularity.copy()

    def save(self, directory: Path) -> None:
        save_model_files(
            directory,
            manifest(NAME, params={}, n_items=len(self.item_ids)),
            {"item_ids": ids_to_array(self.item_ids), "popularity": self.popularity},
        )


class PopularityCountRecipe(CatalogueRecipe):
    def fit(
        self,
        snapshot: Snapshot,
        params: Mapping[str, object],
        *,
        seed: int = 42,
        progress: Progress | None = None,
    ) -> PopularityModel:
        # No hyperparameters; the result is deterministic, so the seed is unused.
        return PopularityModel(snapshot.item_ids, unique_user_popularity(interaction_matrix(snapshot)))

    def load(self, directory: Path) -> PopularityModel:
        read_manifest(directory)
        arrays = load_arrays(directory)
        return PopularityModel(ids_from_array(arrays["item_ids"]), arrays["popularity"])
