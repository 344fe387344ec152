"""The v2 recipes (the sequence transformer) through boto3: train, serve with live histories."""

from __future__ import annotations

import datetime as dt

import pytest

from openpersonalize.evaluation.metrics import METRIC_NAMES
from tests.api.clustered import GROUPS, ITEMS_PER_GROUP, group_of, item, user
from tests.api.test_training import deploy, loaded, train  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration
V2 = "arn:aws:personalize:::recipe/aws-user-personalization-v2"
RANKING_V2 = "arn:aws:personalize:::recipe/aws-personalized-ranking-v2"


def test_v2_recommends_the_users_taste_and_follows_live_events(personalize, runtime, events, loaded):  # noqa: F811
    _, version = train(personalize, loaded["group"], V2, "v2")
    metrics = personalize.get_solution_metrics(solutionVersionArn=version)["metrics"]
    assert set(metrics) == set(METRIC_NAMES) and metrics["precision_at_5"] > 0.06
    campaign = deploy(personalize, version, "v2")
    answer = runtime.get_recommendations(campaignArn=campaign, userId=user(1, 2), numResults=10)["itemList"]
    assert sum(group_of(entry["itemId"]) == 1 for entry in answer) >= 7
    assert all(0 < entry["score"] <= 1 for entry in answer)
    # A burst of events from another taste moves the next answer, without retraining.
    when = dt.datetime.fromtimestamp(1_800_000_000, dt.UTC)
    for i in range(8):
        events.put_events(
            trackingId=loaded["tracking"],
            userId=user(1, 2),
            sessionId="s",
            eventList=[
                {"eventType": "click", "itemId": item(3, i), "sentAt": when + dt.timedelta(seconds=i)}
            ],
        )
    after = runtime.get_recommendations(campaignArn=campaign, userId=user(1, 2), numResults=10)["itemList"]
    assert sum(group_of(entry["itemId"]) == 3 for entry in after) > sum(
        group_of(entry["itemId"]) == 3 for entry in answer
    )


def test_personalized_ranking_v2_orders_the_users_taste_first(personalize, runtime, loaded):  # noqa: F811
    _, version = train(personalize, loaded["group"], RANKING_V2, "ranking-v2")
    campaign = deploy(personalize, version, "ranking-v2")
    candidates = [item(g, i) for g in range(GROUPS) for i in range(0, ITEMS_PER_GROUP, 10)]
    ranked = runtime.get_personalized_ranking(campaignArn=campaign, userId=user(2, 1), inputList=candidates)[
        "personalizedRanking"
    ]
    assert [group_of(entry["itemId"]) for entry in ranked[:3]] == [2, 2, 2]
