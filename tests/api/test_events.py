"""The personalize-events API through boto3 (and raw HTTP where boto3 would refuse to send)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from botocore.exceptions import ClientError

from openpersonalize.data.dataset_reader import read_dataset
from tests.api.helpers import ITEMS_SCHEMA, USERS_SCHEMA, make_group


def rows(server, arn):
    s = server.services
    return read_dataset(s.ctx.store, s.ctx.interactions, arn).to_pylist()


@pytest.fixture
def tracked(personalize):
    arns = make_group(personalize)
    arns["tracking"] = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]
    return arns


def test_put_events_lands_in_the_interactions_dataset(server, events, tracked):
    events.put_events(
        trackingId=tracked["tracking"],
        userId="u1",
        sessionId="s1",
        eventList=[
            {
                "eventType": "click",
                "itemId": "i1",
                "sentAt": 1700000000,
                "properties": json.dumps({"device": "ios"}),
            },
            {"eventType": "buy", "itemId": "i2", "sentAt": 1700000005.5, "eventValue": 3.5},
        ],
    )
    got = rows(server, tracked["dataset"])
    assert [(r["USER_ID"], r["ITEM_ID"], r["EVENT_TYPE"], r["TIMESTAMP"]) for r in got] == [
        ("u1", "i1", "click", 1700000000),
        ("u1", "i2", "buy", 1700000005),
    ]
    assert got[0]["DEVICE"] == "ios" and got[1]["EVENT_VALUE"] == 3.5


def test_exact_duplicates_are_dropped(server, events, tracked):
    event = {"eventType": "click", "itemId": "i1", "sentAt": 1700000000}
    for _ in range(3):
        events.put_events(trackingId=tracked["tracking"], userId="u1", sessionId="s1", eventList=[event])
    with_id = {**event, "itemId": "i2", "eventId": "e-1"}
    events.put_events(trackingId=tracked["tracking"], userId="u1", sessionId="s1", eventList=[with_id])
    events.put_events(
        trackingId=tracked["tracking"],
        userId="u1",
        sessionId="s1",
        eventList=[{**with_id, "sentAt": 1700000009}],
    )
    got = rows(server, tracked["dataset"])
    assert [r["ITEM_ID"] for r in got] == ["i1", "i2"]


def test_anonymous_session_events_are_kept(server, events, tracked):
    events.put_events(
        trackingId=tracked["tracking"],
        sessionId="anon-1",
        eventList=[{"eventType": "click", "itemId": "i9", "sentAt": 1}],
    )
    got = rows(server, tracked["dataset"])
    assert got[0]["USER_ID"] is None and got[0]["ITEM_ID"] == "i9"


def test_eleven_events_are_rejected(server, events, tracked):
    batch = [{"eventType": "click", "itemId": f"i{i}", "sentAt": 1700000000 + i} for i in range(11)]
    with pytest.raises(events.exceptions.InvalidInputException) as err:
        events.put_events(trackingId=tracked["tracking"], userId="u1", sessionId="s1", eventList=batch)
    assert "eventList" in err.value.response["Error"]["Message"]
    assert "less than or equal to 10" in err.value.response["Error"]["Message"]
    assert rows(server, tracked["dataset"]) == []


def test_event_missing_sent_at_is_rejected_on_the_wire(server, tracked):
    body = {
        "trackingId": tracked["tracking"],
        "sessionId": "s",
        "eventList": [{"eventType": "click", "itemId": "i1"}],
    }
    response = httpx.post(server.url + "/events", json=body)
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "InvalidInputException"
    assert "eventList.1.member.sentAt" in response.json()["message"]
    assert rows(server, tracked["dataset"]) == []


@pytest.mark.parametrize(
    ("properties", "fragment"),
    [
        ("{not json", "JSON"),
        (json.dumps({"colour": "red"}), "colour"),
        (json.dumps({"userId": "x"}), "userId"),
        (json.dumps({"eventValue": "abc"}), "eventValue"),
    ],
)
def test_bad_properties_name_the_key(server, events, tracked, properties, fragment):
    with pytest.raises(events.exceptions.InvalidInputException) as err:
        events.put_events(
            trackingId=tracked["tracking"],
            userId="u1",
            sessionId="s1",
            eventList=[{"eventType": "click", "itemId": "i1", "sentAt": 1, "properties": properties}],
        )
    assert fragment in err.value.response["Error"]["Message"]
    assert rows(server, tracked["dataset"]) == []


def test_unknown_tracking_id_is_invalid_input(events):
    with pytest.raises(events.exceptions.InvalidInputException):
        events.put_events(
            trackingId="nope", sessionId="s", eventList=[{"eventType": "c", "itemId": "i", "sentAt": 1}]
        )


def test_put_items_and_users_replace_by_id(server, personalize, events, tracked):
    items_schema = personalize.create_schema(name="items", schema=ITEMS_SCHEMA)["schemaArn"]
    items = personalize.create_dataset(
        name="items", schemaArn=items_schema, datasetGroupArn=tracked["group"], datasetType="Items"
    )["datasetArn"]
    events.put_items(
        datasetArn=items,
        items=[{"itemId": "i1", "properties": json.dumps({"genres": "Comedy|Drama", "price": 9.5})}],
    )
    events.put_items(
        datasetArn=items, items=[{"itemId": "i1", "properties": json.dumps({"price": 12})}, {"itemId": "i2"}]
    )
    got = {r["ITEM_ID"]: r for r in rows(server, items)}
    assert got["i1"]["PRICE"] == 12.0 and got["i1"]["GENRES"] is None
    assert got["i2"]["CREATION_TIMESTAMP"] >= int(time.time()) - 60
    users_schema = personalize.create_schema(name="users", schema=USERS_SCHEMA)["schemaArn"]
    users = personalize.create_dataset(
        name="users", schemaArn=users_schema, datasetGroupArn=tracked["group"], datasetType="Users"
    )["datasetArn"]
    events.put_users(
        datasetArn=users,
        users=[{"userId": "u1", "properties": json.dumps({"age": 31, "membership": "gold"})}],
    )
    assert rows(server, users) == [{"USER_ID": "u1", "AGE": 31, "MEMBERSHIP": "gold"}]
    with pytest.raises(events.exceptions.InvalidInputException):
        events.put_users(datasetArn=items, users=[{"userId": "u1"}])
    with pytest.raises(events.exceptions.InvalidInputException):
        events.put_users(datasetArn=users, users=[{"userId": "u1", "properties": json.dumps({"age": "old"})}])


def test_put_items_unknown_dataset_is_404(events):
    with pytest.raises(ClientError) as err:
        events.put_items(
            datasetArn="arn:aws:personalize:us-east-1:123456789012:dataset/x/ITEMS", items=[{"itemId": "i"}]
        )
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
