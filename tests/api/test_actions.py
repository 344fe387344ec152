"""Actions and Action_Interactions datasets (spec §6, §11.2, §12.3) through real boto3 clients.

PutActions writes by dataset ARN and replaces records by ACTION_ID; PutActionInteractions writes
through the `trackingId` that creating an Action_Interactions dataset mints (DescribeDataset shows
it). Unknown ids are ResourceNotFoundException (404 on the rest-json events API); a dataset of the
wrong type is InvalidInputException (400). Nothing is written by a rejected request.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from openpersonalize.data.dataset_reader import read_dataset
from tests.api.helpers import ITEMS_SCHEMA, make_group

ACTIONS_FIELDS: list[dict[str, Any]] = [
    {"name": "ACTION_ID", "type": "string"},
    {"name": "VALUE", "type": ["null", "long"]},
    {"name": "CATEGORY", "type": ["null", "string"], "categorical": True},
    {"name": "EXPIRATION_TIMESTAMP", "type": ["null", "long"]},
    {"name": "CREATION_TIMESTAMP", "type": ["null", "long"]},
]

ACTIONS_SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Actions",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": ACTIONS_FIELDS,
        "version": "1.0",
    }
)

ACTION_INTERACTIONS_SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "ActionInteractions",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "ACTION_ID", "type": "string"},
            {"name": "TIMESTAMP", "type": "long"},
            {"name": "EVENT_TYPE", "type": "string"},
            {"name": "IMPRESSION", "type": ["null", "string"]},
            {"name": "RECOMMENDATION_ID", "type": ["null", "string"]},
            {"name": "CHANNEL", "type": ["null", "string"], "categorical": True},
        ],
        "version": "1.0",
    }
)

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def rows(server: Any, arn: str) -> list[dict[str, Any]]:
    s = server.services
    return read_dataset(s.ctx.store, s.ctx.interactions, arn).to_pylist()  # type: ignore[no-any-return]


def add_dataset(personalize: Any, group: str, name: str, schema_text: str, dataset_type: str) -> str:
    schema = personalize.create_schema(name=name, schema=schema_text)["schemaArn"]
    return personalize.create_dataset(  # type: ignore[no-any-return]
        name=name, schemaArn=schema, datasetGroupArn=group, datasetType=dataset_type
    )["datasetArn"]


@pytest.fixture
def actions(personalize: Any) -> dict[str, str]:
    """A group with an Interactions tracker, an Actions and an Action_Interactions dataset."""
    arns = make_group(personalize)
    arns["tracking"] = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]
    arns["actions"] = add_dataset(personalize, arns["group"], "actions", ACTIONS_SCHEMA, "Actions")
    arns["action_interactions"] = add_dataset(
        personalize, arns["group"], "action-interactions", ACTION_INTERACTIONS_SCHEMA, "Action_Interactions"
    )
    dataset = personalize.describe_dataset(datasetArn=arns["action_interactions"])["dataset"]
    arns["action_tracking"] = dataset["trackingId"]
    return arns


def error_of(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = err.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def test_action_datasets_have_type_arns_and_one_tracking_id(personalize, actions):
    group_name = actions["group"].rsplit("/", 1)[1]
    assert actions["actions"].endswith(f"dataset/{group_name}/ACTIONS")
    assert actions["action_interactions"].endswith(f"dataset/{group_name}/ACTION_INTERACTIONS")
    interactions = personalize.describe_dataset(datasetArn=actions["action_interactions"])["dataset"]
    assert interactions["datasetType"] == "ACTION_INTERACTIONS"
    assert interactions["status"] == "ACTIVE"
    assert UUID.match(interactions["trackingId"])
    assert interactions["trackingId"] != actions["tracking"]
    plain = personalize.describe_dataset(datasetArn=actions["actions"])["dataset"]
    assert plain["datasetType"] == "ACTIONS" and "trackingId" not in plain
    listed = personalize.list_datasets(datasetGroupArn=actions["group"])["datasets"]
    assert sorted(d["datasetType"] for d in listed) == ["ACTIONS", "ACTION_INTERACTIONS", "INTERACTIONS"]
    assert all("trackingId" not in d for d in listed)  # a Describe-only member


def test_put_actions_replaces_records_by_id(server, events, actions):
    events.put_actions(
        datasetArn=actions["actions"],
        actions=[
            {
                "actionId": "a1",
                "properties": json.dumps(
                    {"value": 5, "category": "Loyalty|Email", "creationTimestamp": 1700000000}
                ),
            },
            {"actionId": "a2", "properties": json.dumps({"expirationTimestamp": 1800000000})},
        ],
    )
    events.put_actions(
        datasetArn=actions["actions"],
        actions=[{"actionId": "a1", "properties": json.dumps({"value": 7, "creationTimestamp": 1700000100})}],
    )
    got = {r["ACTION_ID"]: r for r in rows(server, actions["actions"])}
    assert sorted(got) == ["a1", "a2"]
    # The second write replaced a1 as a whole: its category is gone, not merged.
    assert got["a1"] == {
        "ACTION_ID": "a1",
        "VALUE": 7,
        "CATEGORY": None,
        "EXPIRATION_TIMESTAMP": None,
        "CREATION_TIMESTAMP": 1700000100,
    }
    assert got["a2"]["EXPIRATION_TIMESTAMP"] == 1800000000
    # A record without a creation time starts its age at the write.
    assert got["a2"]["CREATION_TIMESTAMP"] >= int(time.time()) - 600


def test_put_action_interactions_through_the_dataset_tracking_id(server, events, actions):
    events.put_action_interactions(
        trackingId=actions["action_tracking"],
        actionInteractions=[
            {
                "actionId": "a1",
                "userId": "u1",
                "sessionId": "s1",
                "timestamp": 1700000000,
                "eventType": "Viewed",
                "impression": ["a1", "a2", "a3"],
                "recommendationId": "RID-0123456789abcdef0123456789abcdef",
                "properties": json.dumps({"channel": "email"}),
            },
            {
                "actionId": "a1",
                "userId": "u1",
                "sessionId": "s1",
                "timestamp": 1700000005,
                "eventType": "Taken",
            },
            {
                "actionId": "a2",
                "userId": "u1",
                "sessionId": "s1",
                "timestamp": 1700000009,
                "eventType": "Not Taken",
            },
        ],
    )
    got = rows(server, actions["action_interactions"])
    assert [(r["USER_ID"], r["ACTION_ID"], r["EVENT_TYPE"], r["TIMESTAMP"]) for r in got] == [
        ("u1", "a1", "Viewed", 1700000000),
        ("u1", "a1", "Taken", 1700000005),
        ("u1", "a2", "Not Taken", 1700000009),
    ]
    assert got[0]["IMPRESSION"] == "a1|a2|a3"
    assert got[0]["RECOMMENDATION_ID"] == "RID-0123456789abcdef0123456789abcdef"
    assert got[0]["CHANNEL"] == "email" and got[1]["CHANNEL"] is None
    # They went to the Action_Interactions dataset only.
    assert rows(server, actions["dataset"]) == []


def test_anonymous_action_interactions_keep_an_empty_user(server, events, actions):
    events.put_action_interactions(
        trackingId=actions["action_tracking"],
        actionInteractions=[{"actionId": "a9", "sessionId": "anon-1", "timestamp": 1, "eventType": "Taken"}],
    )
    (row,) = rows(server, actions["action_interactions"])
    assert row["USER_ID"] is None and row["ACTION_ID"] == "a9"


def test_unknown_tracking_id_is_not_found_404(server, events, actions):
    record = {"actionId": "a1", "sessionId": "s", "timestamp": 1, "eventType": "Taken"}
    for tracking_id in ("00000000-0000-0000-0000-000000000000", actions["tracking"]):
        # The Interactions event tracker's id is not an action-interactions tracking id either.
        with pytest.raises(events.exceptions.ResourceNotFoundException) as err:
            events.put_action_interactions(trackingId=tracking_id, actionInteractions=[record])
        code, status, message = error_of(err)
        assert status == 404 and tracking_id in message
    assert rows(server, actions["action_interactions"]) == []
    assert rows(server, actions["dataset"]) == []


def test_action_tracking_id_is_not_an_event_tracker(server, events, actions):
    # PutEvents models only InvalidInputException, so an unknown trackingId is reported as that.
    with pytest.raises(events.exceptions.InvalidInputException) as err:
        events.put_events(
            trackingId=actions["action_tracking"],
            sessionId="s",
            eventList=[{"eventType": "click", "itemId": "i1", "sentAt": 1}],
        )
    assert actions["action_tracking"] in error_of(err)[2]
    assert rows(server, actions["dataset"]) == []
    assert rows(server, actions["action_interactions"]) == []


def test_put_actions_into_a_dataset_of_another_type_is_invalid_input(server, personalize, events, actions):
    items = add_dataset(personalize, actions["group"], "items", ITEMS_SCHEMA, "Items")
    for wrong in (items, actions["action_interactions"], actions["dataset"]):
        with pytest.raises(events.exceptions.InvalidInputException) as err:
            events.put_actions(datasetArn=wrong, actions=[{"actionId": "a1"}])
        code, status, message = error_of(err)
        assert status == 400 and wrong in message and "ACTIONS" in message
    with pytest.raises(events.exceptions.InvalidInputException):
        events.put_items(datasetArn=actions["actions"], items=[{"itemId": "i1"}])
    assert rows(server, items) == []
    assert rows(server, actions["actions"]) == []


def test_put_actions_unknown_dataset_is_404(events, actions):
    unknown = actions["actions"].replace("/ACTIONS", "/NOPE")
    with pytest.raises(events.exceptions.ResourceNotFoundException) as err:
        events.put_actions(datasetArn=unknown, actions=[{"actionId": "a1"}])
    assert error_of(err)[1] == 404 and unknown in error_of(err)[2]


@pytest.mark.parametrize(
    ("properties", "fragment"),
    [
        (json.dumps({"colour": "red"}), "colour"),
        (json.dumps({"value": "lots"}), "VALUE"),
        (json.dumps({"actionId": "other"}), "actionId"),
        ("[1, 2]", "JSON object"),
    ],
    ids=["unknown-key", "wrong-type", "id-in-properties", "not-an-object"],
)
def test_bad_action_properties_name_the_key_and_write_nothing(server, events, actions, properties, fragment):
    with pytest.raises(events.exceptions.InvalidInputException) as err:
        events.put_actions(
            datasetArn=actions["actions"],
            actions=[{"actionId": "ok"}, {"actionId": "a1", "properties": properties}],
        )
    message = error_of(err)[2]
    assert fragment in message and "actions[2]" in message
    # The whole batch is rejected, including the good first record.
    assert rows(server, actions["actions"]) == []


@pytest.mark.parametrize("key", ["eventType", "timestamp", "userId", "impression"])
def test_reserved_keys_in_action_interaction_properties_are_rejected(server, events, actions, key):
    with pytest.raises(events.exceptions.InvalidInputException) as err:
        events.put_action_interactions(
            trackingId=actions["action_tracking"],
            actionInteractions=[
                {
                    "actionId": "a1",
                    "sessionId": "s",
                    "timestamp": 1,
                    "eventType": "Taken",
                    "properties": json.dumps({key: "x"}),
                }
            ],
        )
    assert key in error_of(err)[2]
    assert rows(server, actions["action_interactions"]) == []


def test_deleted_action_interactions_dataset_retires_its_tracking_id(personalize, events, actions):
    personalize.delete_dataset(datasetArn=actions["action_interactions"])
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.put_action_interactions(
            trackingId=actions["action_tracking"],
            actionInteractions=[{"actionId": "a1", "sessionId": "s", "timestamp": 1, "eventType": "Taken"}],
        )


def test_recreated_schema_with_the_same_name_is_used_by_put_actions(server, personalize, events, actions):
    events.put_actions(datasetArn=actions["actions"], actions=[{"actionId": "a1"}])  # schema now in use
    old_schema = personalize.describe_dataset(datasetArn=actions["actions"])["dataset"]["schemaArn"]
    personalize.delete_dataset(datasetArn=actions["actions"])
    personalize.delete_schema(schemaArn=old_schema)
    wider = json.loads(ACTIONS_SCHEMA)
    wider["fields"].append({"name": "PRIORITY", "type": ["null", "int"]})
    # Same name, so the same ARN, but new content; used in a new group (no cached dataset ARN).
    assert personalize.create_schema(name="actions", schema=json.dumps(wider))["schemaArn"] == old_schema
    group = personalize.create_dataset_group(name="second")["datasetGroupArn"]
    dataset = personalize.create_dataset(
        name="actions", schemaArn=old_schema, datasetGroupArn=group, datasetType="Actions"
    )["datasetArn"]
    events.put_actions(
        datasetArn=dataset, actions=[{"actionId": "a2", "properties": json.dumps({"priority": 3})}]
    )
    assert [(r["ACTION_ID"], r["PRIORITY"]) for r in rows(server, dataset)] == [("a2", 3)]


def test_writes_after_delete_and_recreate_land_in_the_new_dataset(server, personalize, events, actions):
    events.put_actions(datasetArn=actions["actions"], actions=[{"actionId": "old"}])
    schema = personalize.describe_dataset(datasetArn=actions["actions"])["dataset"]["schemaArn"]
    personalize.delete_dataset(datasetArn=actions["actions"])
    recreated = personalize.create_dataset(
        name="actions", schemaArn=schema, datasetGroupArn=actions["group"], datasetType="Actions"
    )["datasetArn"]
    assert recreated == actions["actions"]  # the ARN names the group and type, not the dataset
    events.put_actions(datasetArn=recreated, actions=[{"actionId": "new"}])
    assert [r["ACTION_ID"] for r in rows(server, recreated)] == ["new"]


def test_action_interaction_timestamp_beyond_any_date_is_a_client_error(server, actions):
    body = {
        "trackingId": actions["action_tracking"],
        "actionInteractions": [{"actionId": "a1", "sessionId": "s", "timestamp": 1e20, "eventType": "Taken"}],
    }
    response = httpx.post(server.url + "/action-interactions", json=body)  # boto3 cannot send 1e20 seconds
    assert response.status_code == 400, response.text
    assert response.headers["x-amzn-ErrorType"] in ("InvalidInputException", "SerializationException")
    assert "timestamp" in response.json()["message"]
    assert rows(server, actions["action_interactions"]) == []
