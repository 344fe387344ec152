"""Filter: an expression over a dataset group's data that shapes recommendations (spec §9).

The expression is parsed and checked against the group's schemas when the filter is created, so
a bad one is refused at once, naming where and why; a filter is ACTIVE from its first Describe.
"""

from __future__ import annotations

from typing import Any

from openpersonalize.control.context import Call, Context
from openpersonalize.control.lifecycle import IN_FLIGHT
from openpersonalize.control.registry import kind as registered
from openpersonalize.control.resources import schema as schemas
from openpersonalize.control.resources.common import (
    describer,
    ensure_name_free,
    lister,
    new_resource,
    request_tags,
    require,
    require_active,
)
from openpersonalize.errors import InvalidInput, LimitExceeded, ResourceInUse
from openpersonalize.filters.check import check
from openpersonalize.filters.syntax import FilterSyntaxError, parse
from openpersonalize.store.metadata import Quota

KIND = "filter"
USED_BY = ("batch-inference-job", "batch-segment-job")
# AWS's current default is 30 per dataset group; a quota that protects its fleet, so ours is higher.
MAX_PER_GROUP = 100


def create(ctx: Context, call: Call) -> dict[str, Any]:
    p = call.params
    group = require(ctx, p["datasetGroupArn"], "dataset-group")
    require_active(group, "Dataset group")
    try:
        parsed = parse(p["filterExpression"])
    except FilterSyntaxError as error:
        raise InvalidInput(f"Could not create filter. {error}") from None
    datasets = ctx.store.list("dataset", dataset_group_arn=group.arn).items
    by_type = {
        d.attrs["datasetType"]: schemas.parsed(require(ctx, d.attrs["schemaArn"], "schema")) for d in datasets
    }
    fields = check(parsed, by_type)
    arn = call.scope.arn(KIND, p["name"])
    ensure_name_free(ctx, arn, "Filter", p["name"])
    attrs = {
        "datasetGroupArn": group.arn,
        "filterExpression": p["filterExpression"],
        "_fields": sorted(fields),
    }
    ctx.store.create(
        new_resource(ctx, KIND, arn, p["name"], attrs, group=group.arn),
        tags=request_tags(call),
        quota=Quota(
            KIND,
            MAX_PER_GROUP,
            LimitExceeded(f"The dataset group {group.arn} already has {MAX_PER_GROUP} filters."),
            dataset_group_arn=group.arn,
        ),
    )
    return {"filterArn": arn}


def delete(ctx: Context, call: Call) -> dict[str, Any]:
    resource = require(ctx, call.params["filterArn"], KIND)
    for used_by in USED_BY:  # a running batch job reads the filter until it ends
        running = ctx.store.list(used_by, statuses=IN_FLIGHT, limit=1_000).items
        for job in running:
            if job.attrs.get("filterArn") == resource.arn:
                raise ResourceInUse(
                    f"Filter {resource.arn} is in use by {registered(used_by).label.lower()} {job.arn} "
                    f"({job.status}); delete it when the job has finished."
                )
    ctx.store.delete(resource.arn)
    return {}


describe = describer(KIND)
list_ = lister(KIND, parent="dataset-group")


OPERATIONS = {
    "CreateFilter": create,
    "DescribeFilter": describe,
    "ListFilters": list_,
    "DeleteFilter": delete,
}
