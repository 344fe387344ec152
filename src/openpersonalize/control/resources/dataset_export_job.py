"""DatasetExportJob: a dataset's records as CSV files at an output folder, run by a worker
(jobs/handlers/dataset_export.py)."""

from __future__ import annotations

from typing import Any

from openpersonalize.control.context import Call, Context
from openpersonalize.control.resources.common import (
    create_job,
    describer,
    lister,
    require,
    require_active,
)
from openpersonalize.data.output_locations import check_output_location

KIND = "dataset-export-job"
JOB_KIND = "dataset-export"
MAX_IN_FLIGHT = 5


def create(ctx: Context, call: Call) -> dict[str, Any]:
    p = call.params
    dataset = require(ctx, p["datasetArn"], "dataset")
    require_active(dataset, "Dataset")
    path = p["jobOutput"]["s3DataDestination"]["path"]
    check_output_location(path, ctx.settings, member="jobOutput.s3DataDestination.path")
    attrs: dict[str, Any] = {
        "datasetArn": dataset.arn,
        "ingestionMode": p.get("ingestionMode") or "PUT",  # AWS's default: individually imported data
        "roleArn": p["roleArn"],
        "jobOutput": {"s3DataDestination": {**p["jobOutput"]["s3DataDestination"], "path": path}},
    }
    arn = create_job(ctx, call, KIND, JOB_KIND, attrs, group=dataset.dataset_group_arn, parent=dataset.arn,
                     max_in_flight=MAX_IN_FLIGHT)  # fmt: skip
    return {"datasetExportJobArn": arn}


describe = describer(KIND)
list_ = lister(KIND, parent="dataset")


OPERATIONS = {
    "CreateDatasetExportJob": create,
    "DescribeDatasetExportJob": describe,
    "ListDatasetExportJobs": list_,
}
