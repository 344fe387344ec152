"""What every trained model offers. Serving, evaluation and batch jobs use only this."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from openpersonalize.data.snapshot import Snapshot


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
    name: str

    def fit(self, snapshot: Snapshot, params: dict[str, str], *, seed: int = 42) -> Model:
        """Train on a snapshot. ``params`` are the solution's algorithmHyperParameters and
        featureTransformationParameters as strings, with Personalize's public names."""
        ...

    def load(self, directory: Path) -> Model: ...


def manifest(recipe: str, **extra: Any) -> dict[str, Any]:
    return {"recipe": recipe, "format": 1, **extra}
