"""Data deletion jobs through boto3 (spec §18): listed users leave every dataset and the next model."""

from __future__ import annotations

import csv
import io
import time

import pytest

from tests.api.clustered import group_of, item, user
from tests.api.helpers import wait_for
from tests.api.test_exports import export
from tests.api.test_filters import build_shop
from tests.api.test_training import UP, deploy, train
from tests.fixtures.server import start_server

pytestmark = pytest.mark.integration
ROLE = "arn:aws:iam::123456789012:role/personalize"


@pytest.fixture
def live(tmp_path):
    # The event log seals and compacts every half second, so a deletion never waits long for it.
    server = start_server(tmp_path / "data", event_log_seal_seconds=0.5, compaction_seconds=0.5)
    yield server
    server.stop()


def delete_users(personalize, group, users_csv, name="forget"):
    arn = personalize.create_data_deletion_job(
        jobName=name, datasetGroupArn=group, dataSource={"dataLocation": users_csv.as_uri()}, roleArn=ROLE
    )["dataDeletionJobArn"]
    done = wait_for(
        lambda: personalize.describe_data_deletion_job(dataDeletionJobArn=arn), "dataDeletionJob", 60
    )
    return done


def exported_users(personalize, dataset, folder, name):
    done = export(personalize, dataset, folder.as_uri(), name, ingestionMode="ALL")
    assert done["status"] == "ACTIVE", done.get("failureReason")
    return [row["USER_ID"] for row in csv.DictReader(io.StringIO((folder / f"{name}_0.csv").read_text()))]


def test_deleted_users_leave_the_data_and_the_next_model(live, tmp_path):
    personalize, events, runtime = (
        live.client(s) for s in ("personalize", "personalize-events", "personalize-runtime")
    )
    shop = build_shop(personalize, tmp_path)
    gone = [user(1, 0), user(1, 1), user(1, 2)]
    # A deleted user's live events (still in the event log) go too.
    events.put_events(trackingId=shop["tracking"], userId=gone[0], sessionId="s",
                      eventList=[{"eventType": "click", "itemId": item(1, 3), "sentAt": time.time()}])  # fmt: skip
    before = exported_users(personalize, shop["dataset"], tmp_path / "before", "before")
    expected = sum(u in gone for u in before) + len(gone)  # their interactions and their Users rows
    users_csv = tmp_path / "forget.csv"
    users_csv.write_text("USER_ID\n" + "\n".join(gone) + "\nnobody-by-this-name\n")
    done = delete_users(personalize, shop["group"], users_csv)
    assert done["status"] == "COMPLETED", done.get("failureReason")
    assert done["numDeleted"] == expected
    assert done["dataSource"] == {"dataLocation": users_csv.as_uri()}
    after = exported_users(personalize, shop["dataset"], tmp_path / "after", "after")
    assert not set(gone) & set(after) and len(after) == len(before) - (expected - len(gone))
    assert not set(gone) & set(exported_users(personalize, shop["users"], tmp_path / "users", "users"))
    listed = personalize.list_data_deletion_jobs(datasetGroupArn=shop["group"])["dataDeletionJobs"]
    assert [(j["jobName"], j["status"]) for j in listed] == [("forget", "COMPLETED")]
    # The next model no longer knows them: they get what a stranger gets, not their group's items.
    _, version = train(personalize, shop["group"], UP, "after")
    campaign = deploy(personalize, version, "after", itemExplorationConfig={"explorationWeight": "0"})
    stranger = [
        r["itemId"] for r in runtime.get_recommendations(campaignArn=campaign, userId="stranger")["itemList"]
    ]
    for who in gone[1:]:
        items = [
            r["itemId"] for r in runtime.get_recommendations(campaignArn=campaign, userId=who)["itemList"]
        ]
        assert items == stranger
    kept = [
        r["itemId"] for r in runtime.get_recommendations(campaignArn=campaign, userId=user(1, 5))["itemList"]
    ]
    assert sum(group_of(i) == 1 for i in kept[:10]) >= 8


def test_deletion_failures_say_why(live, tmp_path):
    personalize = live.client("personalize")
    shop = build_shop(personalize, tmp_path)
    strangers = tmp_path / "strangers.csv"
    strangers.write_text("USER_ID\nnobody\nno-one\n")
    done = delete_users(personalize, shop["group"], strangers, "strangers")
    assert (
        done["status"] == "FAILED" and "None of the 2 users listed (no-one, nobody)" in done["failureReason"]
    )
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("USER_ID,ITEM_ID\nu1,i1\n")
    done = delete_users(personalize, shop["group"], wrong, "wrong")
    assert done["status"] == "FAILED" and "single column, USER_ID" in done["failureReason"]
    done = delete_users(personalize, shop["group"], tmp_path / "missing.csv", "missing")
    assert done["status"] == "FAILED" and "does not exist" in done["failureReason"]
    statuses = {j["jobName"]: j["status"] for j in
                personalize.list_data_deletion_jobs(datasetGroupArn=shop["group"])["dataDeletionJobs"]}  # fmt: skip
    assert statuses == {"strangers": "FAILED", "wrong": "FAILED", "missing": "FAILED"}


@pytest.mark.s3
def test_deletion_list_from_s3(tmp_path, s3_server, s3_bucket):
    s3 = s3_server.settings()
    live = start_server(
        tmp_path / "data", event_log_seal_seconds=0.5, compaction_seconds=0.5,
        s3_endpoint_url=s3.s3_endpoint_url, s3_region=s3.s3_region,
        s3_access_key_id=s3.s3_access_key_id, s3_secret_access_key=s3.s3_secret_access_key,
    )  # fmt: skip
    try:
        personalize = live.client("personalize")
        shop = build_shop(personalize, tmp_path)
        s3_server.client().put_object(
            Bucket=s3_bucket, Key="deletions/users.csv", Body=f"USER_ID\n{user(0, 0)}\n".encode()
        )
        arn = personalize.create_data_deletion_job(
            jobName="from-s3", datasetGroupArn=shop["group"], roleArn=ROLE,
            dataSource={"dataLocation": f"s3://{s3_bucket}/deletions/users.csv"},
        )["dataDeletionJobArn"]  # fmt: skip
        done = wait_for(
            lambda: personalize.describe_data_deletion_job(dataDeletionJobArn=arn), "dataDeletionJob", 60
        )
        assert done["status"] == "COMPLETED" and done["numDeleted"] > 1
        assert user(0, 0) not in exported_users(personalize, shop["dataset"], tmp_path / "after", "after")
    finally:
        live.stop()
