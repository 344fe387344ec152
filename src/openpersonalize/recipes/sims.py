"""aws-sims: item-to-item collaborative filtering on co-occurrence in user histories.

``sim(i, j) = C_ij / (n_i · n_j) ** popularity_discount_factor`` where ``C_ij`` is the number of
users who interacted with both items and ``n_i`` the item's number of users; pairs with
``C_ij < min_cointeraction_count`` are dropped, and each item keeps its top ``SIMS_NEIGHBOURS``.
Items without neighbours (cold, or filtered away) fall back to popular items, as Personalize's
SIMS does. See docs/recipes/aws-sims.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from openpersonalize.data.snapshot import Snapshot
from openpersonalize.recipes._featurize import (
    filter_users_by_history_length,
    interaction_matrix,
    items_within_interaction_percentiles,
    unique_user_popularity,
)
from openpersonalize.recipes._item_item import ItemItemModel
from openpersonalize.recipes._topk import item_neighbours
from openpersonalize.recipes.base import CatalogueRecipe, Progress

NAME = "aws-sims"
SIMS_NEIGHBOURS = 200
# As a user model: the latest events, the most recent weighing most (half-life in events).
SIMS_HISTORY_WINDOW = 50
SIMS_HALF_LIFE = 10.0


class SimsModel(ItemItemModel):
    def item_scores(self, item: int) -> np.ndarray:
        """Neighbours in (1, 2] by similarity, every other item in [0, 1) by popularity, and the
        query item itself -1 (it is never "related to" itself)."""
        scores = self._fallback.copy()
        row = self.weights[item]
        indices, values = row.indices, row.data  # type: ignore[union-attr]
        if values.size:
            scores[indices] = 1.0 + values / values.max()
        scores[item] = -1.0
        return scores


class SimsRecipe(CatalogueRecipe):
    def fit(
        self,
        snapshot: Snapshot,
        params: Mapping[str, object],
        *,
        seed: int = 42,
        progress: Progress | None = None,
    ) -> SimsModel:
        # Deterministic counting; the seed is unused.
        values = self.values(params)
        discount, min_count = values["popularity_discount_factor"], values["min_cointeraction_count"]
        user_low = values["min_user_history_length_percentile"]
        user_high = values["max_user_history_length_percentile"]
        item_low = values["min_item_interaction_count_percentile"]
        item_high = values["max_item_interaction_count_percentile"]
        full = interaction_matrix(snapshot)
        full.data[:] = 1.0  # co-occurrence counts users, whatever the event weights
        training = filter_users_by_history_length(full, user_low, user_high)
        candidates = items_within_interaction_percentiles(training, item_low, item_high)
        neighbours = item_neighbours(
            training,
            n_neighbours=SIMS_NEIGHBOURS,
            discount=discount,
            min_count=min_count,
            candidates=candidates,
        )
        return SimsModel(
            NAME,
            snapshot.item_ids,
            neighbours,
            unique_user_popularity(full),
            history_window=SIMS_HISTORY_WINDOW,
            half_life=SIMS_HALF_LIFE,
            params={
                "popularity_discount_factor": discount,
                "min_cointeraction_count": min_count,
                "min_user_history_length_percentile": user_low,
                "max_user_history_length_percentile": user_high,
                "min_item_interaction_count_percentile": item_low,
                "max_item_interaction_count_percentile": item_high,
            },
        )

    def load(self, directory: Path) -> SimsModel:
        return SimsModel.load(directory)
