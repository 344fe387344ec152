"""Train a solution version: snapshot -> hold-out metrics -> final model -> artifacts in the object store."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from openpersonalize.control.lifecycle import CREATE_STOPPING
from openpersonalize.control.resources.solution import automl_candidates, model_prefix
from openpersonalize.data.context_lift import ContextLift, context_fields
from openpersonalize.data.dataset_reader import read_dataset
from openpersonalize.data.fields import ParsedSchema
from openpersonalize.data.histories import Histories
from openpersonalize.data.item_features import CatalogueFeatures, ItemFeaturizer, catalogue_features
from openpersonalize.data.schema import parse_schema
from openpersonalize.data.sessions import join_sessions
from openpersonalize.data.snapshot import Snapshot, build_snapshot
from openpersonalize.data.text_embedding import TextEncoder
from openpersonalize.data.typed_histories import TypedHistories
from openpersonalize.errors import DataError
from openpersonalize.jobs.runtime import JobRun, JobStopped
from openpersonalize.recipes.catalog import BY_ARN
from openpersonalize.recipes.next_best_action import action_key, combine
from openpersonalize.recipes.spec import solution_params
from openpersonalize.training.pipeline import AUTOML_METRIC, train

JOB_KIND = "train"
MIN_USERS_WITH_TWO = 25


def run(run: JobRun) -> dict[str, Any]:
    started = time.time()
    ctx, version = run.ctx, run.resource
    config = version.attrs.get("solutionConfig") or {}
    automl = bool(version.attrs.get("performAutoML"))
    candidates = automl_candidates(config) if automl else []
    recipe = candidates[0] if automl else BY_ARN[version.attrs["recipeArn"]]
    hpo_config = (config.get("hpoConfig") or {}) if version.attrs.get("performHPO") else None
    interactions, snapshot = load_snapshot(
        run, version.attrs.get("eventType"), config.get("eventValueThreshold")
    )
    check_minimums(run, snapshot, version.attrs.get("eventType"))
    if recipe.recipe_type == "PERSONALIZED_ACTIONS":
        snapshot = action_snapshot(run, interactions)
    features = None if snapshot.actions_table is not None else _item_features(run, snapshot)
    if features is not None:  # Items metadata as vectors: for similar items and cold items
        snapshot.item_vectors = features[1].features
    run.progress(0.1)
    _check_stop(run)
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
    model = trained.model
    with tempfile.TemporaryDirectory(prefix="openpersonalize-model-") as tmp:
        directory = Path(tmp)
        model.save(directory)
        Histories.from_snapshot(snapshot).save(directory)
        TypedHistories.from_table(interactions, snapshot.item_ids).save(directory)  # for filters
        lift = ContextLift.from_table(interactions, snapshot.item_ids, _context_fields(run))
        if lift is not None:  # for requests with a context
            lift.save(directory)
        if features is not None:  # for items without interactions
            features[0].save(directory)
            features[1].save(directory)
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


def _record_trials(run: JobRun, trials: list[dict[str, Any]], total: int) -> None:
    """Each finished HPO trial, in the metadata database (``openpersonalize jobs`` shows the count)."""
    run.ctx.store.update(run.resource.arn, attrs={"_hpoTrials": trials, "_hpoTotal": total})


def load_snapshot(run: JobRun, event_type: str | None, threshold: str | None) -> tuple[pa.Table, Snapshot]:
    """The whole Interactions table, and the snapshot of the events chosen for training."""
    ctx = run.ctx
    group_arn = run.resource.dataset_group_arn
    datasets = {
        d.attrs["datasetType"]: d for d in ctx.store.list("dataset", dataset_group_arn=group_arn).items
    }
    if "INTERACTIONS" not in datasets:
        raise DataError("Create failed. The dataset group has no Interactions dataset.")

    def read(dataset_type: str) -> Any:
        if dataset_type not in datasets:
            return None
        return read_dataset(ctx.store, ctx.interactions, datasets[dataset_type].arn, sessions=True)

    interactions = join_sessions(read("INTERACTIONS"))
    return interactions, build_snapshot(
        interactions,
        items_table=read("ITEMS"),
        users_table=read("USERS"),
        event_type=event_type,
        event_value_threshold=float(threshold) if threshold not in (None, "") else None,
    )


def action_snapshot(run: JobRun, interactions: pa.Table) -> Snapshot:
    """Items and actions in one vocabulary (actions under a prefix), for Next-Best-Action."""
    actions, events = _read(run, "ACTIONS"), _read(run, "ACTION_INTERACTIONS")
    if actions is None:
        raise DataError("Create failed. aws-next-best-action needs an Actions dataset in the dataset group.")
    keys = [action_key(str(a)) for a in actions.column("ACTION_ID").to_pylist()]
    snapshot = build_snapshot(combine(interactions, events), items_table=pa.table({"ITEM_ID": keys}))
    snapshot.actions_table, snapshot.action_interactions = actions, events
    snapshot.items_table = None
    return snapshot


def _read(run: JobRun, dataset_type: str) -> pa.Table | None:
    datasets = run.ctx.store.list("dataset", dataset_group_arn=run.resource.dataset_group_arn).items
    for dataset in datasets:
        if dataset.attrs["datasetType"] == dataset_type:
            return read_dataset(run.ctx.store, run.ctx.interactions, dataset.arn)
    return None


def _item_features(run: JobRun, snapshot: Snapshot) -> tuple[ItemFeaturizer, CatalogueFeatures] | None:
    """The Items metadata as vectors, one per snapshot item (None without usable metadata)."""
    schema = _schema_of(run, "ITEMS")
    if schema is None or snapshot.items_table is None:
        return None
    latest = float(snapshot.timestamps.max()) if snapshot.n_interactions else 0.0
    encoder = TextEncoder.shared(run.ctx.settings.data_dir / "encoders")
    return catalogue_features(schema, snapshot.items_table, list(snapshot.item_ids), latest, encoder.encode)


def _schema_of(run: JobRun, dataset_type: str) -> ParsedSchema | None:
    datasets = run.ctx.store.list("dataset", dataset_group_arn=run.resource.dataset_group_arn).items
    for dataset in datasets:
        if dataset.attrs["datasetType"] == dataset_type:
            schema = run.ctx.store.get(dataset.attrs["schemaArn"])
            if schema is not None:
                return parse_schema(schema.attrs["schema"])
    return None


def _context_fields(run: JobRun) -> list[str]:
    schema = _schema_of(run, "INTERACTIONS")
    return context_fields(schema) if schema is not None else []


def check_minimums(run: JobRun, snapshot: Snapshot, event_type: str | None) -> None:
    """Personalize's training minimums (spec §19), with its failure messages."""
    minimum = run.ctx.settings.min_training_interactions
    if snapshot.n_interactions < minimum:
        suffix = f" after filtering by event type: {event_type}" if event_type else ""
        raise DataError(
            f"Create failed. Dataset has fewer than {minimum} interactions{suffix} "
            f"(found {snapshot.n_interactions})."
        )
    per_user = np.bincount(snapshot.users, minlength=snapshot.n_users)
    if int((per_user >= 2).sum()) < MIN_USERS_WITH_TWO:
        raise DataError("Create failed. Dataset has fewer than 25 users with at least 2 interactions each.")


def _check_stop(run: JobRun) -> None:
    current = run.ctx.store.get(run.resource.arn)
    if current is None or current.status == CREATE_STOPPING:
        raise JobStopped()
