"""Dataset export jobs through boto3 (spec §12.2): BULK, PUT or ALL of a dataset's records as CSV."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import make_group, wait_for
from tests.api.test_training import loaded  # noqa: F401  (the fixture)
from tests.fixtures.server import start_server

pytestmark = pytest.mark.integration
ROLE = "arn:aws:iam::123456789012:role/personalize"


def export(personalize, dataset, destination, name, **extra):
    arn = personalize.create_dataset_export_job(
        jobName=name,
        datasetArn=dataset,
        roleArn=ROLE,
        jobOutput={"s3DataDestination": {"path": destination}},
        **extra,
    )["datasetExportJobArn"]
    return wait_for(
        lambda: personalize.describe_dataset_export_job(datasetExportJobArn=arn), "datasetExportJob"
    )


def rows_of(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_export_modes(personalize, events, loaded, tmp_path):  # noqa: F811
    sent = [
        {"eventType": "watch", "itemId": f"new-{i}", "sentAt": time.time(), "eventId": f"e{i}"}
        for i in range(3)
    ]
    events.put_events(trackingId=loaded["tracking"], userId="streamer", sessionId="s1", eventList=sent)
    imported = (tmp_path / "clustered.csv").read_text().splitlines()
    out = tmp_path / "exports"
    put = export(personalize, loaded["dataset"], out.as_uri(), "put")  # the default: PUT
    assert put["status"] == "ACTIVE", put.get("failureReason")
    assert put["ingestionMode"] == "PUT" and put["jobOutput"]["s3DataDestination"]["path"] == out.as_uri()
    rows = rows_of((out / "put_0.csv").read_text())
    assert [(r["USER_ID"], r["ITEM_ID"], r["EVENT_TYPE"]) for r in rows] == [
        ("streamer", f"new-{i}", "watch") for i in range(3)
    ]
    header = (out / "put_0.csv").read_text().splitlines()[0]
    assert header.replace('"', "").split(",") == [
        "USER_ID",
        "ITEM_ID",
        "EVENT_TYPE",
        "EVENT_VALUE",
        "DEVICE",
        "TIMESTAMP",
    ]
    bulk = export(personalize, loaded["dataset"], out.as_uri(), "bulk", ingestionMode="BULK")
    assert bulk["status"] == "ACTIVE"
    bulk_rows = rows_of((out / "bulk_0.csv").read_text())
    assert len(bulk_rows) == len(imported) - 1 and not any(r["USER_ID"] == "streamer" for r in bulk_rows)
    everything = export(personalize, loaded["dataset"], out.as_uri(), "all", ingestionMode="ALL")
    assert everything["status"] == "ACTIVE"
    assert len(rows_of((out / "all_0.csv").read_text())) == len(bulk_rows) + 3
    listed = personalize.list_dataset_export_jobs(datasetArn=loaded["dataset"])["datasetExportJobs"]
    assert [j["jobName"] for j in listed] == ["all", "bulk", "put"]  # newest first
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_export_refusals(personalize, loaded, tmp_path):  # noqa: F811
    with pytest.raises(ClientError) as caught:
        export(personalize, loaded["dataset"], "file:///etc/", "outside")
    assert caught.value.response["Error"]["Code"] == "InvalidInputException"
    assert "jobOutput.s3DataDestination.path" in caught.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as caught:
        export(personalize, loaded["dataset"] + "-nope", tmp_path.as_uri(), "missing")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError, match="ingestionMode"):
        export(personalize, loaded["dataset"], tmp_path.as_uri(), "mode", ingestionMode="SOME")
    assert personalize.list_dataset_export_jobs()["datasetExportJobs"] == []


@pytest.mark.s3
def test_export_items_to_s3(tmp_path, s3_server, s3_bucket):
    s3 = s3_server.settings()
    live = start_server(
        tmp_path / "data",
        min_import_interactions=10,
        s3_endpoint_url=s3.s3_endpoint_url,
        s3_region=s3.s3_region,
        s3_access_key_id=s3.s3_access_key_id,
        s3_secret_access_key=s3.s3_secret_access_key,
    )
    try:
        personalize, events = live.client("personalize"), live.client("personalize-events")
        arns = make_group(personalize)
        schema = personalize.create_schema(name="items", schema=json.dumps({
            "type": "record", "name": "Items", "namespace": "com.amazonaws.personalize.schema",
            "fields": [{"name": "ITEM_ID", "type": "string"},
                       {"name": "GENRES", "type": ["null", "string"], "categorical": True}],
            "version": "1.0"}))["schemaArn"]  # fmt: skip
        items = personalize.create_dataset(name="items", schemaArn=schema, datasetGroupArn=arns["group"],
                                           datasetType="Items")["datasetArn"]  # fmt: skip
        events.put_items(datasetArn=items, items=[
            {"itemId": "i1", "properties": json.dumps({"genres": "Comedy|Drama"})},
            {"itemId": "i2", "properties": json.dumps({"genres": "Horror, with a comma"})},
        ])  # fmt: skip
        done = export(personalize, items, f"s3://{s3_bucket}/exports/", "items")
        assert done["status"] == "ACTIVE", done.get("failureReason")
        body = (
            s3_server.client().get_object(Bucket=s3_bucket, Key="exports/items_0.csv")["Body"].read().decode()
        )
        assert sorted((r["ITEM_ID"], r["GENRES"]) for r in rows_of(body)) == [
            ("i1", "Comedy|Drama"),
            ("i2", "Horror, with a comma"),
        ]
    finally:
        live.stop()
