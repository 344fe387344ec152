"""SolutionVersion: one training run of a solution (jobs/handlers/train.py does the work)."""

from __future__ import annotations

import uuid
from typing import Any

from openpersonalize.control.context import Call, Context
from openpersonalize.control.lifecycle import (
    ACTIVE,
    CREATE_IN_PROGRESS,
    CREATE_PENDING,
    CREATE_STOPPED,
    CREATE_STOPPING,
    IN_FLIGHT,
)
from openpersonalize.control.resources.common import (
    lister,
    new_resource,
    request_tags,
    require,
    require_active,
    view,
)
from openpersonalize.errors import InvalidInput, LimitExceeded, ResourceInUse
from openpersonalize.recipes.catalog import BY_ARN
from openpersonalize.store.metadata import Job, Quota, Resource

KIND = "solution-version"
JOB_KIND = "train"
MAX_IN_FLIGHT = 20
# Members of the solution a version snapshots when it is created.
SNAPSHOT = ("performHPO", "performAutoML", "performIncrementalUpdate", "recipeArn", "eventType", "datasetGroupArn",
            "solutionConfig")  # fmt: skip


def start_training(
    ctx: Context, solution: Resource, *, name: str | None, mode: str, training_type: str, tags: dict[str, str]
) -> str:
    """Create a version in CREATE PENDING with its training job (manual and automatic training)."""
    if mode == "UPDATE":
        recipe = BY_ARN.get(solution.attrs.get("recipeArn", ""))
        if recipe is None or recipe.trainer != "aws-user-personalization":
            raise InvalidInput("trainingMode UPDATE is only supported for User-Personalization solutions.")
        fulls = [
            v for v in ctx.store.list(KIND, parent_arn=solution.arn, statuses=[ACTIVE], limit=100).items
            if v.attrs.get("trainingMode") == "FULL"
        ]  # fmt: skip
        if not fulls:
            raise InvalidInput(
                "trainingMode UPDATE needs an ACTIVE solution version trained with trainingMode FULL."
            )
    version_id = uuid.uuid4().hex[:8]
    arn = f"{solution.arn}/{version_id}"
    attrs = {k: solution.attrs[k] for k in SNAPSHOT if k in solution.attrs}
    attrs.update(solutionArn=solution.arn, trainingMode=mode, trainingType=training_type, _id=version_id)
    ctx.store.create(
        new_resource(
            ctx,
            KIND,
            arn,
            name,
            attrs,
            group=solution.dataset_group_arn,
            parent=solution.arn,
            status=CREATE_PENDING,
            name_key=f"{solution.arn}|{name}" if name else None,
        ),
        tags=tags,
        job=Job(kind=JOB_KIND, resource_arn=arn),
        quota=Quota(
            KIND,
            MAX_IN_FLIGHT,
            LimitExceeded(f"More than {MAX_IN_FLIGHT} resources with PENDING or IN_PROGRESS status."),
            statuses=IN_FLIGHT,
            arn_prefix=_scope_prefix(solution.arn),
        ),
    )
    return arn


def _scope_prefix(arn: str) -> str:
    """'arn:aws:personalize:<region>:<account>:' of an ARN: quotas count per account and region."""
    return ":".join(arn.split(":", 5)[:5]) + ":"


def create(ctx: Context, call: Call) -> dict[str, Any]:
    p = call.params
    solution = require(ctx, p["solutionArn"], "solution")
    require_active(solution, "Solution")
    arn = start_training(
        ctx,
        solution,
        name=p.get("name"),
        mode=p.get("trainingMode") or "FULL",
        training_type="MANUAL",
        tags=request_tags(call),
    )
    return {"solutionVersionArn": arn}


def describe(ctx: Context, call: Call) -> dict[str, Any]:
    version = require(ctx, call.params["solutionVersionArn"], KIND)
    out = view(version)
    if version.name is None:
        out.pop("name", None)
    return {"solutionVersion": out}


def stop(ctx: Context, call: Call) -> dict[str, Any]:
    version = require(ctx, call.params["solutionVersionArn"], KIND)
    if ctx.store.update(version.arn, status=CREATE_STOPPED, expect_status=[CREATE_PENDING]) is not None:
        return {}
    if ctx.store.update(version.arn, status=CREATE_STOPPING, expect_status=[CREATE_IN_PROGRESS]) is not None:
        return {}  # the training job sees CREATE STOPPING and ends as CREATE STOPPED
    raise ResourceInUse(
        f"Solution version {version.arn} is {version.status}; only a version in CREATE PENDING or "
        "CREATE IN_PROGRESS can be stopped."
    )


def get_metrics(ctx: Context, call: Call) -> dict[str, Any]:
    version = require(ctx, call.params["solutionVersionArn"], KIND)
    require_active(version, "Solution version")
    return {"solutionVersionArn": version.arn, "metrics": version.attrs.get("_metrics", {})}


list_ = lister(KIND, parent="solution")


OPERATIONS = {
    "CreateSolutionVersion": create,
    "DescribeSolutionVersion": describe,
    "ListSolutionVersions": list_,
    "StopSolutionVersionCreation": stop,
    "GetSolutionMetrics": get_metrics,
}
