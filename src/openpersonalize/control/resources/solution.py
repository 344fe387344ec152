"""Solution: a recipe + configuration for a dataset group; its versions are the trained models."""

from __future__ import annotations

from typing import Any

from openpersonalize.control.context import Call, Context
from openpersonalize.control.lifecycle import ACTIVE, IN_FLIGHT
from openpersonalize.control.resources.common import (
    all_of,
    ensure_name_free,
    lister,
    new_resource,
    request_tags,
    require,
    require_active,
    view,
)
from openpersonalize.errors import InvalidInput, ResourceInUse
from openpersonalize.recipes.catalog import BY_ARN, RecipeInfo, read_hyperparameters
from openpersonalize.recipes.spec import RECIPE_ARN, solution_params
from openpersonalize.store.metadata import Resource
from openpersonalize.training import hpo

KIND = "solution"
# AutoML's candidates when autoMLConfig.recipeList is not given.
AUTOML_RECIPES = ("aws-user-personalization",)
SUMMARY_FIELDS = ("solutionVersionArn", "status", "trainingMode", "trainingType", "creationDateTime")


def trainable_recipe(recipe_arn: str) -> RecipeInfo:
    recipe = BY_ARN.get(recipe_arn)
    if recipe is None:
        raise InvalidInput(f"Recipe {recipe_arn} does not exist. ListRecipes shows the available recipes.")
    if recipe.domain:
        raise InvalidInput(
            f"Recipe {recipe_arn} is a domain use case: use it with CreateRecommender, not CreateSolution."
        )
    if recipe.trainer is None:
        instead = f" Use {recipe.replaced_by} instead." if recipe.replaced_by else ""
        raise InvalidInput(f"Recipe {recipe_arn} cannot be trained on this server.{instead}")
    return recipe


def automl_candidates(config: dict[str, Any]) -> list[RecipeInfo]:
    """The recipes AutoML chooses among (autoMLConfig.recipeList or ours), each checked."""
    automl = config.get("autoMLConfig") or {}
    arns = automl.get("recipeList") or [RECIPE_ARN.format(name) for name in AUTOML_RECIPES]
    candidates = []
    for i, arn in enumerate(arns):
        recipe = BY_ARN.get(arn)
        if recipe is None or recipe.recipe_type != "USER_PERSONALIZATION" or recipe.domain:
            raise InvalidInput(
                f"solutionConfig.autoMLConfig.recipeList[{i}] must be a USER_PERSONALIZATION recipe; got '{arn}'."
            )
        candidates.append(trainable_recipe(arn))
    metric = automl.get("metricName")
    if metric is not None and metric not in hpo.OBJECTIVES:
        raise InvalidInput(
            f"solutionConfig.autoMLConfig.metricName must be one of {', '.join(hpo.OBJECTIVES)}; got '{metric}'."
        )
    return candidates


def create(ctx: Context, call: Call) -> dict[str, Any]:
    p = call.params
    group = require(ctx, p["datasetGroupArn"], "dataset-group")
    require_active(group, "Dataset group")
    auto_ml = bool(p.get("performAutoML", False))
    recipe_arn = p.get("recipeArn")
    if not recipe_arn and not auto_ml:
        raise InvalidInput("recipeArn is required unless performAutoML is true.")
    config = dict(p.get("solutionConfig") or {})
    attrs: dict[str, Any] = {
        "datasetGroupArn": group.arn,
        "performHPO": bool(p.get("performHPO", False)),
        "performAutoML": auto_ml,
        "performAutoTraining": bool(p.get("performAutoTraining", True)),
        "performIncrementalUpdate": bool(p.get("performIncrementalUpdate", False)),
    }
    _check_config(config)
    if auto_ml:
        # Personalize ignores the other settings and always tunes under AutoML.
        attrs["performHPO"] = True
        candidates = automl_candidates(config)
        recipe_arn = candidates[0].arn
        for candidate in candidates:
            hpo.plan(candidate, config.get("hpoConfig") or {}, required=False)
    else:
        assert recipe_arn is not None
        recipe = trainable_recipe(recipe_arn)
        read_hyperparameters(recipe, solution_params(config))  # refuses a bad value, naming it
        if attrs["performHPO"]:
            hpo.plan(recipe, config.get("hpoConfig") or {})
        attrs["recipeArn"] = recipe_arn
    if p.get("eventType"):
        attrs["eventType"] = p["eventType"]
    if config:
        attrs["solutionConfig"] = config
    arn = call.scope.arn(KIND, p["name"])
    ensure_name_free(ctx, arn, "Solution", p["name"])
    ctx.store.create(
        new_resource(ctx, KIND, arn, p["name"], attrs, group=group.arn),
        tags=request_tags(call),
    )
    return {"solutionArn": arn}


def _check_config(config: dict[str, Any]) -> None:
    threshold = config.get("eventValueThreshold")
    if threshold is not None:
        try:
            float(threshold)
        except ValueError:
            raise InvalidInput(
                f"solutionConfig.eventValueThreshold must be a number; got '{threshold}'."
            ) from None


def describe(ctx: Context, call: Call) -> dict[str, Any]:
    solution = require(ctx, call.params["solutionArn"], KIND)
    out = view(solution)
    versions = ctx.store.list("solution-version", parent_arn=solution.arn, limit=1).items
    if versions:
        latest = view(versions[0])
        out["latestSolutionVersion"] = {
            k: latest.get(k) for k in (*SUMMARY_FIELDS, "lastUpdatedDateTime", "failureReason")
        }
    return {"solution": out}


def update(ctx: Context, call: Call) -> dict[str, Any]:
    p = call.params
    solution = require(ctx, p["solutionArn"], KIND)
    require_active(solution, "Solution")
    changes: dict[str, Any] = {}
    for flag in ("performAutoTraining", "performIncrementalUpdate"):
        if flag in p:
            changes[flag] = bool(p[flag])
    update_config = p.get("solutionUpdateConfig") or {}
    config = dict(solution.attrs.get("solutionConfig") or {})
    config.update({k: v for k, v in update_config.items() if v is not None})
    if update_config:
        changes["solutionConfig"] = config
    now = ctx.now()
    summary: dict[str, Any] = {"status": ACTIVE, "creationDateTime": now, "lastUpdatedDateTime": now}
    if update_config:
        summary["solutionUpdateConfig"] = update_config
    for flag in ("performAutoTraining", "performIncrementalUpdate"):
        summary[flag] = changes.get(flag, solution.attrs.get(flag, False))
    changes["latestSolutionUpdate"] = summary
    ctx.store.update(solution.arn, attrs=changes)
    return {"solutionArn": solution.arn}


def delete(ctx: Context, call: Call) -> dict[str, Any]:
    solution = require(ctx, call.params["solutionArn"], KIND)
    campaigns = [c for c in all_of(ctx, "campaign") if c.attrs.get("_solutionArn") == solution.arn]
    if campaigns:
        raise ResourceInUse(f"Cannot delete solution {solution.arn}: campaign {campaigns[0].arn} uses it.")
    versions = list(all_of(ctx, "solution-version", parent_arn=solution.arn))
    if any(v.status in IN_FLIGHT for v in versions):
        raise ResourceInUse(
            f"Cannot delete solution {solution.arn}: a solution version is still being created."
        )
    for version in versions:
        ctx.store.delete(version.arn)
        ctx.objects.delete_prefix(model_prefix(version))
    ctx.store.delete(solution.arn)
    return {}


def model_prefix(version: Resource) -> str:
    return f"models/{version.attrs['_id']}/"


list_ = lister(KIND, parent="dataset-group")


OPERATIONS = {
    "CreateSolution": create,
    "DescribeSolution": describe,
    "ListSolutions": list_,
    "UpdateSolution": update,
    "DeleteSolution": delete,
}
