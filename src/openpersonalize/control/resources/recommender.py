"""Recommender: a domain use case (spec §8) trained and served as one resource.

Each training is an internal "recommender-version" (a solution version no List call shows) run
by the training job; the recommender serves its newest ACTIVE one. Its status follows its first
training (CREATE PENDING -> CREATE IN_PROGRESS -> ACTIVE | CREATE FAILED); Stop/Start move it
between ACTIVE and INACTIVE; later trainings (UpdateRecommender with new training columns, and
the weekly retraining) show in ``latestRecommenderUpdate`` while the previous model serves.
"""

from __future__ import annotations

import uuid
from typing import Any

from openpersonalize.control.context import Call, Context
from openpersonalize.control.lifecycle import ACTIVE, CREATE_FAILED, CREATE_PENDING, IN_FLIGHT, INACTIVE
from openpersonalize.control.resources.common import (
    ensure_name_free,
    list_page,
    new_resource,
    request_tags,
    require,
    view,
)
from openpersonalize.data.schema import parse_schema
from openpersonalize.errors import InvalidInput, LimitExceeded, ResourceInUse, ResourceNotFound
from openpersonalize.recipes.catalog import BY_ARN
from openpersonalize.recipes.exploration import Exploration
from openpersonalize.recipes.use_cases import USE_CASES
from openpersonalize.store.metadata import Job, Quota, Resource

KIND = "recommender"
VERSION_KIND = "recommender-version"
JOB_KIND = "train"
MAX_PER_GROUP = 5
# Columns a trainingDataConfig may not exclude: what every use case trains on.
REQUIRED_COLUMNS = {"USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"}


def create(ctx: Context, call: Call) -> dict[str, Any]:
    p = call.params
    group = require(ctx, p["datasetGroupArn"], "dataset-group")
    recipe = BY_ARN.get(p["recipeArn"])
    if recipe is None:
        raise ResourceNotFound(f"Resource Arn {p['recipeArn']} does not exist.")
    domain = group.attrs.get("domain")
    if recipe.domain is None:
        raise InvalidInput(
            f"Recipe {recipe.arn} is not a domain use case: train it with CreateSolution and deploy it in a campaign."
        )
    if domain is None:
        raise InvalidInput(
            f"Dataset group {group.arn} has no domain: recommenders need a dataset group created with "
            f"domain {recipe.domain}."
        )
    if domain != recipe.domain:
        raise InvalidInput(
            f"Recipe {recipe.arn} is a {recipe.domain} use case; dataset group {group.arn} is {domain}."
        )
    datasets = {
        d.attrs["datasetType"]: d for d in ctx.store.list("dataset", dataset_group_arn=group.arn).items
    }
    if "INTERACTIONS" not in datasets:
        raise InvalidInput(
            f"Dataset group {group.arn} has no Interactions dataset; create and import it first."
        )
    if USE_CASES[recipe.name].needs_items_dataset and "ITEMS" not in datasets:
        raise InvalidInput(f"{recipe.name} needs an Items dataset in dataset group {group.arn}.")
    config = _config(ctx, p.get("recommenderConfig") or {}, recipe.name, datasets)
    arn = call.scope.arn(KIND, p["name"])
    ensure_name_free(ctx, arn, "Recommender", p["name"])
    attrs = {"datasetGroupArn": group.arn, "recipeArn": recipe.arn, "recommenderConfig": config}
    ctx.store.create(
        new_resource(ctx, KIND, arn, p["name"], attrs, group=group.arn, status=CREATE_PENDING),
        tags=request_tags(call),
        quota=Quota(
            KIND,
            MAX_PER_GROUP,
            LimitExceeded(f"A dataset group can have at most {MAX_PER_GROUP} recommenders."),
            dataset_group_arn=group.arn,
        ),
    )
    start_training(ctx, ctx.store.get(arn) or _gone(arn))
    return {"recommenderArn": arn}


def start_training(ctx: Context, recommender: Resource) -> str:
    """A new training of the recommender's use case with its current configuration."""
    recipe = BY_ARN[recommender.attrs["recipeArn"]]
    config = recommender.attrs.get("recommenderConfig") or {}
    excluded = (config.get("trainingDataConfig") or {}).get("excludedDatasetColumns") or {}
    version_id = uuid.uuid4().hex[:8]
    arn = f"{recommender.arn}/{version_id}"
    attrs = {
        "recipeArn": recipe.arn,
        "datasetGroupArn": recommender.dataset_group_arn,
        "recommenderConfig": config,
        "_id": version_id,
        "_eventTypes": list(USE_CASES[recipe.name].training_events),
        "_excludedColumns": {k.upper(): list(v) for k, v in excluded.items()},
    }
    ctx.store.create(
        new_resource(
            ctx,
            VERSION_KIND,
            arn,
            None,
            attrs,
            group=recommender.dataset_group_arn,
            parent=recommender.arn,
            status=CREATE_PENDING,
        ),  # fmt: skip
        job=Job(kind=JOB_KIND, resource_arn=arn),
    )
    return arn


def serving_version(ctx: Context, recommender: Resource) -> Resource | None:
    """The newest ACTIVE training of the recommender (what answers its requests)."""
    found = ctx.store.list(VERSION_KIND, parent_arn=recommender.arn, statuses=[ACTIVE], limit=1).items
    return found[0] if found else None


def settle(ctx: Context, recommender: Resource) -> Resource:
    """A recommender still being created takes the status of its first training once it ends."""
    if recommender.status not in IN_FLIGHT:
        return recommender
    versions = ctx.store.list(VERSION_KIND, parent_arn=recommender.arn, limit=100).items
    if not versions:
        return recommender
    first = versions[-1]  # newest first
    if first.status == ACTIVE or first.status == CREATE_FAILED:
        attrs = {"failureReason": first.attrs.get("failureReason")} if first.status == CREATE_FAILED else {}
        updated = ctx.store.update(recommender.arn, status=first.status, attrs=attrs, expect_status=IN_FLIGHT)
        return updated or ctx.store.get(recommender.arn) or recommender
    if first.status != recommender.status:
        recommender.status = first.status  # shown, not stored: the training job owns it
    return recommender


def recommender_view(ctx: Context, recommender: Resource) -> dict[str, Any]:
    recommender = settle(ctx, recommender)
    out = view(recommender)
    versions = ctx.store.list(VERSION_KIND, parent_arn=recommender.arn, limit=2).items
    serving = serving_version(ctx, recommender)
    if serving is not None and serving.attrs.get("_metrics") is not None:
        out["modelMetrics"] = serving.attrs["_metrics"]
    if len(versions) > 1 or recommender.attrs.get("_updated"):
        latest = versions[0]
        out["latestRecommenderUpdate"] = {
            "recommenderConfig": latest.attrs.get("recommenderConfig") or {},
            "creationDateTime": latest.created,
            "lastUpdatedDateTime": latest.updated,
            "status": latest.status,
            **({"failureReason": latest.attrs["failureReason"]} if latest.attrs.get("failureReason") else {}),
        }
    return out


def describe(ctx: Context, call: Call) -> dict[str, Any]:
    return {"recommender": recommender_view(ctx, require(ctx, call.params["recommenderArn"], KIND))}


def list_(ctx: Context, call: Call) -> dict[str, Any]:
    group = call.params.get("datasetGroupArn")
    if group:
        require(ctx, group, "dataset-group")
    page = list_page(ctx, call, KIND, "recommenders", dataset_group_arn=group)
    for summary in page["recommenders"]:
        current = ctx.store.get(summary["recommenderArn"])
        if current is not None:
            summary["status"] = settle(ctx, current).status
    return page


def update(ctx: Context, call: Call) -> dict[str, Any]:
    recommender = settle(ctx, require(ctx, call.params["recommenderArn"], KIND))
    if recommender.status != ACTIVE:
        raise ResourceInUse(f"Recommender {recommender.arn} is not ACTIVE (status: {recommender.status}).")
    latest = ctx.store.list(VERSION_KIND, parent_arn=recommender.arn, limit=1).items
    if latest and latest[0].status in IN_FLIGHT:
        raise ResourceInUse(f"Recommender {recommender.arn} has an update in progress.")
    recipe = BY_ARN[recommender.attrs["recipeArn"]]
    datasets = {
        d.attrs["datasetType"]: d
        for d in ctx.store.list("dataset", dataset_group_arn=recommender.dataset_group_arn).items
    }
    old = recommender.attrs.get("recommenderConfig") or {}
    config = _config(ctx, {**old, **call.params["recommenderConfig"]}, recipe.name, datasets)
    updated = ctx.store.update(recommender.arn, attrs={"recommenderConfig": config, "_updated": True})
    if updated is not None and config.get("trainingDataConfig") != old.get("trainingDataConfig"):
        start_training(ctx, updated)  # new training columns: retrain; the current model serves meanwhile
    return {"recommenderArn": recommender.arn}


def stop(ctx: Context, call: Call) -> dict[str, Any]:
    return _move(ctx, call, ACTIVE, INACTIVE, "stopped")


def start(ctx: Context, call: Call) -> dict[str, Any]:
    return _move(ctx, call, INACTIVE, ACTIVE, "started")


def _move(ctx: Context, call: Call, source: str, target: str, verb: str) -> dict[str, Any]:
    recommender = settle(ctx, require(ctx, call.params["recommenderArn"], KIND))
    if ctx.store.update(recommender.arn, status=target, expect_status=[source]) is None:
        raise ResourceInUse(
            f"Recommender {recommender.arn} can be {verb} only when {source} (status: {recommender.status})."
        )
    return {"recommenderArn": recommender.arn}


def delete(ctx: Context, call: Call) -> dict[str, Any]:
    recommender = require(ctx, call.params["recommenderArn"], KIND)
    for version in ctx.store.list(VERSION_KIND, parent_arn=recommender.arn, limit=1000).items:
        ctx.store.delete(version.arn)
        ctx.objects.delete_prefix(f"models/{version.attrs['_id']}/")
    ctx.store.delete(recommender.arn)
    return {}


def _config(
    ctx: Context, config: dict[str, Any], recipe: str, datasets: dict[str, Resource]
) -> dict[str, Any]:
    where = "recommenderConfig"
    exploration = config.get("itemExplorationConfig")
    if exploration:
        if not USE_CASES[recipe].explores:
            raise InvalidInput(
                f"{where}.itemExplorationConfig applies to Recommended for you and Top picks for you only, "
                f"not to {recipe}."
            )
        Exploration.of(exploration, f"{where}.itemExplorationConfig")
    excluded = (config.get("trainingDataConfig") or {}).get("excludedDatasetColumns") or {}
    for dataset_type, columns in excluded.items():
        dataset = datasets.get(dataset_type.upper())
        if dataset is None:
            raise InvalidInput(
                f"{where}.trainingDataConfig.excludedDatasetColumns names {dataset_type}, which the dataset group "
                "does not have."
            )
        schema = ctx.store.get(dataset.attrs["schemaArn"])
        names = set(parse_schema(schema.attrs["schema"]).names) if schema is not None else set()
        for column in columns:
            if column not in names:
                raise InvalidInput(
                    f"{where}.trainingDataConfig.excludedDatasetColumns.{dataset_type}: {column} is not a column "
                    "of its schema."
                )
            if column in REQUIRED_COLUMNS or column == "ITEM_ID" or column == "USER_ID":
                raise InvalidInput(
                    f"{where}.trainingDataConfig.excludedDatasetColumns.{dataset_type}: {column} is required and "
                    "cannot be excluded."
                )
    return {"minRecommendationRequestsPerSecond": 1, **config}


def _gone(arn: str) -> Resource:
    raise ResourceNotFound(f"Resource Arn {arn} does not exist.")


OPERATIONS = {
    "CreateRecommender": create,
    "DescribeRecommender": describe,
    "ListRecommenders": list_,
    "UpdateRecommender": update,
    "StopRecommender": stop,
    "StartRecommender": start,
    "DeleteRecommender": delete,
}
