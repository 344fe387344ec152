"""aws-item-affinity and aws-item-attribute-affinity (USER_SEGMENTATION): the users most likely
to interact with given items, or with items of given attribute values.

The item model is User-Personalization's (EASE, or item-kNN for big catalogues): a user's
affinity for item ``i`` is their history's score for it, ``x_u · B[:, i]``, so
``users_for(items)`` scores every user at once as ``X · B[:, items]`` summed over the items.
Users who already interacted with an item are not counted for it (they are not prospects).
Attribute queries become item sets (the Items rows matching the values) at segment time.
Batch segment jobs read this model (serving/segments.py); offline metrics use
``evaluation/segments.py``. See docs/recipes/aws-item-affinity.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Self

import numpy as np
import scipy.sparse as sp

from openpersonalize.data.snapshot import Snapshot
from openpersonalize.errors import DataError
from openpersonalize.recipes._featurize import interaction_matrix
from openpersonalize.recipes._io import (
    csr_from_arrays,
    csr_to_arrays,
    ids_from_array,
    ids_to_array,
)
from openpersonalize.recipes._item_item import ItemItemModel
from openpersonalize.recipes.base import CatalogueRecipe, Progress
from openpersonalize.recipes.catalog import BY_NAME
from openpersonalize.recipes.user_personalization import UserPersonalizationRecipe

USERS_FILE = "users.npz"


class ItemAffinityModel(ItemItemModel):
    user_ids: np.ndarray = np.empty(0, object)
    interactions: sp.csr_matrix = sp.csr_matrix((0, 0), dtype=np.float32)

    def users_for(self, items: np.ndarray) -> np.ndarray:
        """Every user's affinity (float32, higher first) for the items together; -inf for users
        who interacted with all of them already."""
        items = np.asarray(items, dtype=np.int64)
        items = items[(items >= 0) & (items < self.n_items)]
        if not items.size:
            return np.zeros(len(self.user_ids), np.float32)
        columns = self.weights[:, items]
        if not isinstance(columns, np.ndarray):
            columns = columns.toarray()
        scores = np.asarray(self.interactions @ columns, dtype=np.float32)  # users x query items
        seen = self.interactions[:, items].toarray() > 0
        scores[seen] = 0.0
        total = scores.sum(axis=1)
        total[seen.all(axis=1)] = -np.inf
        return total

    def save(self, directory: Path) -> None:
        super().save(directory)
        arrays = {"user_ids": ids_to_array(self.user_ids), **csr_to_arrays("users", self.interactions)}
        np.savez(directory / USERS_FILE, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, directory: Path) -> Self:
        model = super().load(directory)
        with np.load(directory / USERS_FILE, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        model.user_ids = ids_from_array(arrays["user_ids"])
        model.interactions = csr_from_arrays("users", arrays)
        return model


class ItemAffinityRecipe(CatalogueRecipe):
    needs_item_attributes = False

    def fit(
        self,
        snapshot: Snapshot,
        params: Mapping[str, object],
        *,
        seed: int = 42,
        progress: Progress | None = None,
    ) -> ItemAffinityModel:
        self.values(params)  # hidden_dimension: checked; the closed-form item model has no hidden layer
        if self.needs_item_attributes and not _has_attributes(snapshot):
            raise DataError(
                "Create failed. aws-item-attribute-affinity needs an Items dataset with at least one "
                "metadata column that is not textual."
            )
        base = UserPersonalizationRecipe(BY_NAME["aws-user-personalization"]).fit(
            snapshot, {"recency_mask": "false"}, seed=seed, progress=progress
        )
        model = ItemAffinityModel(
            self.name,
            base.item_ids,
            base.weights,
            base.popularity,
            history_window=base.history_window,
            half_life=0.0,
            params={"algorithm": base.params["algorithm"]},
        )
        model.user_ids = snapshot.user_ids
        binary = interaction_matrix(snapshot)
        binary.data[:] = 1.0
        model.interactions = binary
        return model

    def load(self, directory: Path) -> ItemAffinityModel:
        return ItemAffinityModel.load(directory)


class ItemAttributeAffinityRecipe(ItemAffinityRecipe):
    needs_item_attributes = True


def _has_attributes(snapshot: Snapshot) -> bool:
    table = snapshot.items_table
    return table is not None and any(c not in ("ITEM_ID", "CREATION_TIMESTAMP") for c in table.column_names)
