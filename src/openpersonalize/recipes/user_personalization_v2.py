"""aws-user-personalization-v2 and aws-personalized-ranking-v2: the sequence-aware transformer.

Training (torch, ``_sasrec.py``) and the numpy model (``sequence.py``) live apart, so serving never
loads torch. The configuration is ``sequence.default_config`` (scaled by the data: history
lengths, catalogue size) unless our own hyperparameters override it; see
docs/recipes/aws-user-personalization-v2.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from openpersonalize.data.snapshot import Snapshot
from openpersonalize.recipes.base import CatalogueRecipe, Progress
from openpersonalize.recipes.sequence import SequenceModel, default_config, fit_sequence, user_sequences

# Our hyperparameters (not Personalize's) -> SasrecConfig fields; 0 leaves the data-scaled default.
OVERRIDES = {
    "hidden_units": "hidden",
    "num_blocks": "layers",
    "max_seq_length": "maxlen",
    "dropout_rate": "dropout",
    "epochs": "epochs",
}


SMALL_DATA = 1_000_000  # interactions
# No fit runs longer than this: it keeps the best evaluation so far. A training job fits twice
# (metrics on held-out users, then the model on all of them), so 13 minutes each keeps a job
# within 30 minutes at 10M interactions (benchmarks/train_scale.py) and ML-1M within its 15.
TIME_BUDGET_SECONDS = 780.0


class SequenceRecipe(CatalogueRecipe):
    def fit(
        self,
        snapshot: Snapshot,
        params: Mapping[str, object],
        *,
        seed: int = 42,
        progress: Progress | None = None,
    ) -> SequenceModel:
        values = self.values(params)
        config = default_config(user_sequences(snapshot), snapshot.n_items)
        given = {field: values[name] for name, field in OVERRIDES.items() if name in params and values[name]}
        config = dataclasses.replace(config, time_budget=TIME_BUDGET_SECONDS, **given)
        # Steps on small data are too short to share between threads: they mostly wait on each other,
        # ten times slower when another process holds a core (measured in benchmarks/sequence_quality.py).
        threads = 1 if snapshot.n_interactions < SMALL_DATA else None
        return fit_sequence(snapshot, config, seed=seed, progress=progress, recipe=self.name, threads=threads)

    def load(self, directory: Path) -> SequenceModel:
        return SequenceModel.load(directory)
