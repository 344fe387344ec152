"""Every resource kind, declared once: its ARN segment, its members on the wire, its label in
messages, whether it takes tags, whether it lives in a dataset group (and so blocks its deletion).

A new resource is one module in control/resources (its operations) plus its row here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Kind:
    name: str  # the ARN resource segment, e.g. "dataset-group"
    label: str  # in messages: "Dataset group"
    arn_member: str  # the member holding its ARN: "datasetGroupArn"
    describe_key: str  # Describe output member: "datasetGroup"
    list_key: str  # List output member: "datasetGroups"
    job: bool = False  # named by `jobName`, run by a worker
    taggable: bool = True
    # Plural label when it lives in a dataset group and must be deleted before the group.
    group_child: str | None = None
    # How its statuses read on the wire, where AWS names them otherwise (lifecycle.py's are stored).
    status_names: Mapping[str, str] = field(default_factory=dict)


# Data deletion jobs speak their own vocabulary (spec §18).
_DELETION_STATUSES = {
    "CREATE PENDING": "PENDING",
    "CREATE IN_PROGRESS": "IN_PROGRESS",
    "ACTIVE": "COMPLETED",
    "CREATE FAILED": "FAILED",
}


_KINDS = (
    Kind("dataset-group", "Dataset group", "datasetGroupArn", "datasetGroup", "datasetGroups"),
    Kind("schema", "Schema", "schemaArn", "schema", "schemas", taggable=False),
    Kind("dataset", "Dataset", "datasetArn", "dataset", "datasets", group_child="datasets"),
    Kind("dataset-import-job", "Dataset import job", "datasetImportJobArn", "datasetImportJob",
         "datasetImportJobs", job=True),
    Kind("dataset-export-job", "Dataset export job", "datasetExportJobArn", "datasetExportJob",
         "datasetExportJobs", job=True),
    Kind("data-deletion-job", "Data deletion job", "dataDeletionJobArn", "dataDeletionJob",
         "dataDeletionJobs", job=True, status_names=_DELETION_STATUSES),
    Kind("event-tracker", "Event tracker", "eventTrackerArn", "eventTracker", "eventTrackers",
         group_child="event trackers"),
    Kind("solution", "Solution", "solutionArn", "solution", "solutions", group_child="solutions"),
    Kind("solution-version", "Solution version", "solutionVersionArn", "solutionVersion", "solutionVersions"),
    Kind("campaign", "Campaign", "campaignArn", "campaign", "campaigns"),
    Kind("recommender", "Recommender", "recommenderArn", "recommender", "recommenders",
         group_child="recommenders"),
    Kind("filter", "Filter", "filterArn", "filter", "Filters", group_child="filters"),
    Kind("batch-inference-job", "Batch inference job", "batchInferenceJobArn", "batchInferenceJob",
         "batchInferenceJobs", job=True),
    Kind("batch-segment-job", "Batch segment job", "batchSegmentJobArn", "batchSegmentJob",
         "batchSegmentJobs", job=True),
    Kind("metric-attribution", "Metric attribution", "metricAttributionArn", "metricAttribution",
         "metricAttributions", taggable=False, group_child="metric attributions"),
)  # fmt: skip
KINDS: dict[str, Kind] = {k.name: k for k in _KINDS}


def kind(name: str) -> Kind:
    return KINDS[name]


def dataset_group_children() -> list[Kind]:
    """Kinds that live in a dataset group and must be deleted before it, in the order AWS names them."""
    return [k for k in _KINDS if k.group_child]
