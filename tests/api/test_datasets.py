"""Schemas and datasets through boto3: Personalize's schema rules, one dataset per type, updates."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import INTERACTIONS_SCHEMA, ITEMS_SCHEMA, USERS_SCHEMA, make_group


def test_schema_round_trip_keeps_the_text_verbatim(personalize):
    arn = personalize.create_schema(name="s1", schema=INTERACTIONS_SCHEMA)["schemaArn"]
    schema = personalize.describe_schema(schemaArn=arn)["schema"]
    assert schema["schema"] == INTERACTIONS_SCHEMA
    assert schema["name"] == "s1"
    summaries = personalize.list_schemas()["schemas"]
    assert summaries[0]["schemaArn"] == arn and "schema" not in summaries[0]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{not json", "JSON"),
        (
            json.dumps(
                {
                    "type": "record",
                    "name": "Interactions",
                    "fields": [{"name": "A", "type": {"type": "map", "values": "string"}}],
                }
            ),
            "A",
        ),
        (
            json.dumps(
                {
                    "type": "record",
                    "name": "Items",
                    "fields": [
                        {"name": "ITEM_ID", "type": "string"},
                        {"name": "PRICE", "type": "float", "categorical": True},
                    ],
                }
            ),
            "PRICE",
        ),
    ],
)
def test_bad_avro_is_rejected_and_nothing_is_created(personalize, text, fragment):
    with pytest.raises(personalize.exceptions.InvalidInputException) as err:
        personalize.create_schema(name="bad", schema=text)
    assert fragment in err.value.response["Error"]["Message"]
    assert personalize.list_schemas()["schemas"] == []


def test_datasets_of_every_custom_type(personalize):
    group = personalize.create_dataset_group(name="g")["datasetGroupArn"]
    for name, text, dataset_type in (
        ("i", INTERACTIONS_SCHEMA, "Interactions"),
        ("it", ITEMS_SCHEMA, "Items"),
        ("u", USERS_SCHEMA, "Users"),
    ):
        schema = personalize.create_schema(name=name, schema=text)["schemaArn"]
        arn = personalize.create_dataset(
            name=name, schemaArn=schema, datasetGroupArn=group, datasetType=dataset_type
        )["datasetArn"]
        assert arn.endswith(f"dataset/g/{dataset_type.upper()}")
        dataset = personalize.describe_dataset(datasetArn=arn)["dataset"]
        assert dataset["datasetType"] == dataset_type.upper()
        assert dataset["status"] == "ACTIVE"
        assert dataset["schemaArn"] == schema
    listed = personalize.list_datasets(datasetGroupArn=group)["datasets"]
    assert sorted(d["datasetType"] for d in listed) == ["INTERACTIONS", "ITEMS", "USERS"]


def test_schema_must_fit_the_dataset_type(personalize):
    group = personalize.create_dataset_group(name="g")["datasetGroupArn"]
    schema = personalize.create_schema(name="items", schema=ITEMS_SCHEMA)["schemaArn"]
    with pytest.raises(personalize.exceptions.InvalidInputException) as err:
        personalize.create_dataset(
            name="d", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
        )
    assert "INTERACTIONS" in err.value.response["Error"]["Message"]
    assert personalize.list_datasets(datasetGroupArn=group)["datasets"] == []


def test_bad_dataset_type_and_second_dataset_of_a_type(personalize):
    arns = make_group(personalize)
    with pytest.raises(ClientError) as err:
        personalize.create_dataset(
            name="x", schemaArn=arns["schema"], datasetGroupArn=arns["group"], datasetType="Clicks"
        )
    assert err.value.response["Error"]["Code"] == "InvalidInputException"
    with pytest.raises(personalize.exceptions.ResourceAlreadyExistsException):
        personalize.create_dataset(
            name="again", schemaArn=arns["schema"], datasetGroupArn=arns["group"], datasetType="INTERACTIONS"
        )


def test_schema_in_use_cannot_be_deleted(personalize):
    arns = make_group(personalize)
    with pytest.raises(personalize.exceptions.ResourceInUseException):
        personalize.delete_schema(schemaArn=arns["schema"])
    personalize.delete_dataset(datasetArn=arns["dataset"])
    personalize.delete_schema(schemaArn=arns["schema"])


def test_update_dataset_replaces_the_schema(personalize):
    arns = make_group(personalize)
    extended = json.loads(INTERACTIONS_SCHEMA)
    extended["fields"].insert(-1, {"name": "LOCATION", "type": ["null", "string"], "categorical": True})
    new_schema = personalize.create_schema(name="v2", schema=json.dumps(extended))["schemaArn"]
    personalize.update_dataset(datasetArn=arns["dataset"], schemaArn=new_schema)
    dataset = personalize.describe_dataset(datasetArn=arns["dataset"])["dataset"]
    assert dataset["schemaArn"] == new_schema
    assert dataset["latestDatasetUpdate"]["status"] == "ACTIVE"
    narrower = json.loads(INTERACTIONS_SCHEMA)
    narrower["fields"] = [f for f in narrower["fields"] if f["name"] != "DEVICE"]
    dropped = personalize.create_schema(name="v3", schema=json.dumps(narrower))["schemaArn"]
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.update_dataset(datasetArn=arns["dataset"], schemaArn=dropped)


def test_dataset_needs_existing_group_and_schema(personalize):
    schema = personalize.create_schema(name="s", schema=INTERACTIONS_SCHEMA)["schemaArn"]
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.create_dataset(
            name="d",
            schemaArn=schema,
            datasetGroupArn="arn:aws:personalize:us-east-1:123456789012:dataset-group/missing",
            datasetType="Interactions",
        )


def test_domain_dataset_group_needs_domain_schema(personalize):
    group = personalize.create_dataset_group(name="shop", domain="ECOMMERCE")["datasetGroupArn"]
    plain = personalize.create_schema(name="plain", schema=INTERACTIONS_SCHEMA)["schemaArn"]
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_dataset(
            name="d", schemaArn=plain, datasetGroupArn=group, datasetType="Interactions"
        )
    domain_schema = personalize.create_schema(name="dom", schema=INTERACTIONS_SCHEMA, domain="ECOMMERCE")[
        "schemaArn"
    ]
    arn = personalize.create_dataset(
        name="d", schemaArn=domain_schema, datasetGroupArn=group, datasetType="Interactions"
    )
    assert arn["datasetArn"].endswith("dataset/shop/INTERACTIONS")


def test_event_tracker_one_per_group(personalize):
    arns = make_group(personalize)
    out = personalize.create_event_tracker(name="tracker", datasetGroupArn=arns["group"])
    assert len(out["trackingId"]) == 36
    tracker = personalize.describe_event_tracker(eventTrackerArn=out["eventTrackerArn"])["eventTracker"]
    assert tracker["trackingId"] == out["trackingId"] and tracker["accountId"] == "123456789012"
    summary = personalize.list_event_trackers(datasetGroupArn=arns["group"])["eventTrackers"][0]
    assert "trackingId" not in summary
    with pytest.raises(personalize.exceptions.ResourceAlreadyExistsException):
        personalize.create_event_tracker(name="second", datasetGroupArn=arns["group"])
    with pytest.raises(personalize.exceptions.ResourceInUseException):
        personalize.delete_dataset_group(datasetGroupArn=arns["group"])
    personalize.delete_event_tracker(eventTrackerArn=out["eventTrackerArn"])
