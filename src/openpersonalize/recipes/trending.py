"""aws-trending-now: the items whose interactions grow fastest.

Trend = interactions in the latest interval minus those in the interval before it (the rate of
increase Personalize describes), interval = ``trend_discovery_frequency``. A steadily popular item
does not trend; a rising one does, however small. Ties go to the item with more interactions now,
then to the more popular. When nothing happened in the last two intervals, popular items answer.

The model keeps the events of its last two intervals; serving adds the live events that came
after training (``trend_scores``), so the list moves with PutEvents without retraining. See
docs/recipes/aws-trending-now.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from openpersonalize.data.snapshot import Snapshot
from openpersonalize.recipes._featurize import interaction_matrix, tie_breaker, unique_user_popularity
from openpersonalize.recipes._io import (
    ids_from_array,
    ids_to_array,
    load_arrays,
    read_manifest,
    save_model_files,
)
from openpersonalize.recipes.base import CatalogueRecipe, Progress, manifest

NAME = "aws-trending-now"
INTERVALS = {"30 minutes": 1800, "1 hour": 3600, "2 hours": 7200, "3 hours": 10800, "1 day": 86400}


class TrendingModel:
    recipe = NAME

    def __init__(
        self,
        item_ids: np.ndarray,
        popularity: np.ndarray,
        interval: int,
        recent_items: np.ndarray,
        recent_times: np.ndarray,
    ) -> None:
        self.item_ids = item_ids
        self.popularity = np.asarray(popularity, np.float32)
        self.interval = interval
        # The training events of the last two intervals (item index, epoch seconds).
        self.recent_items = np.asarray(recent_items, np.int32)
        self.recent_times = np.asarray(recent_times, np.int64)
        self._static: np.ndarray | None = None

    def trend_scores(self, items: np.ndarray | None = None, times: np.ndarray | None = None) -> np.ndarray:
        """Scores (higher trends more) over the training events plus ``items``/``times`` (events
        after training), measured back from the latest of them."""
        all_items, all_times = self.recent_items, self.recent_times
        if items is not None and times is not None and len(items):
            all_items = np.concatenate([all_items, np.asarray(items, np.int32)])
            all_times = np.concatenate([all_times, np.asarray(times, np.int64)])
        if not len(all_times):
            return tie_breaker(self.popularity)
        now = int(all_times.max())
        n = len(self.item_ids)
        latest = all_times > now - self.interval
        before = ~latest & (all_times > now - 2 * self.interval)
        current = np.bincount(all_items[latest], minlength=n).astype(np.float64)
        previous = np.bincount(all_items[before], minlength=n).astype(np.float64)
        if not (current.any() or previous.any()):
            return tie_breaker(self.popularity)
        # Rank by (growth, current count, popularity); scores are the ranks, exact in float32.
        order = np.lexsort((self.popularity, current, current - previous))
        scores = np.empty(n, np.float32)
        scores[order] = np.arange(n, dtype=np.float32) / max(n, 1)
        return scores

    def user_scores(self, history: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """The same list for everyone (as trained; serving adds live events)."""
        if self._static is None:
            self._static = self.trend_scores()
        return self._static.copy()

    def item_scores(self, item: int) -> np.ndarray:
        return self.user_scores(np.empty(0, np.int32))

    def save(self, directory: Path) -> None:
        save_model_files(
            directory,
            manifest(NAME, params={"interval_seconds": self.interval}, n_items=len(self.item_ids)),
            {
                "item_ids": ids_to_array(self.item_ids),
                "popularity": self.popularity,
                "recent_items": self.recent_items,
                "recent_times": self.recent_times,
            },
        )

    @classmethod
    def load(cls, directory: Path) -> TrendingModel:
        interval = int(read_manifest(directory)["params"]["interval_seconds"])
        a = load_arrays(directory)
        return cls(
            ids_from_array(a["item_ids"]), a["popularity"], interval, a["recent_items"], a["recent_times"]
        )


class TrendingRecipe(CatalogueRecipe):
    def fit(
        self,
        snapshot: Snapshot,
        params: Mapping[str, object],
        *,
        seed: int = 42,
        progress: Progress | None = None,
    ) -> TrendingModel:
        # Counting only: the seed has nothing to drive.
        interval = INTERVALS[self.values(params)["trend_discovery_frequency"]]
        popularity = unique_user_popularity(interaction_matrix(snapshot))
        if snapshot.n_interactions:
            keep = snapshot.timestamps > int(snapshot.timestamps.max()) - 2 * interval
        else:
            keep = np.zeros(0, bool)
        return TrendingModel(
            snapshot.item_ids, popularity, interval, snapshot.items[keep], snapshot.timestamps[keep]
        )

    def load(self, directory: Path) -> TrendingModel:
        return TrendingModel.load(directory)
