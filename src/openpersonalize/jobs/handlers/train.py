"""Train a solution version: its data (training_data.py) -> the training pipeline -> artifacts."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from openpersonalize.control.lifecycle import CREATE_STOPPING
from openpersonalize.control.resources.solution import automl_candidates, model_prefix
from openpersonalize.data.context_lift import ContextLift
from openpersonalize.data.histories import Histories
from openpersonalize.data.typed_histories import TypedHistories
from openpersonalize.jobs.handlers.training_data import TrainingData, gather
from openpersonalize.jobs.runtime import JobRun, JobStopped
from openpersonalize.recipes.catalog import BY_ARN
from openpersonalize.recipes.spec import solution_params
from openpersonalize.training.pipeline import AUTOML_METRIC, train

JOB_KIND = "train"


def run(run: JobRun) -> dict[str, Any]:
    started = time.time()
    ctx, version = run.ctx, run.resource
    config = version.attrs.get("solutionConfig") or {}
    automl = bool(version.attrs.get("performAutoML"))
    candidates = automl_candidates(config) if automl else []
    recipe = candidates[0] if automl else BY_ARN[version.attrs["recipeArn"]]
    hpo_config = (config.get("hpoConfig") or {}) if version.attrs.get("performHPO") else None
    data = gather(run, recipe)
    snapshot = data.snapshot
    run.progress(0.1)
    _check_stop(run)
    with tempfile.TemporaryDirectory(prefix="openpersonalize-model-") as tmp:
        directory = Path(tmp)
        _save_serving_data(directory, data)
        del data  # the whole Interactions table: not needed to train, and the largest thing held
        pa.default_memory_pool().release_unused()
        trained = train(
            recipe,
            snapshot,
            solution_params(config),
            hpo_config=hpo_config,
            candidates=candidates,
            automl_metric=(config.get("autoMLConfig") or {}).get("metricName") or AUTOML_METRIC,
            progress=lambda fraction: run.progress(0.1 + 0.8 * fraction),
            checkpoint=lambda: _check_stop(run),
            on_trial=lambda trials, total: _record_trials(run, trials, total),
        )
        trained.model.save(directory)
        prefix = model_prefix(version)
        for path in sorted(directory.iterdir()):
            ctx.objects.put_file(prefix + path.name, path)
    result: dict[str, Any] = {}
    if hpo_config is not None:
        result["tunedHPOParams"] = {"algorithmHyperParameters": trained.tuned}
    if automl:
        result["recipeArn"] = trained.recipe.arn
        result["_automlScores"] = trained.candidates
        ctx.store.update(
            version.attrs["solutionArn"], attrs={"autoMLResult": {"bestRecipeArn": trained.recipe.arn}}
        )
    return {
        **result,
        "trainingHours": round((time.time() - started) / 3600, 6),
        "_metrics": trained.metrics,
        "_trainedAt": started,
        "_stats": {
            "users": snapshot.n_users,
            "items": snapshot.n_items,
            "interactions": snapshot.n_interactions,
        },
    }


def _save_serving_data(directory: Path, data: TrainingData) -> None:
    """What serving reads next to the model: histories (known users), typed histories (filters),
    the context lift (requests with a context) and the item features (items without interactions)."""
    snapshot = data.snapshot
    Histories.from_snapshot(snapshot).save(directory)
    TypedHistories.from_table(data.interactions, snapshot.item_ids).save(directory)
    lift = ContextLift.from_table(data.interactions, snapshot.item_ids, data.context_fields)
    if lift is not None:
        lift.save(directory)
    if data.features is not None:
        data.features[0].save(directory)
        data.features[1].save(directory)


def _record_trials(run: JobRun, trials: list[dict[str, Any]], total: int) -> None:
    """Each finished HPO trial, in the metadata database (``openpersonalize jobs`` shows the count)."""
    run.ctx.store.update(run.resource.arn, attrs={"_hpoTrials": trials, "_hpoTotal": total})


def _check_stop(run: JobRun) -> None:
    current = run.ctx.store.get(run.resource.arn)
    if current is None or current.status == CREATE_STOPPING:
        raise JobStopped()
