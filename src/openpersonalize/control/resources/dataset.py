"""Dataset: one per type (Interactions, Items, Users, Actions, Action_Interactions) in a group."""

from __future__ import annotations

import uuid
from typing import Any

from openpersonalize.control.context import Call, Context
from openpersonalize.control.lifecycle import ACTIVE, IN_FLIGHT
from openpersonalize.control.resources import schema as schemas
from openpersonalize.control.resources.common import (
    describer,
    lister,
    new_resource,
    request_tags,
    require,
    require_active,
)
from openpersonalize.data.fields import DATASET_TYPES, normalize_dataset_type
from openpersonalize.data.schema import check_dataset_type, check_replacement
from openpersonalize.data.text_embedding import warm_for
from openpersonalize.errors import InvalidInput, ResourceAlreadyExists, ResourceInUse

KIND = "dataset"


def create(ctx: Context, call: Call) -> dict[str, Any]:
    p = call.params
    dataset_type = normalize_dataset_type(p["datasetType"])
    if dataset_type not in DATASET_TYPES:
        raise InvalidInput(
            f"Invalid datasetType '{p['datasetType']}': must be one of "
            "Interactions, Items, Users, Actions, Action_Interactions."
        )
    group = require(ctx, p["datasetGroupArn"], "dataset-group")
    require_active(group, "Dataset group")
    schema = require(ctx, p["schemaArn"], "schema")
    domain = group.attrs.get("domain")
    if schema.attrs.get("domain") != domain:
        raise InvalidInput(
            f"The schema's domain ({schema.attrs.get('domain') or 'none'}) does not match "
            f"the dataset group's domain ({domain or 'none'})."
        )
    check_dataset_type(schemas.parsed(schema), dataset_type, domain)
    if dataset_type == "ITEMS":  # its new items' text will need the text model: load it now
        warm_for(ctx.settings.data_dir / "encoders", [schemas.parsed(schema)])
    arn = call.scope.arn(KIND, group.name or "", dataset_type)
    if ctx.store.get(arn) is not None:
        raise ResourceAlreadyExists(
            f"Dataset group {group.arn} already has a dataset of type {dataset_type}."
        )
    attrs: dict[str, Any] = {
        "datasetGroupArn": group.arn,
        "datasetType": dataset_type,
        "schemaArn": schema.arn,
        "_id": uuid.uuid4().hex,
    }
    alt_key = None
    if dataset_type == "ACTION_INTERACTIONS":
        # Action interactions get their own tracker id for PutActionInteractions.
        attrs["trackingId"] = alt_key = str(uuid.uuid4())
    ctx.store.create(
        new_resource(
            ctx,
            KIND,
            arn,
            p["name"],
            attrs,
            group=group.arn,
            name_key=f"{group.arn}|{p['name']}",
            alt_key=alt_key,
        ),
        tags=request_tags(call),
    )
    return {"datasetArn": arn}


def update(ctx: Context, call: Call) -> dict[str, Any]:
    dataset = require(ctx, call.params["datasetArn"], KIND)
    require_active(dataset, "Dataset")
    new_schema = require(ctx, call.params["schemaArn"], "schema")
    old_schema = require(ctx, dataset.attrs["schemaArn"], "schema")
    group = require(ctx, dataset.dataset_group_arn or "", "dataset-group")
    parsed = schemas.parsed(new_schema)
    check_dataset_type(parsed, dataset.attrs["datasetType"], group.attrs.get("domain"))
    check_replacement(schemas.parsed(old_schema), parsed)
    now = ctx.now()
    update_view = {
        "schemaArn": new_schema.arn,
        "status": ACTIVE,
        "creationDateTime": now,
        "lastUpdatedDateTime": now,
    }
    ctx.store.update(dataset.arn, attrs={"schemaArn": new_schema.arn, "latestDatasetUpdate": update_view})
    return {"datasetArn": dataset.arn}


def delete(ctx: Context, call: Call) -> dict[str, Any]:
    dataset = require(ctx, call.params["datasetArn"], KIND)
    running = ctx.store.count("dataset-import-job", parent_arn=dataset.arn, statuses=IN_FLIGHT)
    if running:
        raise ResourceInUse(f"Cannot delete dataset {dataset.arn}: an import job is still in progress.")
    ctx.store.delete(dataset.arn)
    ctx.interactions.drop_dataset(dataset.attrs["_id"])
    return {}


describe = describer(KIND)
list_ = lister(KIND, parent="dataset-group")


OPERATIONS = {
    "CreateDataset": create,
    "DescribeDataset": describe,
    "ListDatasets": list_,
    "UpdateDataset": update,
    "DeleteDataset": delete,
}
