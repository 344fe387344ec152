"""Train a recipe on a snapshot: optional AutoML and HPO on a validation carve-out, metrics on
Personalize's hold-out split, then the final model on all the data.

The training job calls ``train``; every AutoML candidate and HPO trial is a ``validate`` call.
Hyperparameters are read through the recipe's catalogue entry, so a bad value fails the same way
here as in CreateSolution.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from openpersonalize.data.snapshot import Snapshot
from openpersonalize.errors import DataError
from openpersonalize.evaluation.metrics import evaluate
from openpersonalize.evaluation.segments import evaluate_segments, split_interactions
from openpersonalize.evaluation.split import Split, split_users
from openpersonalize.recipes.base import Model, Progress
from openpersonalize.recipes.catalog import read_hyperparameters
from openpersonalize.recipes.registry import get_recipe
from openpersonalize.recipes.spec import RecipeInfo
from openpersonalize.training import hpo

AUTOML_METRIC = hpo.DEFAULT_OBJECTIVE


@dataclass
class Trained:
    recipe: RecipeInfo  # the one trained (AutoML's choice when it chose)
    model: Model
    metrics: dict[str, float]  # GetSolutionMetrics' map; empty when no user can be held out
    params: dict[str, str]  # the hyperparameters it trained with, as a solution sets them
    tuned: dict[str, str] = field(default_factory=dict)  # HPO's choice
    trials: list[dict[str, Any]] = field(default_factory=list)  # HPO trials
    candidates: dict[str, float] = field(default_factory=dict)  # AutoML: recipe ARN -> metric


def _quiet(fraction: float) -> None:
    pass


def _between(progress: Progress, start: float, end: float) -> Progress:
    return lambda fraction: progress(start + (end - start) * min(max(fraction, 0.0), 1.0))


def train(
    recipe: RecipeInfo,
    snapshot: Snapshot,
    params: Mapping[str, str],
    *,
    hpo_config: Mapping[str, Any] | None = None,
    candidates: Sequence[RecipeInfo] = (),
    automl_metric: str = AUTOML_METRIC,
    seed: int = 42,
    progress: Progress = _quiet,
    checkpoint: Callable[[], None] = lambda: None,
    on_trial: Callable[[list[dict[str, Any]], int], None] = lambda trials, total: None,
) -> Trained:
    """Choose (AutoML among ``candidates``), tune (HPO as ``hpo_config`` asks, when not None),
    measure and train.

    ``checkpoint`` runs between stages and trials; it raises to stop a training asked to stop."""
    read_hyperparameters(recipe, params)  # a bad value fails before any work
    if recipe.recipe_type == "USER_SEGMENTATION":  # its own split and metrics; nothing to search
        segments = split_interactions(snapshot, seed=seed)
        model = fit(recipe, segments.train, params, seed=seed, progress=_between(progress, 0.0, 0.45))
        metrics = evaluate_segments(model, segments)  # type: ignore[arg-type]
        checkpoint()
        model = fit(recipe, snapshot, params, seed=seed, progress=_between(progress, 0.45, 1.0))
        return Trained(recipe, model, metrics, dict(params))
    split = split_users(snapshot, seed=seed)
    params = dict(params)
    chosen = recipe
    scores: dict[str, float] = {}
    tuned: dict[str, str] = {}
    trials: list[dict[str, Any]] = []
    searching = bool(candidates) or hpo_config is not None
    if searching:
        validation = split_users(split.train, seed=seed + 1)  # the test users never guide a choice
        if candidates:
            chosen, scores = choose(candidates, validation, automl_metric, seed, _between(progress, 0, 0.2))
            params = {}  # AutoML ignores the solution's other settings, as Personalize does
            checkpoint()
        search = None if hpo_config is None else hpo.plan(chosen, hpo_config, required=not candidates)
        if search is not None:

            def trial(candidate: Mapping[str, str]) -> dict[str, float]:
                checkpoint()
                return validate(chosen, validation, candidate, seed=seed)

            tuned, trials = hpo.search(
                chosen,
                search,
                params,
                trial,
                seed=seed,
                progress=_between(progress, 0.2, 0.6),
                on_trial=on_trial,
            )
            params.update(tuned)
    after = 0.6 if searching else 0.0
    metrics = validate(chosen, split, params, seed=seed, progress=_between(progress, after, after + 0.2))
    checkpoint()
    model = fit(chosen, snapshot, params, seed=seed, progress=_between(progress, after + 0.2, 1.0))
    checkpoint()
    return Trained(chosen, model, metrics, params, tuned, trials, scores)


def choose(
    candidates: Sequence[RecipeInfo], validation: Split, metric: str, seed: int, progress: Progress
) -> tuple[RecipeInfo, dict[str, float]]:
    """AutoML: the candidate with the best validation ``metric`` (defaults for each)."""
    scores: dict[str, float] = {}
    failures: list[str] = []
    for number, candidate in enumerate(candidates):
        try:
            scores[candidate.arn] = validate(candidate, validation, {}, seed=seed).get(metric, 0.0)
        except DataError as error:  # this recipe cannot train on this data; the others may
            failures.append(f"{candidate.name}: {error}")
        progress((number + 1) / len(candidates))
    if not scores:
        raise DataError(
            "Create failed. No recipe of autoMLConfig.recipeList could train: " + "; ".join(failures)
        )
    best = max(scores, key=lambda arn: scores[arn])
    return next(c for c in candidates if c.arn == best), scores


def fit(
    recipe: RecipeInfo,
    snapshot: Snapshot,
    params: Mapping[str, str],
    *,
    seed: int = 42,
    progress: Progress = _quiet,
) -> Model:
    assert recipe.trainer is not None, f"{recipe.name} has no implementation"
    return get_recipe(recipe.trainer).fit(snapshot, params, seed=seed, progress=progress)


def validate(
    recipe: RecipeInfo,
    split: Split,
    params: Mapping[str, str],
    *,
    seed: int = 42,
    progress: Progress = _quiet,
) -> dict[str, float]:
    """Fit on the split's training part and score its held-out users (empty without any)."""
    if not split.n_test_users:
        return {}
    model = fit(recipe, split.train, params, seed=seed, progress=progress)
    if recipe.recipe_type == "PERSONALIZED_ACTIONS":
        model, split = _actions_only(model, split)
        if not split.n_test_users:
            return {}
    return {name: float(value) for name, value in evaluate(model, split).items()}


class _ActionScores:
    """A Next-Best-Action model ranking only its actions (items score -inf)."""

    def __init__(self, model: Any) -> None:
        self.model, self.recipe, self.item_ids = model, model.recipe, model.item_ids

    def user_scores(self, history: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        scores = np.full(len(self.item_ids), -np.inf, np.float32)
        positions = self.model.action_positions
        # Ties (actions without enough data score 0) go to the more popular action.
        scores[positions] = self.model.propensities(history) + 1e-6 * self.model.popularity[positions]
        return scores


def _actions_only(model: Any, split: Split) -> tuple[Any, Split]:
    """The split's held-out TAKEN actions as the relevant items (users without any dropped)."""
    is_action = np.zeros(len(model.item_ids), dtype=bool)
    is_action[model.action_positions] = True
    kept = [
        (u, h, r[is_action[r]])
        for u, h, r in zip(split.test_users, split.histories, split.relevant, strict=True)
    ]
    kept = [(u, h, r) for u, h, r in kept if len(r)]
    return _ActionScores(model), Split(
        split.train,
        np.array([u for u, _, _ in kept], dtype=np.int32),
        [h for _, h, _ in kept],
        [r for _, _, r in kept],
    )
