"""DataDeletionJob: remove the users listed in a CSV from a dataset group's data (spec §18), run by
a worker (jobs/handlers/data_deletion.py). Its statuses read PENDING, IN_PROGRESS, COMPLETED and
FAILED on the wire (registry.py)."""

from __future__ import annotations

from typing import Any

from openpersonalize.control.context import Call, Context
from openpersonalize.control.lifecycle import CREATE_PENDING
from openpersonalize.control.resources.common import (
    describer,
    ensure_name_free,
    lister,
    new_resource,
    request_tags,
    require,
)
from openpersonalize.data.locations import check_location_allowed, validate_location_syntax
from openpersonalize.errors import InvalidInput, LimitExceeded
from openpersonalize.store.metadata import Job, Quota

KIND = "data-deletion-job"
JOB_KIND = "data-deletion"
MAX_PENDING = 5  # per dataset group (spec §18)


def create(ctx: Context, call: Call) -> dict[str, Any]:
    p = call.params
    group = require(ctx, p["datasetGroupArn"], "dataset-group")
    location = (p.get("dataSource") or {}).get("dataLocation")
    if not location:
        raise InvalidInput(
            "dataSource.dataLocation is required: the s3:// (or file://) path of the CSV of users."
        )
    validate_location_syntax(location)
    check_location_allowed(location, ctx.settings)
    arn = call.scope.arn(KIND, p["jobName"])
    ensure_name_free(ctx, arn, "Data deletion job", p["jobName"])
    attrs = {"datasetGroupArn": group.arn, "dataSource": {"dataLocation": location}, "roleArn": p["roleArn"]}
    ctx.store.create(
        new_resource(ctx, KIND, arn, p["jobName"], attrs, group=group.arn, status=CREATE_PENDING),
        tags=request_tags(call),
        job=Job(kind=JOB_KIND, resource_arn=arn),
        quota=Quota(
            KIND,
            MAX_PENDING,
            LimitExceeded(f"More than {MAX_PENDING} data deletion jobs with PENDING status in {group.arn}."),
            statuses=(CREATE_PENDING,),
            dataset_group_arn=group.arn,
        ),
    )
    return {"dataDeletionJobArn": arn}


describe = describer(KIND)
list_ = lister(KIND, parent="dataset-group")


OPERATIONS = {
    "CreateDataDeletionJob": create,
    "DescribeDataDeletionJob": describe,
    "ListDataDeletionJobs": list_,
}
