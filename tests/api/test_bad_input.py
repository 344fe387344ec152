"""Malformed requests (spec §2, §5, §19, §20, §23): the AWS error type, a message naming the field and
the rule, and no change at all (checked through the List operations afterwards).

botocore validates only required/type/min on the client, so most cases go through boto3 as-is; the
few it refuses to send (maxResults 0, an empty eventList) go over raw HTTP.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from openpersonalize.api import coverage, protocol
from openpersonalize.data.dataset_reader import read_dataset
from tests.api.helpers import INTERACTIONS_SCHEMA, ITEMS_SCHEMA, make_group, write_interactions_csv
from tests.fixtures.server import LiveServer, start_server

ACCOUNT_PREFIX = "arn:aws:personalize:us-east-1:123456789012:"
ROLE = "arn:aws:iam::123456789012:role/personalize"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PATTERN = "Member must satisfy regular expression pattern"

Kwargs = Callable[[dict[str, str]], dict[str, Any]]


def tags(count: int, value: str = "v") -> list[dict[str, str]]:
    return [{"tagKey": f"k{i}", "tagValue": value} for i in range(count)]


def inventory(personalize: Any) -> dict[str, Any]:
    """Everything a bad request could have changed, as the List operations show it."""
    groups = personalize.list_dataset_groups()["datasetGroups"]
    datasets = personalize.list_datasets()["datasets"]
    trackers = personalize.list_event_trackers()["eventTrackers"]
    jobs = personalize.list_dataset_import_jobs()["datasetImportJobs"]
    taggable = [g["datasetGroupArn"] for g in groups] + [d["datasetArn"] for d in datasets]
    return {
        "groups": groups,
        "schemas": personalize.list_schemas()["schemas"],
        "datasets": datasets,
        "trackers": trackers,
        "jobs": jobs,
        "tags": {arn: personalize.list_tags_for_resource(resourceArn=arn)["tags"] for arn in taggable},
    }


def failure(call: Callable[[], Any]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as err:
        call()
    response = err.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


@pytest.fixture
def world(personalize: Any) -> dict[str, str]:
    arns = make_group(personalize)
    arns["tracking"] = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]
    personalize.tag_resource(resourceArn=arns["group"], tags=[{"tagKey": "team", "tagValue": "recs"}])
    return arns


# (id, client method, kwargs built from the world's ARNs, error code, message fragments)
CONTROL_CASES: list[tuple[str, str, Kwargs, str, list[str]]] = [
    (
        "maxResults-101",
        "list_dataset_groups",
        lambda a: {"maxResults": 101},
        "InvalidInputException",
        ["Value '101' at 'maxResults'", "Member must have value less than or equal to 100"],
    ),
    (
        "maxResults-101-datasets",
        "list_datasets",
        lambda a: {"datasetGroupArn": a["group"], "maxResults": 101},
        "InvalidInputException",
        ["at 'maxResults'", "less than or equal to 100"],
    ),
    (
        "nextToken-too-long",
        "list_schemas",
        lambda a: {"nextToken": "a" * 1501},
        "InvalidInputException",
        ["at 'nextToken'", "Member must have length less than or equal to 1500"],
    ),
    (
        "nextToken-garbage",
        "list_datasets",
        lambda a: {"nextToken": "definitely-not-ours"},
        "InvalidNextTokenException",
        ["token"],
    ),
    (
        "group-name-64",
        "create_dataset_group",
        lambda a: {"name": "g" * 64},
        "InvalidInputException",
        ["at 'name'", "Member must have length less than or equal to 63"],
    ),
    (
        "schema-name-space",
        "create_schema",
        lambda a: {"name": "my schema", "schema": INTERACTIONS_SCHEMA},
        "InvalidInputException",
        ["Value 'my schema' at 'name'", f"{PATTERN}: ^[a-zA-Z0-9][a-zA-Z0-9\\-_]*"],
    ),
    (
        "dataset-name-underscore-first",
        "create_dataset",
        lambda a: {
            "name": "_items",
            "schemaArn": a["schema"],
            "datasetGroupArn": a["group"],
            "datasetType": "Items",
        },
        "InvalidInputException",
        ["at 'name'", PATTERN],
    ),
    (
        "tracker-name-dot",
        "create_event_tracker",
        lambda a: {"name": "clicks.v2", "datasetGroupArn": a["group"]},
        "InvalidInputException",
        ["at 'name'", PATTERN],
    ),
    (
        "tracker-name-non-ascii",
        "create_event_tracker",
        lambda a: {"name": "clické", "datasetGroupArn": a["group"]},
        "InvalidInputException",
        ["at 'name'", PATTERN],
    ),
    (
        "job-name-64",
        "create_dataset_import_job",
        lambda a: {
            "jobName": "j" * 64,
            "datasetArn": a["dataset"],
            "dataSource": {"dataLocation": "s3://b/k.csv"},
        },
        "InvalidInputException",
        ["at 'jobName'", "length less than or equal to 63"],
    ),
    (
        "importMode-enum",
        "create_dataset_import_job",
        lambda a: {
            "jobName": "j",
            "datasetArn": a["dataset"],
            "dataSource": {"dataLocation": "s3://b/k.csv"},
            "importMode": "SOMETIMES",
        },
        "InvalidInputException",
        ["Value 'SOMETIMES' at 'importMode'", "Member must satisfy enum value set: [FULL, INCREMENTAL]"],
    ),
    (
        "group-domain-enum",
        "create_dataset_group",
        lambda a: {"name": "shop", "domain": "RETAIL"},
        "InvalidInputException",
        ["Value 'RETAIL' at 'domain'", "enum value set: [ECOMMERCE, VIDEO_ON_DEMAND]"],
    ),
    (
        "schema-domain-enum",
        "create_schema",
        lambda a: {"name": "s2", "schema": INTERACTIONS_SCHEMA, "domain": "RETAIL"},
        "InvalidInputException",
        ["at 'domain'", "enum value set"],
    ),
    (
        "datasetType-pattern",
        "create_dataset",
        lambda a: {
            "name": "d2",
            "schemaArn": a["schema"],
            "datasetGroupArn": a["group"],
            "datasetType": "Click-Stream",
        },
        "InvalidInputException",
        ["at 'datasetType'", f"{PATTERN}: ^[A-Za-z_]+$"],
    ),
    (
        "datasetType-unknown",
        "create_dataset",
        lambda a: {
            "name": "d2",
            "schemaArn": a["schema"],
            "datasetGroupArn": a["group"],
            "datasetType": "Clicks",
        },
        "InvalidInputException",
        ["Clicks", "Interactions, Items, Users, Actions, Action_Interactions"],
    ),
    (
        "arn-not-an-arn",
        "describe_dataset_group",
        lambda a: {"datasetGroupArn": "dataset-group/dg"},
        "InvalidInputException",
        [
            "Value 'dataset-group/dg' at 'datasetGroupArn'",
            f"{PATTERN}: arn:([a-z\\d-]+):personalize:.*:.*:.+",
        ],
    ),
    (
        "arn-other-service",
        "describe_schema",
        lambda a: {"schemaArn": "arn:aws:s3:::bucket/schema"},
        "InvalidInputException",
        ["at 'schemaArn'", PATTERN],
    ),
    (
        "arn-upper-partition",
        "delete_dataset",
        lambda a: {"datasetArn": a["dataset"].replace("arn:aws:", "arn:AWS:")},
        "InvalidInputException",
        ["at 'datasetArn'", PATTERN],
    ),
    (
        "arn-257",
        "describe_dataset",
        lambda a: {"datasetArn": ACCOUNT_PREFIX + "dataset/" + "d" * 256},
        "InvalidInputException",
        ["at 'datasetArn'", "Member must have length less than or equal to 256"],
    ),
    (
        "arn-in-create",
        "create_event_tracker",
        lambda a: {"name": "t2", "datasetGroupArn": "group-dg"},
        "InvalidInputException",
        ["at 'datasetGroupArn'", PATTERN],
    ),
    (
        "roleArn-pattern-group",
        "create_dataset_group",
        lambda a: {"name": "g2", "roleArn": "arn:aws:iam::12345:role/short-account"},
        "InvalidInputException",
        ["at 'roleArn'", f"{PATTERN}: arn:([a-z\\d-]+):iam::\\d{{12}}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"],
    ),
    (
        "roleArn-pattern-import",
        "create_dataset_import_job",
        lambda a: {
            "jobName": "j",
            "datasetArn": a["dataset"],
            "dataSource": {"dataLocation": "s3://b/k.csv"},
            "roleArn": "arn:aws:iam::123456789012:user/alice",
        },
        "InvalidInputException",
        ["at 'roleArn'", PATTERN],
    ),
    (
        "kms-without-role",
        "create_dataset_group",
        lambda a: {"name": "g2", "kmsKeyArn": KMS_KEY},
        "InvalidInputException",
        ["roleArn", "KMS"],
    ),
    (
        "kms-pattern",
        "create_dataset_group",
        lambda a: {"name": "g2", "roleArn": ROLE, "kmsKeyArn": "arn:aws:kms:us-east-1:123:key/k"},
        "InvalidInputException",
        ["at 'kmsKeyArn'", PATTERN],
    ),
    (
        "data-location-scheme",
        "create_dataset_import_job",
        lambda a: {
            "jobName": "j",
            "datasetArn": a["dataset"],
            "dataSource": {"dataLocation": "ftp://b/k.csv"},
        },
        "InvalidInputException",
        ["at 'dataSource.dataLocation'", PATTERN],
    ),
    (
        "data-location-missing",
        "create_dataset_import_job",
        lambda a: {"jobName": "j", "datasetArn": a["dataset"], "dataSource": {}},
        "InvalidInputException",
        ["dataLocation"],
    ),
    (
        "schema-over-20000",
        "create_schema",
        lambda a: {"name": "big", "schema": INTERACTIONS_SCHEMA + " " * (20_001 - len(INTERACTIONS_SCHEMA))},
        "InvalidInputException",
        ["at 'schema'", "Member must have length less than or equal to 20000"],
    ),
    (
        "tag-key-pattern-on-create",
        "create_dataset_group",
        lambda a: {"name": "g2", "tags": [{"tagKey": "cost*center", "tagValue": "v"}]},
        "InvalidInputException",
        ["at 'tags.1.member.tagKey'", f"{PATTERN}: ^([\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]*)$"],
    ),
    (
        "tag-key-129-on-tag",
        "tag_resource",
        lambda a: {"resourceArn": a["group"], "tags": [{"tagKey": "k" * 129, "tagValue": "v"}]},
        "InvalidInputException",
        ["at 'tags.1.member.tagKey'", "Member must have length less than or equal to 128"],
    ),
    (
        "tag-value-pattern",
        "tag_resource",
        lambda a: {"resourceArn": a["dataset"], "tags": [{"tagKey": "ok", "tagValue": "<b>"}]},
        "InvalidInputException",
        ["at 'tags.1.member.tagValue'", PATTERN],
    ),
    (
        "201-tags-on-create",
        "create_dataset_group",
        lambda a: {"name": "g2", "tags": tags(201)},
        "InvalidInputException",
        ["at 'tags'", "Member must have length less than or equal to 200"],
    ),
    (
        "201-tags-on-dataset-create",
        "create_dataset",
        lambda a: {
            "name": "items",
            "schemaArn": a["schema"],
            "datasetGroupArn": a["group"],
            "datasetType": "Items",
            "tags": tags(201),
        },
        "InvalidInputException",
        ["at 'tags'", "less than or equal to 200"],
    ),
    (
        "201-tags-on-tag-resource",
        "tag_resource",
        lambda a: {"resourceArn": a["group"], "tags": tags(201)},
        "InvalidInputException",
        ["at 'tags'", "less than or equal to 200"],
    ),
    (
        "tags-over-200-after-merge",
        "tag_resource",
        lambda a: {"resourceArn": a["group"], "tags": tags(200)},  # plus the existing "team" tag
        "TooManyTagsException",
        ["201", "200"],
    ),
    (
        "untag-201-keys",
        "untag_resource",
        lambda a: {"resourceArn": a["group"], "tagKeys": [f"k{i}" for i in range(201)]},
        "InvalidInputException",
        ["at 'tagKeys'", "Member must have length less than or equal to 200"],
    ),
    (
        "tag-unknown-resource",
        "tag_resource",
        lambda a: {"resourceArn": ACCOUNT_PREFIX + "dataset-group/nope", "tags": tags(1)},
        "ResourceNotFoundException",
        ["dataset-group/nope"],
    ),
    (
        "duplicate-dataset-type",
        "create_dataset",
        lambda a: {
            "name": "second",
            "schemaArn": a["schema"],
            "datasetGroupArn": a["group"],
            "datasetType": "interactions",
        },
        "ResourceAlreadyExistsException",
        ["INTERACTIONS", "dataset-group/dg"],
    ),
    (
        "dataset-in-missing-group",
        "create_dataset",
        lambda a: {
            "name": "d2",
            "schemaArn": a["schema"],
            "datasetGroupArn": ACCOUNT_PREFIX + "dataset-group/missing",
            "datasetType": "Interactions",
        },
        "ResourceNotFoundException",
        ["dataset-group/missing"],
    ),
    (
        "dataset-with-missing-schema",
        "create_dataset",
        lambda a: {
            "name": "d2",
            "schemaArn": ACCOUNT_PREFIX + "schema/missing",
            "datasetGroupArn": a["group"],
            "datasetType": "Items",
        },
        "ResourceNotFoundException",
        ["schema/missing"],
    ),
    (
        "second-event-tracker",
        "create_event_tracker",
        lambda a: {"name": "t2", "datasetGroupArn": a["group"]},
        "ResourceAlreadyExistsException",
        ["event tracker"],
    ),
    (
        "incremental-without-bulk-data",
        "create_dataset_import_job",
        lambda a: {
            "jobName": "j",
            "datasetArn": a["dataset"],
            "dataSource": {"dataLocation": "s3://b/k.csv"},
            "importMode": "INCREMENTAL",
        },
        "InvalidInputException",
        ["INCREMENTAL"],
    ),
    (
        "delete-schema-in-use",
        "delete_schema",
        lambda a: {"schemaArn": a["schema"]},
        "ResourceInUseException",
        ["schema/dg-interactions", "dataset/dg/INTERACTIONS"],
    ),
    (
        "delete-group-with-children",
        "delete_dataset_group",
        lambda a: {"datasetGroupArn": a["group"]},
        "ResourceInUseException",
        ["dataset-group/dg"],
    ),
    (
        "update-dataset-with-other-type-schema",
        "update_dataset",
        lambda a: {"datasetArn": a["dataset"], "schemaArn": a["items_schema"]},
        "InvalidInputException",
        ["INTERACTIONS"],
    ),
]


@pytest.mark.parametrize(
    ("method", "kwargs", "code", "fragments"),
    [case[1:] for case in CONTROL_CASES],
    ids=[case[0] for case in CONTROL_CASES],
)
def test_bad_control_request_is_rejected_and_changes_nothing(
    personalize, world, method, kwargs, code, fragments
):
    world["items_schema"] = personalize.create_schema(name="items", schema=ITEMS_SCHEMA)["schemaArn"]
    before = inventory(personalize)
    got_code, status, message = failure(lambda: getattr(personalize, method)(**kwargs(world)))
    assert (got_code, status) == (code, 400), message
    for fragment in fragments:
        assert fragment in message, message
    assert inventory(personalize) == before


def test_validation_messages_list_every_violation(personalize, world):
    before = inventory(personalize)
    code, _, message = failure(
        lambda: personalize.create_dataset_group(name="bad name" + "x" * 60, domain="RETAIL", roleArn="role")
    )
    assert code == "InvalidInputException"
    assert message.startswith("3 validation errors detected: ")
    assert message.count("failed to satisfy constraint") == 3
    for path in ("'name'", "'domain'", "'roleArn'"):
        assert f"at {path}" in message
    assert inventory(personalize) == before


def test_boundary_values_are_accepted(personalize, world):
    """The limits themselves are inclusive: 63-char names, 200 tags, 100 results, a 20,000-char schema."""
    arn = personalize.create_dataset_group(name="g" * 63, tags=tags(200))["datasetGroupArn"]
    assert len(personalize.list_tags_for_resource(resourceArn=arn)["tags"]) == 200
    personalize.untag_resource(resourceArn=arn, tagKeys=[f"k{i}" for i in range(200)])
    assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == []
    assert len(personalize.list_dataset_groups(maxResults=100)["datasetGroups"]) == 2
    padded = INTERACTIONS_SCHEMA + " " * (20_000 - len(INTERACTIONS_SCHEMA))
    schema = personalize.create_schema(name="padded", schema=padded)["schemaArn"]
    assert personalize.describe_schema(schemaArn=schema)["schema"]["schema"] == padded
    unicode_tag = [{"tagKey": "équipe:owner/é_1", "tagValue": "Ünïcödé value"}]
    personalize.tag_resource(resourceArn=arn, tags=unicode_tag)
    assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == unicode_tag


def post_control(server: LiveServer, operation: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        server.url + "/",
        headers={"X-Amz-Target": f"{protocol.TARGET_PREFIX}{operation}", "Content-Type": protocol.JSON_11},
        content=json.dumps(body).encode(),
    )


@pytest.mark.parametrize(
    "operation", ["ListDatasetGroups", "ListSchemas", "ListDatasets", "ListEventTrackers"]
)
def test_max_results_zero_is_rejected_on_the_wire(server, personalize, world, operation):
    before = inventory(personalize)
    response = post_control(server, operation, {"maxResults": 0})
    assert response.status_code == 400 and response.headers["x-amzn-RequestId"]
    body = response.json()
    assert body["__type"] == "InvalidInputException"
    assert "Value '0' at 'maxResults'" in body["message"]
    assert "Member must have value greater than or equal to 1" in body["message"]
    assert inventory(personalize) == before


# --- unknown but well-formed ARNs -------------------------------------------------------------

GLOBAL_KINDS = {"recipe", "algorithm", "feature-transformation"}


def unknown_arn(member: str) -> str:
    """A well-formed ARN of the kind a member names (datasetGroupArn -> dataset-group/...)."""
    kind = re.sub(r"(?<!^)([A-Z])", r"-\1", member.removesuffix("Arn")).lower()
    if kind in GLOBAL_KINDS:
        return f"arn:aws:personalize:::{kind}/nope"
    if kind == "solution-version":
        return ACCOUNT_PREFIX + "solution/nope/0123abcd"
    if kind == "dataset":
        return ACCOUNT_PREFIX + "dataset/nope/ITEMS"
    return ACCOUNT_PREFIX + f"{kind}/nope"


def arn_lookups() -> Iterator[tuple[str, str]]:
    """Every implemented Describe*/Delete* operation and the ARN member it looks up."""
    for name, op in sorted(protocol.operations(protocol.CONTROL).items()):
        if not name.startswith(("Describe", "Delete")) or not coverage.implemented(protocol.CONTROL, name):
            continue
        required = op.model.input_shape.required_members
        if len(required) == 1 and required[0].endswith("Arn"):
            yield name, required[0]


ARN_LOOKUPS = list(arn_lookups())


def test_lookups_cover_the_basic_resources():
    names = {name for name, _ in ARN_LOOKUPS}
    assert {"DescribeDatasetGroup", "DeleteDatasetGroup", "DescribeSchema", "DeleteSchema"} <= names
    assert {"DescribeDataset", "DeleteDataset", "DescribeEventTracker", "DeleteEventTracker"} <= names
    assert "DescribeDatasetImportJob" in names


@pytest.mark.parametrize(("operation", "member"), ARN_LOOKUPS, ids=[name for name, _ in ARN_LOOKUPS])
def test_unknown_well_formed_arn_is_not_found(personalize, world, operation, member):
    before = inventory(personalize)
    arn = unknown_arn(member)
    method = re.sub(r"(?<!^)([A-Z])", r"_\1", operation).lower()
    code, status, message = failure(lambda: getattr(personalize, method)(**{member: arn}))
    assert (code, status) == ("ResourceNotFoundException", 400), message
    assert arn in message
    assert inventory(personalize) == before


@pytest.mark.parametrize(
    ("method", "member"),
    [
        ("describe_dataset", "datasetArn"),
        ("delete_event_tracker", "eventTrackerArn"),
        ("delete_schema", "schemaArn"),
    ],
)
def test_an_existing_arn_of_another_kind_is_not_found(personalize, world, method, member):
    before = inventory(personalize)
    code, _, message = failure(lambda: getattr(personalize, method)(**{member: world["group"]}))
    assert code == "ResourceNotFoundException" and world["group"] in message
    assert inventory(personalize) == before


# --- jobs: in-flight rules need a server whose imports stay pending ---------------------------


@pytest.fixture
def idle_server(tmp_path: Path) -> Iterator[LiveServer]:
    """No worker: import jobs stay CREATE PENDING, so the in-flight rules can be observed."""
    live = start_server(tmp_path / "idle", with_worker=False, min_import_interactions=10)
    yield live
    live.stop()


def test_dataset_with_a_pending_import_cannot_be_deleted(idle_server, tmp_path):
    personalize = idle_server.client("personalize")
    arns = make_group(personalize)
    csv = write_interactions_csv(tmp_path / "a.csv")
    personalize.create_dataset_import_job(
        jobName="pending", datasetArn=arns["dataset"], dataSource={"dataLocation": csv.as_uri()}
    )
    before = inventory(personalize)
    code, status, message = failure(lambda: personalize.delete_dataset(datasetArn=arns["dataset"]))
    assert (code, status) == ("ResourceInUseException", 400)
    assert arns["dataset"] in message and "import" in message
    assert inventory(personalize) == before
    assert before["jobs"][0]["status"] == "CREATE PENDING"


def test_a_sixth_in_flight_import_is_limit_exceeded(idle_server, tmp_path):
    personalize = idle_server.client("personalize")  # retries off: LimitExceeded is a throttling code
    arns = make_group(personalize)
    csv = write_interactions_csv(tmp_path / "a.csv")
    for i in range(5):
        personalize.create_dataset_import_job(
            jobName=f"job{i}", datasetArn=arns["dataset"], dataSource={"dataLocation": csv.as_uri()}
        )
    before = inventory(personalize)
    code, status, message = failure(
        lambda: personalize.create_dataset_import_job(
            jobName="job5", datasetArn=arns["dataset"], dataSource={"dataLocation": csv.as_uri()}
        )
    )
    assert (code, status) == ("LimitExceededException", 400)
    assert message == "More than 5 resources with PENDING or IN_PROGRESS status."
    assert inventory(personalize) == before
    assert len(before["jobs"]) == 5


# --- the events API ---------------------------------------------------------------------------


def event(**overrides: Any) -> dict[str, Any]:
    return {"eventType": "click", "itemId": "i1", "sentAt": 1700000000, **overrides}


def live_rows(server: LiveServer, arn: str) -> list[dict[str, Any]]:
    s = server.services
    return read_dataset(s.ctx.store, s.ctx.interactions, arn).to_pylist()  # type: ignore[no-any-return]


# (id, events method, kwargs from the world, error code, status, fragments)
EVENT_CASES: list[tuple[str, str, Kwargs, str, int, list[str]]] = [
    (
        "impression-26",
        "put_events",
        lambda a: {"eventList": [event(impression=[f"i{n}" for n in range(26)])]},
        "InvalidInputException",
        400,
        ["at 'eventList.1.member.impression'", "Member must have length less than or equal to 25"],
    ),
    (
        "properties-1025",
        "put_events",
        lambda a: {"eventList": [event(properties=json.dumps({"device": "x" * 1011}))]},
        "InvalidInputException",
        400,
        ["at 'eventList.1.member.properties'", "Member must have length less than or equal to 1024"],
    ),
    (
        "eventType-257",
        "put_events",
        lambda a: {"eventList": [event(), event(eventType="e" * 257)]},
        "InvalidInputException",
        400,
        ["at 'eventList.2.member.eventType'", "Member must have length less than or equal to 256"],
    ),
    (
        "recommendationId-41",
        "put_events",
        lambda a: {"eventList": [event(recommendationId="r" * 41)]},
        "InvalidInputException",
        400,
        ["at 'eventList.1.member.recommendationId'", "Member must have length less than or equal to 40"],
    ),
    (
        "itemId-257",
        "put_events",
        lambda a: {"eventList": [event(itemId="i" * 257)]},
        "InvalidInputException",
        400,
        ["at 'eventList.1.member.itemId'", "less than or equal to 256"],
    ),
    (
        "sessionId-257",
        "put_events",
        lambda a: {"sessionId": "s" * 257},
        "InvalidInputException",
        400,
        ["at 'sessionId'", "less than or equal to 256"],
    ),
    (
        "attribution-source-blank",
        "put_events",
        lambda a: {"eventList": [event(metricAttribution={"eventAttributionSource": "   "})]},
        "InvalidInputException",
        400,
        ["at 'eventList.1.member.metricAttribution.eventAttributionSource'", PATTERN],
    ),
    (
        "event-over-10kb",
        "put_events",
        # 25 impressions of 256 three-byte characters: within every length limit, but ~19 KB.
        lambda a: {"eventList": [event(impression=["商" * 256] * 25)]},
        "InvalidInputException",
        400,
        ["eventList[1]", "10 KB"],
    ),
    (
        "reserved-property-key",
        "put_events",
        lambda a: {"eventList": [event(properties=json.dumps({"sessionId": "other"}))]},
        "InvalidInputException",
        400,
        ["eventList[1].properties", "sessionId"],
    ),
    (
        "eleven-items",
        "put_items",
        lambda a: {"datasetArn": a["items"], "items": [{"itemId": f"i{n}"} for n in range(11)]},
        "InvalidInputException",
        400,
        ["at 'items'", "Member must have length less than or equal to 10"],
    ),
    (
        "user-properties-24001",
        "put_users",
        lambda a: {"datasetArn": a["users"], "users": [{"userId": "u1", "properties": "x" * 24_001}]},
        "InvalidInputException",
        400,
        ["at 'users.1.member.properties'", "less than or equal to 24000"],
    ),
    (
        "items-into-interactions",
        "put_items",
        lambda a: {"datasetArn": a["dataset"], "items": [{"itemId": "i1"}]},
        "InvalidInputException",
        400,
        ["INTERACTIONS", "ITEMS"],
    ),
    (
        "items-unknown-dataset",
        "put_items",
        lambda a: {"datasetArn": ACCOUNT_PREFIX + "dataset/nope/ITEMS", "items": [{"itemId": "i1"}]},
        "ResourceNotFoundException",
        404,
        ["dataset/nope/ITEMS"],
    ),
    (
        "items-malformed-arn",
        "put_items",
        lambda a: {"datasetArn": "items", "items": [{"itemId": "i1"}]},
        "InvalidInputException",
        400,
        ["at 'datasetArn'", PATTERN],
    ),
]


@pytest.fixture
def metadata_world(personalize: Any, world: dict[str, str]) -> dict[str, str]:
    from tests.api.helpers import USERS_SCHEMA

    for key, text, kind in (("items", ITEMS_SCHEMA, "Items"), ("users", USERS_SCHEMA, "Users")):
        schema = personalize.create_schema(name=key, schema=text)["schemaArn"]
        world[key] = personalize.create_dataset(
            name=key, schemaArn=schema, datasetGroupArn=world["group"], datasetType=kind
        )["datasetArn"]
    return world


@pytest.mark.parametrize(
    ("method", "kwargs", "code", "status", "fragments"),
    [case[1:] for case in EVENT_CASES],
    ids=[case[0] for case in EVENT_CASES],
)
def test_bad_events_request_is_rejected_and_writes_nothing(
    server, events, metadata_world, method, kwargs, code, status, fragments
):
    params = kwargs(metadata_world)
    if method == "put_events":
        defaults = {"trackingId": metadata_world["tracking"], "userId": "u1", "sessionId": "s1"}
        params = {**defaults, "eventList": [event()], **params}
    got_code, got_status, message = failure(lambda: getattr(events, method)(**params))
    assert (got_code, got_status) == (code, status), message
    for fragment in fragments:
        assert fragment in message, message
    for dataset in ("dataset", "items", "users"):
        assert live_rows(server, metadata_world[dataset]) == []


def post_events(server: LiveServer, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(server.url + "/events", content=json.dumps(body).encode())


def test_put_events_with_no_events_is_rejected_on_the_wire(server, world):
    response = post_events(server, {"trackingId": world["tracking"], "sessionId": "s", "eventList": []})
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "InvalidInputException"
    message = response.json()["message"]
    assert "at 'eventList'" in message and "Member must have length greater than or equal to 1" in message
    assert live_rows(server, world["dataset"]) == []


def test_sent_at_far_beyond_any_date_is_a_client_error(server, world):
    body = {"trackingId": world["tracking"], "sessionId": "s", "eventList": [event(sentAt=1e20)]}
    response = post_events(server, body)
    assert response.status_code == 400, response.text
    assert response.json()["__type"] in ("InvalidInputException", "SerializationException")
    assert "sentAt" in response.json()["message"]
    assert live_rows(server, world["dataset"]) == []


def test_sent_at_above_the_long_range_is_rejected_not_stored(server, world):
    body = {"trackingId": world["tracking"], "sessionId": "s", "eventList": [event(sentAt=9.3e18)]}
    response = post_events(server, body)
    assert response.status_code == 400, response.text
    assert "sentAt" in response.json()["message"]
    assert live_rows(server, world["dataset"]) == []


def test_event_value_beyond_float_range_is_rejected(server, events, world):
    with pytest.raises(events.exceptions.InvalidInputException) as err:
        events.put_events(trackingId=world["tracking"], sessionId="s", eventList=[event(eventValue=1e39)])
    assert "eventValue" in err.value.response["Error"]["Message"]
    assert live_rows(server, world["dataset"]) == []
