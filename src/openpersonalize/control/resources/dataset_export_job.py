"""DatasetExportJob: a dataset's records as CSV files at an output folder, run by a worker
(jobs/handlers/dataset_export.py)."""

from __future__ import annotations

from typing import Any

from openpersonalize.control.context import Call, Context
from openpersonalize.control.lifecycle import CREATE_PENDING, IN_FLIGHT
from openpersonalize.control.resources.common import (
    describer,
    ensure_name_free,
    lister,
    new_resource,
    request_tags,
    require,
    require_active,
)
from openpersonalize.data.output_locations import check_output_location
from openpersonalize.errors import LimitExceeded
from openpersonalize.store.metadata import Job, Quota

KIND = "dataset-export-job"
JOB_KIND = "dataset-export"
MAX_IN_FLIGHT = 5


def create(ctx: Context, call: Call) -> dict[str, Any]:
    p = call.params
    dataset = require(ctx, p["datasetArn"], "dataset")
    require_active(dataset, "Dataset")
    path = p["jobOutput"]["s3DataDestination"]["path"]
    check_output_location(path, ctx.settings, member="jobOutput.s3DataDestination.path")
    arn = call.scope.arn(KIND, p["jobName"])
    ensure_name_free(ctx, arn, "Dataset export job", p["jobName"])
    attrs: dict[str, Any] = {
        "datasetArn": dataset.arn,
        "ingestionMode": p.get("ingestionMode") or "PUT",  # AWS's default: individually imported data
        "roleArn": p["roleArn"],
        "jobOutput": {"s3DataDestination": {**p["jobOutput"]["s3DataDestination"], "path": path}},
    }
    ctx.store.create(
        new_resource(
            ctx,
            KIND,
            arn,
            p["jobName"],
            attrs,
            group=dataset.dataset_group_arn,
            parent=dataset.arn,
            status=CREATE_PENDING,
        ),  # fmt: skip
        tags=request_tags(call),
        job=Job(kind=JOB_KIND, resource_arn=arn),
        quota=Quota(
            KIND,
            MAX_IN_FLIGHT,
            LimitExceeded(f"More than {MAX_IN_FLIGHT} resources with PENDING or IN_PROGRESS status."),
            statuses=IN_FLIGHT,
            arn_prefix=call.scope.prefix,
        ),
    )
    return {"datasetExportJobArn": arn}


describe = describer(KIND)
list_ = lister(KIND, parent="dataset")


OPERATIONS = {
    "CreateDatasetExportJob": create,
    "DescribeDatasetExportJob": describe,
    "ListDatasetExportJobs": list_,
}
