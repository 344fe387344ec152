"""DatasetImportJob: bulk CSV import into a dataset, run by a worker (jobs/handlers/dataset_import.py)."""

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
from openpersonalize.data.locations import check_location_allowed, validate_location_syntax
from openpersonalize.errors import InvalidInput

KIND = "dataset-import-job"
JOB_KIND = "dataset-import"
MAX_IN_FLIGHT = 5


def create(ctx: Context, call: Call) -> dict[str, Any]:
    p = call.params
    dataset = require(ctx, p["datasetArn"], "dataset")
    require_active(dataset, "Dataset")
    location = p["dataSource"].get("dataLocation")
    if not location:
        raise InvalidInput(
            "dataSource.dataLocation is required: the s3:// (or file://) path of the CSV data."
        )
    validate_location_syntax(location)
    check_location_allowed(location, ctx.settings)
    mode = p.get("importMode") or "FULL"
    if mode == "INCREMENTAL" and not ctx.interactions.has_bulk(dataset.attrs["_id"]):
        raise InvalidInput(
            "importMode INCREMENTAL needs existing bulk data in the dataset; run a FULL import first."
        )
    if p.get("publishAttributionMetricsToS3"):
        owners = ctx.store.list("metric-attribution", dataset_group_arn=dataset.dataset_group_arn).items
        output = ((owners[0].attrs.get("metricsOutputConfig") or {}) if owners else {}).get(
            "s3DataDestination"
        ) or {}
        if not output.get("path"):
            raise InvalidInput(
                "publishAttributionMetricsToS3 needs a metric attribution in the dataset group with "
                "metricsOutputConfig.s3DataDestination.path set."
            )
    attrs: dict[str, Any] = {
        "datasetArn": dataset.arn,
        "dataSource": {"dataLocation": location},
        "importMode": mode,
        "publishAttributionMetricsToS3": bool(p.get("publishAttributionMetricsToS3", False)),
    }
    if p.get("roleArn"):
        attrs["roleArn"] = p["roleArn"]
    arn = create_job(ctx, call, KIND, JOB_KIND, attrs, group=dataset.dataset_group_arn, parent=dataset.arn,
                     max_in_flight=MAX_IN_FLIGHT)  # fmt: skip
    return {"datasetImportJobArn": arn}


describe = describer(KIND)
list_ = lister(KIND, parent="dataset")


OPERATIONS = {
    "CreateDatasetImportJob": create,
    "DescribeDatasetImportJob": describe,
    "ListDatasetImportJobs": list_,
}
