"""aws-user-personalization and aws-personalized-ranking: implicit-feedback top-N from the
user's history at request time.

Catalogs up to ``EASE_MAX_ITEMS`` items train EASE (dense item x item weights, the strongest
simple model for this size); larger catalogs train a cosine item-kNN with the top
``KNN_NEIGHBOURS`` neighbours per item, which keeps memory O(items x neighbours). Both score a
user as a recency-weighted sum of the rows of their latest history items, so PutEvents changes
the next recommendations without retraining. See docs/recipes/aws-user-personalization.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from openpersonalize.data.snapshot import Snapshot
from openpersonalize.recipes._featurize import (
    filter_users_by_history_length,
    interaction_matrix,
    unique_user_popularity,
)
from openpersonalize.recipes._item_item import ItemItemModel
from openpersonalize.recipes._topk import item_neighbours
from openpersonalize.recipes.base import CatalogueRecipe, Progress
from openpersonalize.recipes.threads import blas_threads

# EASE holds a dense float32 items x items matrix: 20k items = 1.6 GB in training and serving.
EASE_MAX_ITEMS = 20_000
KNN_NEIGHBOURS = 200
# Latest events used per request: bounds the work per request (rows of the weight matrix read).
# A dense EASE row is n_items floats, so big catalogs read fewer rows: at most
# HISTORY_CELLS_BUDGET floats (20 MB, ~1-2 ms), but never fewer than MIN_HISTORY_WINDOW events.
HISTORY_WINDOW = 500
MIN_HISTORY_WINDOW = 100
HISTORY_CELLS_BUDGET = 5_000_000
# With recency_mask=true an event weighs FLOOR + (1 - FLOOR) * 0.5 ** (age / HALF_LIFE), age =
# number of newer events: the last few events count most (next-item accuracy) while the whole
# history still counts (taste). Floor 0.55 is the trade benchmarks/quality.py measured: at least
# every peer on ML-100k and poc-movielens by time, and 0.97x the best (iALS) on a random split.
RECENCY_HALF_LIFE = 5.0
RECENCY_FLOOR = 0.55


@dataclass(frozen=True)
class UserPersonalizationConfig:
    recency_mask: bool
    min_user_history_length_percentile: float
    max_user_history_length_percentile: float
    ease_l2: float
    # Validated for compatibility; neither EASE nor item-kNN has a hidden layer or BPTT window.
    hidden_dimension: int
    bptt: int

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> UserPersonalizationConfig:
        return cls(**{f.name: values[f.name] for f in fields(cls)})


class UserPersonalizationRecipe(CatalogueRecipe):
    def fit(
        self,
        snapshot: Snapshot,
        params: Mapping[str, object],
        *,
        seed: int = 42,
        progress: Progress | None = None,
    ) -> ItemItemModel:
        # Both algorithms are deterministic closed forms; the seed has nothing to drive.
        config = UserPersonalizationConfig.from_values(self.values(params))
        full = interaction_matrix(snapshot)
        popularity = unique_user_popularity(full)
        training = filter_users_by_history_length(
            full, config.min_user_history_length_percentile, config.max_user_history_length_percentile
        )
        weights: np.ndarray | sp.csr_matrix
        with blas_threads():
            if snapshot.n_items <= EASE_MAX_ITEMS:
                from openpersonalize.recipes._ease import ease_weights

                weights, algorithm = ease_weights(training, config.ease_l2), "ease"
                window = min(
                    HISTORY_WINDOW, max(MIN_HISTORY_WINDOW, HISTORY_CELLS_BUDGET // max(snapshot.n_items, 1))
                )
            else:
                weights = item_neighbours(training, n_neighbours=KNN_NEIGHBOURS, discount=0.5)
                algorithm, window = "item-knn", HISTORY_WINDOW
        return ItemItemModel(
            self.name,
            snapshot.item_ids,
            weights,
            popularity,
            history_window=window,
            half_life=RECENCY_HALF_LIFE if config.recency_mask else 0.0,
            recency_floor=RECENCY_FLOOR,
            params={"algorithm": algorithm, **asdict(config)},
        )

    def load(self, directory: Path) -> ItemItemModel:
        return ItemItemModel.load(directory)
