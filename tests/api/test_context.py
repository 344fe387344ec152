"""Contextual metadata (spec §15 ``context``): answers follow the context where the data links
them, and stay put where it does not."""

from __future__ import annotations

import json
import random

import pytest

from tests.api.helpers import import_csv
from tests.api.test_training import RANKING, UP, deploy, train

pytestmark = pytest.mark.integration

SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Interactions",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "ITEM_ID", "type": "string"},
            {"name": "DEVICE", "type": ["null", "string"], "categorical": True},
            {"name": "BROWSER", "type": ["null", "string"], "categorical": True},
            {"name": "TIMESTAMP", "type": "long"},
        ],
        "version": "1.0",
    }
)
ITEMS = 40


@pytest.fixture
def devices(personalize, tmp_path):
    """Every user watches phone items on a phone and desktop items on a desktop, in any browser."""
    rng = random.Random(5)
    lines = ["USER_ID,ITEM_ID,DEVICE,BROWSER,TIMESTAMP"]
    t = 1_700_000_000
    for u in range(80):
        for _ in range(30):
            device = rng.choice(["phone", "desktop"])
            i = min(int(rng.expovariate(1 / 10)), ITEMS - 1)
            t += rng.randrange(1, 60)
            lines.append(f"u{u},{device}-{i},{device},{rng.choice(['chrome', 'firefox'])},{t}")
    path = tmp_path / "devices.csv"
    path.write_text("\n".join(lines) + "\n")
    group = personalize.create_dataset_group(name="devices")["datasetGroupArn"]
    schema = personalize.create_schema(name="devices", schema=SCHEMA)["schemaArn"]
    dataset = personalize.create_dataset(
        name="devices", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
    )["datasetArn"]
    assert import_csv(personalize, dataset, path)["status"] == "ACTIVE"
    return group


def share(items, prefix):
    return sum(r["itemId"].startswith(prefix) for r in items) / len(items)


def test_recommendations_follow_the_context(personalize, runtime, devices):
    _, version = train(personalize, devices, UP, "up")
    campaign = deploy(personalize, version, "up")

    def recommend(context=None):
        extra = {"context": context} if context is not None else {}
        return runtime.get_recommendations(campaignArn=campaign, userId="u3", numResults=10, **extra)[
            "itemList"
        ]

    plain = recommend()
    assert 0.2 <= share(plain, "phone-") <= 0.8  # the user's history mixes both devices
    assert share(recommend({"DEVICE": "phone"}), "phone-") >= 0.9
    assert share(recommend({"DEVICE": "desktop"}), "desktop-") >= 0.9
    # Scores stay an AWS softmax: in context they still rank in order.
    in_context = recommend({"DEVICE": "phone"})
    assert [r["score"] for r in in_context] == sorted((r["score"] for r in in_context), reverse=True)
    # A field the data does not link to items, unknown values and unknown keys change little.
    for context in ({"BROWSER": "chrome"}, {"DEVICE": "television"}, {"WEATHER": "rain"}):
        moved = {r["itemId"] for r in recommend(context)}
        assert len(moved & {r["itemId"] for r in plain}) >= 8, context


def test_rankings_follow_the_context(personalize, runtime, devices):
    _, version = train(personalize, devices, RANKING, "rank")
    campaign = deploy(personalize, version, "rank")

    def first(device):
        ranked = runtime.get_personalized_ranking(
            campaignArn=campaign,
            userId="u3",
            inputList=["phone-0", "desktop-0", "phone-1", "desktop-1"],
            context={"DEVICE": device},
        )["personalizedRanking"]
        return [r["itemId"].split("-")[0] for r in ranked[:2]]

    assert first("phone") == ["phone", "phone"]
    assert first("desktop") == ["desktop", "desktop"]
