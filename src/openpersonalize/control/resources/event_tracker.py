"""EventTracker: the trackingId PutEvents writes through; one per dataset group."""

from __future__ import annotations

import uuid
from typing import Any

from openpersonalize.control.context import Call, Context
from openpersonalize.control.resources.common import (
    describer,
    lister,
    new_resource,
    request_tags,
    require,
    require_active,
)
from openpersonalize.errors import ResourceAlreadyExists
from openpersonalize.store.metadata import Quota

KIND = "event-tracker"


def create(ctx: Context, call: Call) -> dict[str, Any]:
    p = call.params
    group = require(ctx, p["datasetGroupArn"], "dataset-group")
    require_active(group, "Dataset group")
    arn = call.scope.arn(KIND, p["name"])
    if ctx.store.get(arn) is not None:
        raise ResourceAlreadyExists(f"Event tracker with name {p['name']} already exists.")
    tracking_id = str(uuid.uuid4())
    attrs = {"datasetGroupArn": group.arn, "trackingId": tracking_id, "accountId": call.scope.account}
    ctx.store.create(
        new_resource(ctx, KIND, arn, p["name"], attrs, group=group.arn, alt_key=tracking_id),
        tags=request_tags(call),
        quota=Quota(
            KIND,
            1,
            ResourceAlreadyExists(f"Dataset group {group.arn} already has an event tracker."),
            dataset_group_arn=group.arn,
        ),
    )
    return {"eventTrackerArn": arn, "trackingId": tracking_id}


def delete(ctx: Context, call: Call) -> dict[str, Any]:
    require(ctx, call.params["eventTrackerArn"], KIND)
    ctx.store.delete(call.params["eventTrackerArn"])
    return {}


describe = describer(KIND)
list_ = lister(KIND, parent="dataset-group")


OPERATIONS = {
    "CreateEventTracker": create,
    "DescribeEventTracker": describe,
    "ListEventTrackers": list_,
    "DeleteEventTracker": delete,
}
