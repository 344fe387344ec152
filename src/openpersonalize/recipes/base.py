"""What every trained model offers. Serving, evaluation and batch jobs use only this."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from openpersonalize.data.snapshot import Snapshot
from openpersonalize.recipes.catalog import read_hyperparameters
from openpersonalize.recipes.spec import RecipeInfo

# Training reports the fraction done (0..1) through this.
Progress = Callable[[float], None]


class Model(Protocol):
    """A trained model over a fixed item vocabulary (``item_ids``, index -> ITEM_ID).

    Scores are "higher is better" raw scores, float32 arrays of length n_items; serving turns
    them into AWS-style softmax scores, applies filters and cuts the top k.
    """

    recipe: str  # recipe name, e.g. "aws-user-personalization"
    item_ids: np.ndarray

    def user_scores(self, history: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Scores of every item for a user whose interactions (item indices, oldest first) are
        ``history``. Must work for an empty history (then: popularity-like scores) and use the
        latest events, so new events change recommendations without retraining."""
        ...

    def item_scores(self, item: int) -> np.ndarray:
        """Scores of every item as "related to" item index ``item`` (RELATED_ITEMS recipes)."""
        ...

    def save(self, directory: Path) -> None:
        """Write the model as .npz arrays + manifest.json (never pickle)."""
        ...


class Recipe(Protocol):
    """An implementing class of the catalogue, constructed with its catalogue entry."""

    info: RecipeInfo

    @property
    def name(self) -> str: ...

    def fit(
        self,
        snapshot: Snapshot,
        params: Mapping[str, object],
        *,
        seed: int = 42,
        progress: Progress | None = None,
    ) -> Model:
        """Train on a snapshot. ``params`` are the solution's algorithmHyperParameters and
        featureTransformationParameters as strings, with Personalize's public names; the recipe
        reads them through its catalogue entry (``catalog.read_hyperparameters``)."""
        ...

    def load(self, directory: Path) -> Model: ...


class CatalogueRecipe:
    """Base of the implementing classes: the catalogue entry, its name and typed hyperparameters."""

    def __init__(self, info: RecipeInfo) -> None:
        self.info = info

    @property
    def name(self) -> str:
        return self.info.name

    def values(self, params: Mapping[str, object]) -> dict[str, Any]:
        return read_hyperparameters(self.info, params)


def manifest(recipe: str, **extra: Any) -> dict[str, Any]:
    return {"recipe": recipe, "format": 1, **extra}
