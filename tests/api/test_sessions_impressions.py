"""Impressions (explicit and implicit) and anonymous sessions, through boto3 (spec §12.3)."""

from __future__ import annotations

import json
import time

import pyarrow as pa
import pytest

from openpersonalize.data.dataset_reader import read_dataset
from openpersonalize.data.sessions import join_sessions
from tests.api.clustered import group_of, item, user, write_clustered_csv
from tests.api.helpers import import_csv
from tests.api.test_filters import make_filter, shop  # noqa: F401  (the fixture)
from tests.api.test_training import UP, deploy, train

pytestmark = pytest.mark.integration

WITH_IMPRESSIONS = json.dumps(
    {
        "type": "record",
        "name": "Interactions",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "ITEM_ID", "type": "string"},
            {"name": "EVENT_TYPE", "type": "string"},
            {"name": "EVENT_VALUE", "type": ["null", "float"]},
            {"name": "DEVICE", "type": ["null", "string"], "categorical": True},
            {"name": "IMPRESSION", "type": ["null", "string"]},
            {"name": "RECOMMENDATION_ID", "type": ["null", "string"]},
            {"name": "TIMESTAMP", "type": "long"},
        ],
        "version": "1.0",
    }
)


def test_impressions_are_stored_explicit_first(personalize, runtime, events, server, tmp_path):
    group = personalize.create_dataset_group(name="imp")["datasetGroupArn"]
    schema = personalize.create_schema(name="imp", schema=WITH_IMPRESSIONS)["schemaArn"]
    dataset = personalize.create_dataset(
        name="imp", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
    )["datasetArn"]
    assert import_csv(personalize, dataset, write_clustered_csv(tmp_path / "c.csv"))["status"] == "ACTIVE"
    tracking = personalize.create_event_tracker(name="t", datasetGroupArn=group)["trackingId"]
    _, version = train(personalize, group, UP, "up")
    campaign = deploy(personalize, version, "up")
    answer = runtime.get_recommendations(campaignArn=campaign, userId=user(0, 1), numResults=5)
    shown = [r["itemId"] for r in answer["itemList"]]
    rid = answer["recommendationId"]
    now = time.time()
    events.put_events(
        trackingId=tracking,
        userId=user(0, 1),
        sessionId="s1",
        eventList=[
            # implicit: the list the recommendationId answered
            {"eventType": "click", "itemId": shown[2], "sentAt": now, "recommendationId": rid},
            # explicit wins over implicit
            {
                "eventType": "click",
                "itemId": shown[0],
                "sentAt": now + 1,
                "recommendationId": rid,
                "impression": [shown[0], "g3-item9"],
            },
            # an id this server never gave: stored as it is, no impression
            {
                "eventType": "click",
                "itemId": shown[1],
                "sentAt": now + 2,
                "recommendationId": "RID-elsewhere",
            },
        ],
    )
    ctx = server.services.ctx
    table = read_dataset(ctx.store, ctx.interactions, dataset)
    live = table.filter(pa.compute.equal(table.column("USER_ID"), user(0, 1))).to_pylist()[-3:]
    assert [(r["RECOMMENDATION_ID"], r["IMPRESSION"]) for r in live] == [
        (rid, "|".join(shown)),
        (rid, f"{shown[0]}|g3-item9"),
        ("RID-elsewhere", None),
    ]


def test_anonymous_session_joins_its_user_at_the_next_training(personalize, runtime, events, shop):  # noqa: F811
    seen = make_filter(personalize, shop, 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")', "seen")
    now = time.time()
    browsed = [item(2, i) for i in range(5)]
    events.put_events(
        trackingId=shop["tracking"],
        sessionId="anon-1",
        eventList=[
            {"eventType": "click", "itemId": browsed[i], "sentAt": now + i} for i in range(len(browsed))
        ],
    )
    # The session gets recommendations from its own events at once (its id as the userId).
    anonymous = runtime.get_recommendations(campaignArn=shop["campaign"], userId="anon-1", numResults=10)
    assert sum(group_of(r["itemId"]) == 2 for r in anonymous["itemList"]) >= 8
    # Signing in: one event names both the session and the user.
    events.put_events(
        trackingId=shop["tracking"],
        userId="new-user",
        sessionId="anon-1",
        eventList=[{"eventType": "click", "itemId": item(2, 9), "sentAt": now + 10}],
    )

    def excluded(campaign: str) -> set[str]:
        everything = runtime.get_recommendations(
            campaignArn=campaign, userId="new-user", numResults=500, filterArn=seen
        )
        return set(browsed) - {r["itemId"] for r in everything["itemList"]}

    assert excluded(shop["campaign"]) == set()  # until a training, the user's history is the one event
    _, version = train(personalize, shop["group"], UP, "up2")
    assert excluded(deploy(personalize, version, "up2")) == set(browsed)


def test_join_sessions_unit():
    table = pa.table(
        {
            "USER_ID": [None, None, "u1", None, "u2", "u3"],
            "ITEM_ID": ["a", "b", "c", "d", "e", "f"],
            "_session": ["s1", "s2", "s1", "s3", "s2", None],
        }
    )
    joined = join_sessions(table)
    assert joined.column_names == ["USER_ID", "ITEM_ID"]
    # s1 -> u1, s2 -> u2 (named later), s3 never named: stays anonymous
    assert joined.column("USER_ID").to_pylist() == ["u1", "u2", "u1", None, "u2", "u3"]
    untouched = join_sessions(table.filter(pa.compute.is_valid(table.column("USER_ID"))))
    assert untouched.column("USER_ID").to_pylist() == ["u1", "u2", "u3"]
