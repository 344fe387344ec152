"""BatchInferenceJob: recommendations for every line of a JSON Lines input, run by the workers
(jobs/handlers/batch_inference.py) through the serving pipeline."""

from __future__ import annotations

from typing import Any

from openpersonalize.control.context import Call, Context
from openpersonalize.control.resources.common import (
    check_ranking_influence,
    create_job,
    describer,
    lister,
    require,
    require_active,
)
from openpersonalize.data.locations import check_location_allowed, validate_location_syntax
from openpersonalize.data.output_locations import check_output_location
from openpersonalize.errors import InvalidInput
from openpersonalize.recipes.catalog import BY_ARN
from openpersonalize.recipes.exploration import Exploration
from openpersonalize.store.metadata import Resource

KIND = "batch-inference-job"
JOB_KIND = "batch-inference"
MAX_IN_FLIGHT = 5
DEFAULT_RESULTS, MAX_RESULTS = 25, 500
# Recipes whose models answer nothing in batch, and what to use instead (spec §7, §16).
NOT_IN_BATCH = {
    "aws-trending-now": "GetRecommendations on a campaign (trends move faster than a batch job)",
    "aws-next-best-action": "GetActionRecommendations on a campaign",
}


def create(ctx: Context, call: Call) -> dict[str, Any]:
    p = call.params
    version = require(ctx, p["solutionVersionArn"], "solution-version")
    require_active(version, "Solution version")
    recipe = BY_ARN.get(version.attrs.get("recipeArn", ""))
    if recipe is not None and recipe.name in NOT_IN_BATCH:
        raise InvalidInput(
            f"{recipe.name} does not support batch inference; use {NOT_IN_BATCH[recipe.name]}."
        )
    if recipe is not None and recipe.recipe_type == "USER_SEGMENTATION":
        raise InvalidInput(f"{recipe.name} makes user segments: use CreateBatchSegmentJob.")
    input_path, output_path = check_paths(ctx, p)
    if p.get("batchInferenceJobMode") == "THEME_GENERATION" or p.get("themeGenerationConfig"):
        raise InvalidInput(
            "batchInferenceJobMode THEME_GENERATION is not supported by this server: themes are "
            "written by a generative model, which it does not have. Use BATCH_INFERENCE."
        )
    num_results = p.get("numResults", DEFAULT_RESULTS)
    if not 1 <= num_results <= MAX_RESULTS:
        raise InvalidInput(f"numResults must be between 1 and {MAX_RESULTS}; got {num_results}.")
    if p.get("filterArn"):
        check_filter(ctx, p["filterArn"], version)
    config = _config(p.get("batchInferenceJobConfig") or {})
    attrs: dict[str, Any] = {
        "solutionVersionArn": version.arn,
        "numResults": num_results,
        "jobInput": {"s3DataSource": {**p["jobInput"]["s3DataSource"], "path": input_path}},
        "jobOutput": {"s3DataDestination": {**p["jobOutput"]["s3DataDestination"], "path": output_path}},
        "roleArn": p["roleArn"],
        "batchInferenceJobMode": "BATCH_INFERENCE",
    }
    if config:
        attrs["batchInferenceJobConfig"] = config
    if p.get("filterArn"):
        attrs["filterArn"] = p["filterArn"]
    arn = create_job(ctx, call, KIND, JOB_KIND, attrs, group=version.dataset_group_arn, parent=version.arn,
                     max_in_flight=MAX_IN_FLIGHT)  # fmt: skip
    return {"batchInferenceJobArn": arn}


def check_paths(ctx: Context, p: dict[str, Any]) -> tuple[str, str]:
    """jobInput / jobOutput paths of a batch job, checked as AWS does (and file:// roots)."""
    input_path = p["jobInput"]["s3DataSource"]["path"]
    output_path = p["jobOutput"]["s3DataDestination"]["path"]
    try:
        validate_location_syntax(input_path)
        check_location_allowed(input_path, ctx.settings)
    except InvalidInput as error:
        raise InvalidInput(f"Invalid S3 input path: jobInput.s3DataSource.path: {error}") from None
    check_output_location(
        output_path, ctx.settings, member="jobOutput.s3DataDestination.path", not_under=input_path
    )
    return input_path, output_path


def check_filter(ctx: Context, filter_arn: str, version: Resource) -> None:
    found = require(ctx, filter_arn, "filter")
    require_active(found, "Filter")
    if found.dataset_group_arn != version.dataset_group_arn:
        raise InvalidInput(
            f"Filter {filter_arn} belongs to another dataset group than solution version {version.arn}."
        )


def _config(config: dict[str, Any]) -> dict[str, Any]:
    where = "batchInferenceJobConfig"
    Exploration.of(config.get("itemExplorationConfig"), f"{where}.itemExplorationConfig")
    check_ranking_influence(config.get("rankingInfluence") or {}, f"{where}.rankingInfluence")
    return {k: v for k, v in config.items() if v}


describe = describer(KIND)
list_ = lister(KIND, parent="solution-version")


OPERATIONS = {
    "CreateBatchInferenceJob": create,
    "DescribeBatchInferenceJob": describe,
    "ListBatchInferenceJobs": list_,
}
