"""What a training reads: the dataset group's datasets, as the snapshot its recipe needs.

- Most recipes: the Interactions (sessions joined to their users), with the Items and Users
  rows, after ``eventType`` / ``eventValueThreshold``; Personalize's minimums apply.
- Next-Best-Action: items and actions in one vocabulary (actions under a prefix).
- Semantic-Similarity: the Items alone will do (Interactions are optional).
Plus the Items metadata as vectors (similar items, cold items, text similarity).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from openpersonalize.data.context_lift import context_fields
from openpersonalize.data.dataset_reader import read_dataset
from openpersonalize.data.fields import ParsedSchema
from openpersonalize.data.item_features import CatalogueFeatures, ItemFeaturizer, catalogue_features
from openpersonalize.data.schema import parse_schema
from openpersonalize.data.sessions import join_sessions
from openpersonalize.data.snapshot import Snapshot, build_snapshot
from openpersonalize.data.text_embedding import TextEncoder
from openpersonalize.errors import DataError
from openpersonalize.jobs.runtime import JobRun
from openpersonalize.recipes.next_best_action import action_key, combine
from openpersonalize.recipes.spec import RecipeInfo

MIN_USERS_WITH_TWO = 25
NO_INTERACTIONS = pa.table(
    {
        "USER_ID": pa.array([], pa.string()),
        "ITEM_ID": pa.array([], pa.string()),
        "TIMESTAMP": pa.array([], pa.int64()),
    }
)


@dataclass
class TrainingData:
    interactions: pa.Table  # the whole Interactions table (filters and context read it too)
    snapshot: Snapshot
    features: tuple[ItemFeaturizer, CatalogueFeatures] | None  # Items metadata as vectors
    context_fields: list[str]


def gather(run: JobRun, recipe: RecipeInfo) -> TrainingData:
    version = run.resource
    config = version.attrs.get("solutionConfig") or {}
    event_type, threshold = version.attrs.get("eventType"), config.get("eventValueThreshold")
    use_case_events = tuple(version.attrs.get("_eventTypes") or ())  # a recommender's
    interactions = _read(run, "INTERACTIONS", sessions=True)
    if interactions is None and recipe.needs_interactions:
        raise DataError("Create failed. The dataset group has no Interactions dataset.")
    interactions = NO_INTERACTIONS if interactions is None else join_sessions(interactions)
    snapshot = build_snapshot(
        interactions,
        items_table=_read(run, "ITEMS"),
        users_table=_read(run, "USERS"),
        event_type=event_type,
        event_value_threshold=float(threshold) if threshold not in (None, "") else None,
        event_types_any_case=use_case_events,
    )
    if recipe.needs_interactions:
        check_minimums(run, snapshot, event_type or " or ".join(t.capitalize() for t in use_case_events))
    features = None
    if recipe.recipe_type == "PERSONALIZED_ACTIONS":
        snapshot = _with_actions(run, interactions)
    else:
        features = _item_features(run, snapshot)
        if features is not None:
            snapshot.item_vectors, snapshot.item_text_vectors = features[1].features, features[1].text
    schema = _schema_of(run, "INTERACTIONS")
    return TrainingData(interactions, snapshot, features, context_fields(schema) if schema else [])


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


def _with_actions(run: JobRun, interactions: pa.Table) -> Snapshot:
    actions, events = _read(run, "ACTIONS"), _read(run, "ACTION_INTERACTIONS")
    if actions is None:
        raise DataError("Create failed. aws-next-best-action needs an Actions dataset in the dataset group.")
    keys = [action_key(str(a)) for a in actions.column("ACTION_ID").to_pylist()]
    snapshot = build_snapshot(combine(interactions, events), items_table=pa.table({"ITEM_ID": keys}))
    snapshot.actions_table, snapshot.action_interactions = actions, events
    snapshot.items_table = None
    return snapshot


def _item_features(run: JobRun, snapshot: Snapshot) -> tuple[ItemFeaturizer, CatalogueFeatures] | None:
    schema = _schema_of(run, "ITEMS")
    if schema is None or snapshot.items_table is None:
        return None
    snapshot.items_schema = schema
    latest = float(snapshot.timestamps.max()) if snapshot.n_interactions else 0.0
    encoder = TextEncoder.shared(run.ctx.settings.data_dir / "encoders")
    return catalogue_features(schema, snapshot.items_table, list(snapshot.item_ids), latest, encoder.encode)


def _datasets(run: JobRun) -> dict[str, Any]:
    found = run.ctx.store.list("dataset", dataset_group_arn=run.resource.dataset_group_arn).items
    return {d.attrs["datasetType"]: d for d in found}


def _read(run: JobRun, dataset_type: str, *, sessions: bool = False) -> pa.Table | None:
    """The dataset's table, less the columns a recommender's trainingDataConfig excludes."""
    dataset = _datasets(run).get(dataset_type)
    if dataset is None:
        return None
    table = read_dataset(run.ctx.store, run.ctx.interactions, dataset.arn, sessions=sessions)
    excluded = set((run.resource.attrs.get("_excludedColumns") or {}).get(dataset_type, ()))
    return table.drop_columns([c for c in table.column_names if c in excluded]) if excluded else table


def _schema_of(run: JobRun, dataset_type: str) -> ParsedSchema | None:
    dataset = _datasets(run).get(dataset_type)
    schema = run.ctx.store.get(dataset.attrs["schemaArn"]) if dataset is not None else None
    if schema is None:
        return None
    parsed = parse_schema(schema.attrs["schema"])
    excluded = set((run.resource.attrs.get("_excludedColumns") or {}).get(dataset_type, ()))
    return parsed.without(excluded) if excluded else parsed
