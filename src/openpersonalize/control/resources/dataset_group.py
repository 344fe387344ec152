"""DatasetGroup: the container of datasets, trackers, solutions and recommenders."""

from __future__ import annotations

from typing import Any

from openpersonalize.control import registry
from openpersonalize.control.context import Call, Context
from openpersonalize.control.resources.common import (
    check_role_kms,
    describer,
    ensure_name_free,
    ensure_no_children,
    lister,
    new_resource,
    request_tags,
    require,
)

KIND = "dataset-group"


def create(ctx: Context, call: Call) -> dict[str, Any]:
    p = call.params
    check_role_kms(p)
    arn = call.scope.arn(KIND, p["name"])
    ensure_name_free(ctx, arn, "Dataset group", p["name"])
    attrs = {k: p[k] for k in ("roleArn", "kmsKeyArn", "domain") if p.get(k)}
    # Creating a group is instantaneous here, so it is ACTIVE by the first Describe.
    ctx.store.create(
        new_resource(ctx, KIND, arn, p["name"], attrs),
        tags=request_tags(call),
    )
    out = {"datasetGroupArn": arn}
    if p.get("domain"):
        out["domain"] = p["domain"]
    return out


def delete(ctx: Context, call: Call) -> dict[str, Any]:
    arn = call.params["datasetGroupArn"]
    require(ctx, arn, KIND)
    ensure_no_children(
        ctx,
        f"dataset group {arn}",
        (
            (child.group_child or child.name, child.name, ctx.store.count(child.name, dataset_group_arn=arn))
            for child in registry.dataset_group_children()
        ),
    )
    ctx.store.delete(arn)
    return {}


describe = describer(KIND)
list_ = lister(KIND)


OPERATIONS = {
    "CreateDatasetGroup": create,
    "DescribeDatasetGroup": describe,
    "ListDatasetGroups": list_,
    "DeleteDatasetGroup": delete,
}
