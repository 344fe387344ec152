"""Wire details AWS's own sample code relies on, through boto3."""

from __future__ import annotations

import json

from tests.api.clustered import item, user, write_clustered_csv
from tests.api.helpers import import_csv, make_group
from tests.api.test_events import rows
from tests.api.test_training import RANKING, deploy, train

# The Items schema of AWS's VIDEO_ON_DEMAND samples: unions of one type.
VOD_ITEMS_SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Items",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "GENRES", "type": ["string"], "categorical": True},
            {"name": "YEAR", "type": ["int", "null"]},
        ],
        "version": "1.0",
    }
)
INTERACTIONS_WITH_RATINGS = json.dumps(
    {
        "type": "record",
        "name": "Interactions",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "ITEM_ID", "type": "string"},
            {"name": "EVENT_TYPE", "type": "string"},
            {"name": "EVENT_VALUE", "type": ["null", "float"]},
            {"name": "NUM_RATINGS", "type": ["null", "int"]},
            {"name": "TIMESTAMP", "type": "long"},
        ],
        "version": "1.0",
    }
)


def test_sample_put_events_with_item_id_in_properties(server, personalize, events):
    """The getting-started samples send properties={"itemId": ...} and no itemId member; older docs
    send numbers as strings."""
    group = personalize.create_dataset_group(name="samples")["datasetGroupArn"]
    schema = personalize.create_schema(name="ratings", schema=INTERACTIONS_WITH_RATINGS)["schemaArn"]
    dataset = personalize.create_dataset(
        name="ratings", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
    )["datasetArn"]
    tracking = personalize.create_event_tracker(name="t", datasetGroupArn=group)["trackingId"]
    events.put_events(
        trackingId=tracking,
        userId="u1",
        sessionId="s1",
        eventList=[
            {"eventType": "watch", "sentAt": 1700000000, "properties": json.dumps({"itemId": "1653"})},
            {
                "eventType": "rating",
                "sentAt": 1700000001,
                "properties": json.dumps({"itemId": "choc-panama", "eventValue": "4", "numRatings": "0"}),
            },
        ],
    )
    stored = [(r["ITEM_ID"], r["EVENT_VALUE"], r["NUM_RATINGS"]) for r in rows(server, dataset)]
    assert stored == [("1653", None, None), ("choc-panama", 4.0, 0)]


def test_vod_sample_schema_with_unions_of_one_type(personalize):
    arns = make_group(personalize, "vod")
    schema = personalize.create_schema(name="vod-items", schema=VOD_ITEMS_SCHEMA)["schemaArn"]
    dataset = personalize.create_dataset(
        name="vod-items", schemaArn=schema, datasetGroupArn=arns["group"], datasetType="Items"
    )["datasetArn"]
    assert personalize.describe_dataset(datasetArn=dataset)["dataset"]["status"] == "ACTIVE"


def test_ranking_puts_items_without_interactions_last_unscored(personalize, runtime, tmp_path):
    """An item known only from the Items dataset has no interactions to rank it by (spec §15)."""
    arns = make_group(personalize)
    assert (
        import_csv(personalize, arns["dataset"], write_clustered_csv(tmp_path / "c.csv"))["status"]
        == "ACTIVE"
    )
    items_schema = personalize.create_schema(name="items", schema=VOD_ITEMS_SCHEMA)["schemaArn"]
    items = personalize.create_dataset(
        name="items", schemaArn=items_schema, datasetGroupArn=arns["group"], datasetType="Items"
    )["datasetArn"]
    catalogue = tmp_path / "items.csv"
    catalogue.write_text(
        "ITEM_ID,GENRES,YEAR\n"
        + "".join(f"{item(g, 0)},drama,2001\n" for g in range(4))
        + "shelf-only,drama,2020\n"
    )
    assert import_csv(personalize, items, catalogue)["status"] == "ACTIVE"
    _, version = train(personalize, arns["group"], RANKING, "ranking")
    campaign = deploy(personalize, version, "ranking")
    ranked = runtime.get_personalized_ranking(
        campaignArn=campaign, userId=user(0, 0), inputList=["shelf-only", item(0, 1), item(1, 1)]
    )["personalizedRanking"]
    assert [r["itemId"] for r in ranked][-1] == "shelf-only" and "score" not in ranked[-1]
    assert all("score" in r for r in ranked[:-1])
