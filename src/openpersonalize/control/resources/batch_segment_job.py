"""BatchSegmentJob: the users most likely to interact with items or item attributes, from a
USER_SEGMENTATION solution version, run by the workers (jobs/handlers/batch_segment.py)."""

from __future__ import annotations

from typing import Any

from openpersonalize.control.context import Call, Context
from openpersonalize.control.resources.batch_inference_job import check_filter, check_paths
from openpersonalize.control.resources.common import (
    create_job,
    describer,
    lister,
    require,
    require_active,
)
from openpersonalize.errors import InvalidInput
from openpersonalize.recipes.catalog import BY_ARN

KIND = "batch-segment-job"
JOB_KIND = "batch-segment"
MAX_IN_FLIGHT = 5
DEFAULT_USERS, MAX_USERS = 25, 5_000_000


def create(ctx: Context, call: Call) -> dict[str, Any]:
    p = call.params
    version = require(ctx, p["solutionVersionArn"], "solution-version")
    require_active(version, "Solution version")
    recipe = BY_ARN.get(version.attrs.get("recipeArn", ""))
    if recipe is None or recipe.recipe_type != "USER_SEGMENTATION":
        name = recipe.name if recipe else version.attrs.get("recipeArn")
        raise InvalidInput(
            f"A batch segment job needs a USER_SEGMENTATION solution version (aws-item-affinity or "
            f"aws-item-attribute-affinity); {version.arn} is of {name}: use CreateBatchInferenceJob."
        )
    input_path, output_path = check_paths(ctx, p)
    num_results = p.get("numResults", DEFAULT_USERS)
    if not 1 <= num_results <= MAX_USERS:
        raise InvalidInput(f"numResults must be between 1 and {MAX_USERS:,}; got {num_results}.")
    if p.get("filterArn"):
        check_filter(ctx, p["filterArn"], version)
    attrs: dict[str, Any] = {
        "solutionVersionArn": version.arn,
        "numResults": num_results,
        "jobInput": {"s3DataSource": {**p["jobInput"]["s3DataSource"], "path": input_path}},
        "jobOutput": {"s3DataDestination": {**p["jobOutput"]["s3DataDestination"], "path": output_path}},
        "roleArn": p["roleArn"],
    }
    if p.get("filterArn"):
        attrs["filterArn"] = p["filterArn"]
    arn = create_job(ctx, call, KIND, JOB_KIND, attrs, group=version.dataset_group_arn, parent=version.arn,
                     max_in_flight=MAX_IN_FLIGHT)  # fmt: skip
    return {"batchSegmentJobArn": arn}


describe = describer(KIND)
list_ = lister(KIND, parent="solution-version")


OPERATIONS = {
    "CreateBatchSegmentJob": create,
    "DescribeBatchSegmentJob": describe,
    "ListBatchSegmentJobs": list_,
}
