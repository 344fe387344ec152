"""Event ingestion rules (spec §12.3, §11.2): how personalize-events records become schema rows.

Two layers, each tested at its own level:
- data/records.py: a `properties` JSON string -> typed columns (`parse_properties`, `coerce`,
  `require_fields`). Every rejection is InvalidInput whose message names the record, the field and
  the rule; the messages are pinned exactly because clients show them to whoever sent the data.
- data/events.py: `EventIngestor`, driven directly (no HTTP) against a real metadata store and
  event log: which request member lands in which column, what the durable log record carries for
  serving (`_session`, `_event_id`, `_impression`...), boundaries (sentAt range, 10 KB per event),
  and which dataset a trackingId or datasetArn resolves to.
"""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import orjson
import pytest

from openpersonalize.control.service import ControlPlane
from openpersonalize.data.dataset_reader import read_dataset
from openpersonalize.data.events import EVENT_MAX_BYTES, MAX_EPOCH_SECONDS, EventIngestor
from openpersonalize.data.records import FLOAT32_MAX, coerce, parse_properties, require_fields
from openpersonalize.data.schema import parse_schema
from openpersonalize.errors import InvalidInput, ResourceInUse, ResourceNotFound, ServiceError
from openpersonalize.scope import Scope
from openpersonalize.server import open_context
from openpersonalize.settings import Settings
from openpersonalize.store.interactions.eventlog import replay_directory
from tests.api.helpers import INTERACTIONS_SCHEMA, ITEMS_SCHEMA
from tests.api.test_actions import ACTION_INTERACTIONS_SCHEMA

SCOPE = Scope("us-east-1", "123456789012")
OTHER_REGION = Scope("eu-west-1", "123456789012")
KEY_HINT = "(keys are the lowerCamelCase form of the field names, e.g. NUM_RATINGS -> numRatings)."


def schema_text(name: str, fields: list[dict[str, Any]]) -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "com.example", "fields": fields})


def replace_field(text: str, name: str, **changes: Any) -> str:
    """A copy of a schema document with one field changed (e.g. made required)."""
    document = json.loads(text)
    document["fields"] = [{**f, **changes} if f["name"] == name else f for f in document["fields"]]
    return json.dumps(document)


THINGS = parse_schema(
    schema_text(
        "Things",
        [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "RANK", "type": "int"},
            {"name": "TITLE", "type": ["null", "string"]},
            {"name": "GENRES", "type": ["null", "string"], "categorical": True},
            {"name": "DESCRIPTION", "type": ["null", "string"], "textual": True},
            {"name": "IN_STOCK", "type": ["null", "boolean"]},
            {"name": "NUM_RATINGS", "type": ["null", "int"]},
            {"name": "VIEWS", "type": ["null", "long"]},
            {"name": "PRICE", "type": ["null", "float"]},
            {"name": "SCORE", "type": ["null", "double"]},
        ],
    )
)


def field(name: str) -> Any:
    found = THINGS.field(name)
    assert found is not None
    return found


def message_of(call: Any, error: type[ServiceError] = InvalidInput) -> str:
    with pytest.raises(error) as err:
        call()
    return err.value.message


# -- coerce: one value against its Avro type ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "stored"),
    [
        ("TITLE", None, None),  # nullable
        ("TITLE", 42, "42"),  # numbers and booleans are accepted for strings, as their JSON text
        ("TITLE", True, "true"),
        ("TITLE", 1.5, "1.5"),
        ("GENRES", ["Horror", "Action", 3], "Horror|Action|3"),  # categorical lists join with "|"
        ("TITLE", "t" * 1000, "t" * 1000),  # plain strings: at most 1000 characters
        ("ITEM_ID", "i" * 256, "i" * 256),  # *_ID: at most 256
        ("DESCRIPTION", "d" * 20_000, "d" * 20_000),  # textual: at most 20,000 ...
        ("DESCRIPTION", "d" * 20_001, "d" * 20_000),  # ... and longer text is truncated, not rejected
        ("IN_STOCK", True, True),
        ("IN_STOCK", False, False),
        ("IN_STOCK", "true", True),
        ("IN_STOCK", "false", False),
        ("NUM_RATINGS", 7, 7),
        ("NUM_RATINGS", "42", 42),  # numbers may come as strings
        ("NUM_RATINGS", 3.0, 3),  # a whole float is an integer
        ("NUM_RATINGS", 2**31 - 1, 2**31 - 1),  # int is 32-bit signed
        ("NUM_RATINGS", -(2**31), -(2**31)),
        ("VIEWS", 2**31, 2**31),  # long is 64-bit signed
        ("VIEWS", 2**63 - 1, 2**63 - 1),
        ("VIEWS", -(2**63), -(2**63)),
        ("PRICE", 2, 2.0),
        ("PRICE", "1.5", 1.5),
        ("PRICE", FLOAT32_MAX, FLOAT32_MAX),  # the largest float32 is still a float
        ("SCORE", 1e300, 1e300),  # double has the full range
    ],
)
def test_values_accepted_and_their_stored_form(name, value, stored):
    got = coerce(field(name), value, "w")
    assert (type(got), got) == (type(stored), stored)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RANK", None, "w: RANK may not be null."),
        ("TITLE", {"a": 1}, "w: TITLE must be a string."),
        ("TITLE", ["a", "b"], "w: TITLE must be a string."),  # only categorical fields take lists
        ("TITLE", "t" * 1001, "w: TITLE is longer than 1000 characters."),
        ("ITEM_ID", "i" * 257, "w: ITEM_ID is longer than 256 characters."),
        ("IN_STOCK", "yes", "w: IN_STOCK must be a boolean (true or false)."),
        ("IN_STOCK", 1, "w: IN_STOCK must be a boolean (true or false)."),
        ("NUM_RATINGS", True, "w: NUM_RATINGS must be an integer (int)."),
        ("NUM_RATINGS", 4.5, "w: NUM_RATINGS must be an integer (int)."),
        ("NUM_RATINGS", "4.5", "w: NUM_RATINGS must be an integer (int); got '4.5'."),
        ("NUM_RATINGS", 2**31, "w: NUM_RATINGS is out of range for int."),
        ("NUM_RATINGS", -(2**31) - 1, "w: NUM_RATINGS is out of range for int."),
        ("VIEWS", 2**63, "w: VIEWS is out of range for long."),
        ("VIEWS", -(2**63) - 1, "w: VIEWS is out of range for long."),
        ("PRICE", False, "w: PRICE must be a number (float)."),
        ("PRICE", "cheap", "w: PRICE must be a number (float); got 'cheap'."),
        ("PRICE", [1], "w: PRICE must be a finite number (float)."),
        ("PRICE", math.inf, "w: PRICE must be a finite number (float)."),
        ("SCORE", math.inf, "w: SCORE must be a finite number (double)."),
        ("SCORE", "nan", "w: SCORE must be a finite number (double)."),
        ("PRICE", 3.5e38, "w: PRICE is out of range for float (at most 3.402823e+38)."),
    ],
)
def test_values_rejected_name_the_field_and_rule(name, value, message):
    assert message_of(lambda: coerce(field(name), value, "w")) == message


# -- parse_properties: lowerCamelCase keys -> columns --------------------------------------------


@pytest.mark.parametrize("raw", [None, ""])
def test_absent_or_empty_properties_set_nothing(raw):
    assert parse_properties(raw, THINGS, "w") == {}


@pytest.mark.parametrize("key", ["numRatings", "NUMRATINGS", "num_ratings", "NUM_RATINGS", "Num_Ratings"])
def test_keys_match_case_insensitively_and_without_underscores(key):
    assert parse_properties(json.dumps({key: 5}), THINGS, "w") == {"NUM_RATINGS": 5}


def test_properties_are_typed_per_field():
    raw = json.dumps({"genres": ["Horror", "Action"], "inStock": "true", "price": "9.5", "views": "12"})
    assert parse_properties(raw, THINGS, "w") == {
        "GENRES": "Horror|Action",
        "IN_STOCK": True,
        "PRICE": 9.5,
        "VIEWS": 12,
    }


@pytest.mark.parametrize(
    ("raw", "options", "message"),
    [
        ("{nope", {}, "w must be a JSON object encoded as a string; got invalid JSON."),
        ("[1, 2]", {}, "w must be a JSON object encoded as a string."),
        ('{"colour": "red"}', {}, f"w: 'colour' does not match any field of the Things schema {KEY_HINT}"),
        (
            '{"UserId": "u"}',
            {"reserved": frozenset({"userid"})},
            "w: 'UserId' is not allowed in properties; use its own request member.",
        ),
        (
            '{"itemId": "i"}',
            {"skip": frozenset({"ITEM_ID"})},
            f"w: 'itemId' does not match any field of the Things schema {KEY_HINT}",
        ),
        ('{"numRatings": "x"}', {}, "w.numRatings: NUM_RATINGS must be an integer (int); got 'x'."),
    ],
    ids=["invalid-json", "not-an-object", "unknown-key", "reserved-key", "skipped-column", "bad-value"],
)
def test_bad_properties_are_rejected_naming_the_key(raw, options, message):
    assert message_of(lambda: parse_properties(raw, THINGS, "w", **options)) == message


# -- require_fields -----------------------------------------------------------------------------


def test_absent_nullable_fields_become_null_in_schema_order():
    row = require_fields({"RANK": 1, "ITEM_ID": "i1"}, THINGS, "w")
    assert list(row) == list(THINGS.names)
    assert row["ITEM_ID"] == "i1" and row["RANK"] == 1 and row["PRICE"] is None


def test_absent_required_fields_are_all_named():
    message = message_of(lambda: require_fields({"TITLE": "x"}, THINGS, "w"))
    assert message == "w: missing required field(s) ITEM_ID, RANK."


# -- EventIngestor ------------------------------------------------------------------------------

FULL_INTERACTIONS_SCHEMA = schema_text(
    "Interactions",
    [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]},
        {"name": "IMPRESSION", "type": ["null", "string"]},
        {"name": "RECOMMENDATION_ID", "type": ["null", "string"]},
        {"name": "EVENT_ATTRIBUTION_SOURCE", "type": ["null", "string"]},
        {"name": "DEVICE", "type": ["null", "string"], "categorical": True},
    ],
)
# No EVENT_TYPE / EVENT_VALUE columns, and a required metadata column.
MINIMAL_INTERACTIONS_SCHEMA = schema_text(
    "Interactions",
    [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "LOCATION", "type": "string", "categorical": True},
    ],
)


class World:
    """A metadata store, control plane, event log and ingestor in one temporary directory."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir()
        self.settings = Settings(data_dir=data_dir)
        self.ctx = open_context(self.settings, writer=True)
        self.store = self.ctx.store
        self.control = ControlPlane(self.ctx)
        self.ingestor = EventIngestor(self.store, self.ctx.interactions)
        self.groups = 0

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        return self.control.call(operation, params, SCOPE)

    def group(self) -> str:
        self.groups += 1
        return self.call("CreateDatasetGroup", name=f"g{self.groups}")["datasetGroupArn"]

    def dataset(self, group: str, text: str, dataset_type: str) -> str:
        name = f"{group.rsplit('/', 1)[1]}-{dataset_type.lower()}"
        schema = self.call("CreateSchema", name=name, schema=text)["schemaArn"]
        return self.call(
            "CreateDataset", name=name, schemaArn=schema, datasetGroupArn=group, datasetType=dataset_type
        )["datasetArn"]

    def tracker(self, text: str = INTERACTIONS_SCHEMA) -> tuple[str, str]:
        """A new group with an Interactions dataset and an event tracker: (trackingId, dataset ARN)."""
        group = self.group()
        dataset = self.dataset(group, text, "Interactions")
        tracker = self.call("CreateEventTracker", name=group.rsplit("/", 1)[1], datasetGroupArn=group)
        return tracker["trackingId"], dataset

    def action_tracker(self, text: str = ACTION_INTERACTIONS_SCHEMA) -> tuple[str, str]:
        """A new group with an Action_Interactions dataset: (its trackingId, its ARN)."""
        dataset = self.dataset(self.group(), text, "Action_Interactions")
        return self.call("DescribeDataset", datasetArn=dataset)["dataset"]["trackingId"], dataset

    def put(self, operation: str, scope: Scope = SCOPE, **params: Any) -> None:
        asyncio.run(getattr(self.ingestor, operation)(params, scope))

    def rows(self, dataset: str) -> list[dict[str, Any]]:
        """The dataset as training and export read it."""
        return read_dataset(self.store, self.ctx.interactions, dataset).to_pylist()

    def logged(self) -> list[dict[str, Any]]:
        """The durable event-log records, with the members serving reads (_session, _impression...)."""
        return [record for _, record in replay_directory(self.settings.event_log_dir)]


@pytest.fixture
def world(tmp_path: Path):
    w = World(tmp_path / "data")
    yield w
    w.ctx.interactions.close()
    w.store.close()


SERVING_KEYS = (
    "_session",
    "_event_id",
    "_event_type",
    "_recommendation_id",
    "_impression",
    "_attribution_source",
)


def put_events(world: World, tracking: str, *events: dict[str, Any], **request: Any) -> None:
    world.put("put_events", trackingId=tracking, sessionId="s1", eventList=list(events), **request)


def click(**members: Any) -> dict[str, Any]:
    return {"eventType": "click", "itemId": "i1", "sentAt": 1700000000, **members}


# PutEvents: which member lands where


def test_event_members_land_in_their_reserved_columns(world):
    tracking, dataset = world.tracker(FULL_INTERACTIONS_SCHEMA)
    put_events(
        world,
        tracking,
        click(
            sentAt=1700000000.9,
            eventValue=3,
            impression=["i1", "i2", "i3"],
            recommendationId="RID-1",
            eventId="e-1",
            metricAttribution={"eventAttributionSource": "newsletter"},
            properties=json.dumps({"device": ["ios", "tablet"]}),
        ),
        click(itemId="i2", eventType="buy"),
        userId="u1",
    )
    assert world.rows(dataset) == [
        {
            "USER_ID": "u1",
            "ITEM_ID": "i1",
            "TIMESTAMP": 1700000000,  # whole seconds
            "EVENT_TYPE": "click",
            "EVENT_VALUE": 3.0,
            "IMPRESSION": "i1|i2|i3",
            "RECOMMENDATION_ID": "RID-1",
            "EVENT_ATTRIBUTION_SOURCE": "newsletter",
            "DEVICE": "ios|tablet",
        },
        {
            "USER_ID": "u1",
            "ITEM_ID": "i2",
            "TIMESTAMP": 1700000000,
            "EVENT_TYPE": "buy",
            "EVENT_VALUE": None,
            "IMPRESSION": None,
            "RECOMMENDATION_ID": None,
            "EVENT_ATTRIBUTION_SOURCE": None,
            "DEVICE": None,
        },
    ]


def test_the_log_keeps_session_event_id_impression_and_attribution(world):
    """Serving and metric attribution read these, whether or not the schema has the columns."""
    tracking, _ = world.tracker()  # INTERACTIONS_SCHEMA has no IMPRESSION / RECOMMENDATION_ID columns
    put_events(
        world,
        tracking,
        click(
            impression=["i1", "i2"],
            recommendationId="RID-1",
            eventId="e-1",
            metricAttribution={"eventAttributionSource": "newsletter"},
        ),
        click(eventType="buy"),
    )
    first, second = world.logged()
    assert {k: first.get(k) for k in SERVING_KEYS} == {
        "_session": "s1",
        "_event_id": "e-1",
        "_event_type": "click",
        "_recommendation_id": "RID-1",
        "_impression": ["i1", "i2"],
        "_attribution_source": "newsletter",
    }
    assert second["_session"] == "s1" and second["_event_type"] == "buy"
    assert "_event_id" not in second
    assert second["_recommendation_id"] is None and second["_impression"] is None
    assert second["_attribution_source"] is None


def test_event_type_is_ignored_when_the_schema_has_no_such_column(world):
    tracking, dataset = world.tracker(MINIMAL_INTERACTIONS_SCHEMA)
    put_events(world, tracking, click(properties=json.dumps({"location": "home"})), userId="u1")
    assert world.rows(dataset) == [
        {"USER_ID": "u1", "ITEM_ID": "i1", "TIMESTAMP": 1700000000, "LOCATION": "home"}
    ]
    assert world.logged()[0]["_event_type"] == "click"


def test_event_value_needs_an_event_value_column(world):
    tracking, dataset = world.tracker(MINIMAL_INTERACTIONS_SCHEMA)
    event = click(eventValue=2.5, properties=json.dumps({"location": "home"}))
    message = message_of(lambda: put_events(world, tracking, event))
    assert message == "eventList[1]: the Interactions schema has no EVENT_VALUE field for this value."
    assert world.rows(dataset) == []


@pytest.mark.parametrize("user", [{"userId": "u1"}, {}], ids=["known-user", "anonymous"])
def test_a_required_metadata_column_missing_is_named(world, user):
    tracking, dataset = world.tracker(MINIMAL_INTERACTIONS_SCHEMA)
    message = message_of(lambda: put_events(world, tracking, click(), click(itemId="i2"), **user))
    assert message == "eventList[1]: missing required field(s) LOCATION."
    assert world.rows(dataset) == []


def test_a_required_reserved_column_is_not_filled_with_null(world):
    """Regression: with EVENT_VALUE declared required, an event without eventValue stored null."""
    required_value = replace_field(FULL_INTERACTIONS_SCHEMA, "EVENT_VALUE", type="float")
    tracking, dataset = world.tracker(required_value)
    message = message_of(lambda: put_events(world, tracking, click()))
    assert message == "eventList[1]: missing required field(s) EVENT_VALUE."
    assert world.rows(dataset) == []
    put_events(world, tracking, click(eventValue=1.5))
    assert [r["EVENT_VALUE"] for r in world.rows(dataset)] == [1.5]


def test_item_id_is_required_when_the_schema_has_item_id(world):
    tracking, _ = world.tracker()
    event = click()
    del event["itemId"]
    message = message_of(lambda: put_events(world, tracking, click(), event))
    assert message == (
        "eventList[2].itemId is required (as a member or in properties): the Interactions schema has ITEM_ID."
    )


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"SessionId": "s2"}, "'SessionId' is not allowed in properties; use its own request member."),
        ({"impression": "i1"}, "'impression' is not allowed in properties; use its own request member."),
    ],
)
def test_event_properties_may_not_carry_request_members(world, properties, message):
    tracking, dataset = world.tracker()
    event = click(properties=json.dumps(properties))
    assert message_of(lambda: put_events(world, tracking, event)) == f"eventList[1].properties: {message}"
    assert world.rows(dataset) == []


def test_item_id_and_event_value_may_come_in_properties(world):
    """AWS's samples send properties={"itemId": "1653"} and {"eventValue": "4"} (numbers as strings)."""
    tracking, dataset = world.tracker(FULL_INTERACTIONS_SCHEMA)
    sample = {"eventType": "click", "sentAt": 1700000000, "properties": json.dumps({"itemId": "1653"})}
    put_events(world, tracking, sample)
    older = click(itemId="choc-panama", properties=json.dumps({"itemId": "choc-panama", "eventValue": "4"}))
    put_events(world, tracking, older)
    rows = world.rows(dataset)
    assert [(r["ITEM_ID"], r["EVENT_VALUE"]) for r in rows] == [("1653", None), ("choc-panama", 4.0)]


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            click(itemId="a", properties=json.dumps({"itemId": "b"})),
            "eventList[1].itemId is 'a' but properties give 'b'; give it once, or the same in both.",
        ),
        (
            click(eventValue=1.0, properties=json.dumps({"eventValue": "2"})),
            "eventList[1].eventValue is 1.0 but properties give 2.0; give it once, or the same in both.",
        ),
    ],
)
def test_a_member_and_a_property_that_disagree_are_refused(world, event, message):
    tracking, dataset = world.tracker(FULL_INTERACTIONS_SCHEMA)
    assert message_of(lambda: put_events(world, tracking, event)) == message
    assert world.rows(dataset) == []


# PutEvents: boundaries


@pytest.mark.parametrize("sent_at", [0, 1.5, MAX_EPOCH_SECONDS - 1])
def test_sent_at_within_year_9999_is_stored_in_whole_seconds(world, sent_at):
    tracking, dataset = world.tracker()
    put_events(world, tracking, click(sentAt=sent_at))
    assert [r["TIMESTAMP"] for r in world.rows(dataset)] == [int(sent_at)]


@pytest.mark.parametrize("sent_at", [-1, MAX_EPOCH_SECONDS, 1.7e12])
def test_sent_at_outside_epoch_seconds_is_rejected(world, sent_at):
    tracking, _ = world.tracker()
    message = message_of(lambda: put_events(world, tracking, click(sentAt=sent_at)))
    assert message == (
        f"eventList[1].sentAt must be Unix epoch seconds between 0 and {MAX_EPOCH_SECONDS}; got {sent_at}."
    )


def padded(record: dict[str, Any], size: int) -> dict[str, Any]:
    """The record grown (through a long eventId, which has no limit of its own here) to exactly
    `size` bytes of JSON."""
    grown = {**record, "eventId": ""}
    grown["eventId"] = "x" * (size - len(orjson.dumps(grown)))
    assert len(orjson.dumps(grown)) == size
    return grown


def test_impressions_hold_at_most_1000_characters_joined(world):
    tracking, dataset = world.tracker(FULL_INTERACTIONS_SCHEMA)
    put_events(world, tracking, click(impression=["a" * 499, "b" * 500]))  # 1,000 with the '|'
    assert world.rows(dataset)[0]["IMPRESSION"] == "a" * 499 + "|" + "b" * 500
    message = message_of(lambda: put_events(world, tracking, click(impression=["a" * 500, "b" * 500])))
    assert message == (
        "eventList[1].impression joined with '|' is 1001 characters long; an impression may have at most 1000."
    )


def test_an_event_of_exactly_10_kb_is_accepted_one_byte_more_is_not(world):
    tracking, dataset = world.tracker()
    put_events(world, tracking, padded(click(), EVENT_MAX_BYTES))
    assert len(world.rows(dataset)) == 1
    message = message_of(lambda: put_events(world, tracking, click(), padded(click(), EVENT_MAX_BYTES + 1)))
    assert message == "eventList[2] is larger than 10 KB."


# PutEvents: which dataset a trackingId writes to


def test_each_tracking_id_writes_to_its_own_groups_dataset(world):
    first_tracking, first = world.tracker()
    second_tracking, second = world.tracker()
    put_events(world, first_tracking, click(itemId="first"))
    put_events(world, second_tracking, click(itemId="second"))
    assert [r["ITEM_ID"] for r in world.rows(first)] == ["first"]
    assert [r["ITEM_ID"] for r in world.rows(second)] == ["second"]


def test_a_tracker_without_an_interactions_dataset_is_invalid_input(world):
    group = world.group()
    tracking = world.call("CreateEventTracker", name="t", datasetGroupArn=group)["trackingId"]
    message = message_of(lambda: put_events(world, tracking, click()))
    assert message == (
        f"The dataset group of trackingId {tracking} has no Interactions dataset; create one first."
    )


def test_another_regions_tracking_id_does_not_exist_here(world):
    tracking, dataset = world.tracker()
    message = message_of(
        lambda: world.put("put_events", OTHER_REGION, trackingId=tracking, sessionId="s", eventList=[click()])
    )
    assert message == f"The trackingId {tracking} does not exist."
    assert world.rows(dataset) == []


# PutActionInteractions


def interaction(**members: Any) -> dict[str, Any]:
    return {"actionId": "a1", "timestamp": 1700000000, "eventType": "Taken", **members}


def put_interactions(world: World, tracking: str, *records: dict[str, Any], scope: Scope = SCOPE) -> None:
    world.put("put_action_interactions", scope, trackingId=tracking, actionInteractions=list(records))


def test_action_interactions_keep_session_and_event_id(world):
    tracking, dataset = world.action_tracker()
    put_interactions(
        world, tracking, interaction(userId="u1", sessionId="s1", eventId="e-1"), interaction(userId="u2")
    )
    first, second = world.logged()
    assert (first["_session"], first["_event_id"]) == ("s1", "e-1")
    assert "_session" not in second and "_event_id" not in second
    # A userId alone is enough: the ingestor needs a userId or a sessionId (the wire model wants sessionId).
    assert [r["USER_ID"] for r in world.rows(dataset)] == ["u1", "u2"]


def test_an_action_interaction_needs_a_user_or_a_session(world):
    tracking, dataset = world.action_tracker()
    message = message_of(lambda: put_interactions(world, tracking, interaction()))
    assert message == "actionInteractions[1]: give a userId or a sessionId."
    assert world.rows(dataset) == []


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"colour": "red"}, f"'colour' does not match any field of the ActionInteractions schema {KEY_HINT}"),
        (
            {"actionId": "a2"},
            f"'actionId' does not match any field of the ActionInteractions schema {KEY_HINT}",
        ),
        ({"Impression": "a2"}, "'Impression' is not allowed in properties; use its own request member."),
    ],
)
def test_action_interaction_properties_name_the_record_and_key(world, properties, message):
    tracking, dataset = world.action_tracker()
    record = interaction(sessionId="s", properties=json.dumps(properties))
    message_got = message_of(lambda: put_interactions(world, tracking, record))
    assert message_got == f"actionInteractions[1].properties: {message}"
    assert world.rows(dataset) == []


def test_action_interaction_missing_a_required_column_is_named(world):
    tracking, _ = world.action_tracker(replace_field(ACTION_INTERACTIONS_SCHEMA, "CHANNEL", type="string"))
    message = message_of(lambda: put_interactions(world, tracking, interaction(userId="u1")))
    assert message == "actionInteractions[1]: missing required field(s) CHANNEL."


def test_an_action_interaction_over_10_kb_is_rejected(world):
    tracking, dataset = world.action_tracker()
    record = padded(interaction(sessionId="s"), EVENT_MAX_BYTES + 1)
    message = message_of(lambda: put_interactions(world, tracking, record))
    assert message == "actionInteractions[1] is larger than 10 KB."
    assert world.rows(dataset) == []


def test_each_action_tracking_id_writes_to_its_own_dataset(world):
    first_tracking, first = world.action_tracker()
    second_tracking, second = world.action_tracker()
    put_interactions(world, first_tracking, interaction(actionId="first", sessionId="s"))
    put_interactions(world, second_tracking, interaction(actionId="second", sessionId="s"))
    assert [r["ACTION_ID"] for r in world.rows(first)] == ["first"]
    assert [r["ACTION_ID"] for r in world.rows(second)] == ["second"]


def test_another_regions_action_tracking_id_is_not_found(world):
    tracking, _ = world.action_tracker()
    message = message_of(
        lambda: put_interactions(world, tracking, interaction(sessionId="s"), scope=OTHER_REGION),
        ResourceNotFound,
    )
    assert message == f"No action interactions dataset has trackingId {tracking}."


# PutItems / PutUsers / PutActions and dataset resolution


def test_put_items_names_a_missing_required_column(world):
    items = world.dataset(world.group(), replace_field(ITEMS_SCHEMA, "GENRES", type="string"), "Items")
    message = message_of(lambda: world.put("put_items", datasetArn=items, items=[{"itemId": "i1"}]))
    assert message == "items[1]: missing required field(s) GENRES."


def test_writes_to_a_dataset_that_is_not_active_are_resource_in_use(world):
    items = world.dataset(world.group(), ITEMS_SCHEMA, "Items")
    world.store.update(items, status="CREATE PENDING")
    message = message_of(
        lambda: world.put("put_items", datasetArn=items, items=[{"itemId": "i1"}]), ResourceInUse
    )
    assert message == f"Dataset {items} is not ACTIVE (status: CREATE PENDING)."


def test_a_dataset_whose_schema_is_gone_names_the_schema(world):
    items = world.dataset(world.group(), ITEMS_SCHEMA, "Items")
    schema = world.store.get(items).attrs["schemaArn"]
    world.store.delete(schema)
    message = message_of(
        lambda: world.put("put_items", datasetArn=items, items=[{"itemId": "i1"}]), ResourceNotFound
    )
    assert message == f"Resource Arn {schema} does not exist."
