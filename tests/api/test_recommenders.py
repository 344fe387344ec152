"""Domain dataset groups and recommenders through boto3 (spec §8): create, train, serve, stop,
start, update, retrain on a schedule, delete."""

from __future__ import annotations

import html
import json
import random
import re
import time

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.api.clustered import GROUPS, group_of, item, user
from tests.api.helpers import INTERACTIONS_SCHEMA, import_csv, make_group, wait_for
from tests.fixtures.server import start_server

pytestmark = pytest.mark.integration
RECIPE = "arn:aws:personalize:::recipe/{}"


def write_shop_events(path, seed=5):
    """4 taste groups × 20 users × 60 events: 75% View, 25% Purchase, 90% in the user's own group."""
    rng = random.Random(seed)
    lines, t = ["USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,DEVICE,TIMESTAMP"], 1_700_000_000
    for g in range(GROUPS):
        for u in range(20):
            for _ in range(60):
                target = g if rng.random() < 0.9 else rng.randrange(GROUPS)
                i = min(int(rng.expovariate(1 / 8)), 29)
                t += rng.randrange(1, 60)
                event = "Purchase" if rng.random() < 0.25 else "View"
                lines.append(f"{user(g, u)},{item(target, i)},{event},,web,{t}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def shop(personalize, tmp_path):
    group = personalize.create_dataset_group(name="shop", domain="ECOMMERCE")["datasetGroupArn"]
    schema = personalize.create_schema(
        name="shop-interactions", schema=INTERACTIONS_SCHEMA, domain="ECOMMERCE"
    )
    dataset = personalize.create_dataset(name="interactions", schemaArn=schema["schemaArn"], datasetGroupArn=group,
                                         datasetType="Interactions")["datasetArn"]  # fmt: skip
    assert import_csv(personalize, dataset, write_shop_events(tmp_path / "shop.csv"))["status"] == "ACTIVE"
    tracking = personalize.create_event_tracker(name="t", datasetGroupArn=group)["trackingId"]
    return {"group": group, "dataset": dataset, "tracking": tracking, "csv": tmp_path / "shop.csv"}


def create_recommender(personalize, shop, use_case, name=None, **extra):
    arn = personalize.create_recommender(
        name=name or use_case, datasetGroupArn=shop["group"], recipeArn=RECIPE.format(use_case), **extra
    )["recommenderArn"]
    return wait_for(lambda: personalize.describe_recommender(recommenderArn=arn), "recommender", 120)


def purchases_of(shop, who):
    rows = [line.split(",") for line in shop["csv"].read_text().splitlines()[1:]]
    return {r[1] for r in rows if r[0] == who and r[2] == "Purchase"}


def items(runtime, recommender, **kwargs):
    return [
        r["itemId"] for r in runtime.get_recommendations(recommenderArn=recommender, **kwargs)["itemList"]
    ]


def test_recommended_for_you(server, personalize, runtime, events, shop):
    done = create_recommender(personalize, shop, "aws-ecomm-recommended-for-you",
                              recommenderConfig={"itemExplorationConfig": {"explorationWeight": "0"}})  # fmt: skip
    assert done["status"] == "ACTIVE", done.get("failureReason")
    arn = done["recommenderArn"]
    assert done["recommenderConfig"]["minRecommendationRequestsPerSecond"] == 1
    assert done["recipeArn"] == RECIPE.format("aws-ecomm-recommended-for-you")
    assert done["modelMetrics"]["normalized_discounted_cumulative_gain_at_10"] > 0
    assert "latestRecommenderUpdate" not in done
    who = user(2, 4)
    got = items(runtime, arn, userId=who)
    assert len(got) == 25 and sum(group_of(i) == 2 for i in got[:10]) >= 8
    assert not set(got) & purchases_of(shop, who)  # what they bought is not offered again
    # A purchase streamed now leaves the next answer at once.
    events.put_events(trackingId=shop["tracking"], userId=who, sessionId="s",
                      eventList=[{"eventType": "Purchase", "itemId": got[0], "sentAt": time.time()}])  # fmt: skip
    assert got[0] not in items(runtime, arn, userId=who)
    with pytest.raises(ClientError, match="userId is required"):
        items(runtime, arn)
    console = httpx.get(f"{server.url}/console/resource", params={"arn": arn})  # its traffic, charted
    requests, latency = (
        json.loads(html.unescape(c)) for c in re.findall(r'data-chart="([^"]+)"', console.text)
    )
    assert sum(requests["data"]["datasets"][0]["data"]) == 2 and latency["type"] == "line"
    # Filters and promotions work on recommenders as on campaigns.
    viewed = personalize.create_filter(name="viewed", datasetGroupArn=shop["group"],
                                       filterExpression='INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("View")')["filterArn"]  # fmt: skip
    unseen = personalize.create_filter(name="unseen", datasetGroupArn=shop["group"],
                                       filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("View")')["filterArn"]  # fmt: skip
    views = {r[1] for r in (line.split(",") for line in shop["csv"].read_text().splitlines()[1:])
             if r[0] == who and r[2] == "View"}  # fmt: skip
    assert not set(items(runtime, arn, userId=who, filterArn=unseen)) & views
    promoted = runtime.get_recommendations(recommenderArn=arn, userId=who, filterArn=unseen, numResults=10,
        promotions=[{"name": "again", "percentPromotedItems": 30, "filterArn": viewed}])["itemList"]  # fmt: skip
    marked = [r["itemId"] for r in promoted if r.get("promotionName") == "again"]
    assert len(marked) == 3 and set(marked) <= views and not set(marked) & purchases_of(shop, who)
    summary = personalize.list_recommenders(datasetGroupArn=shop["group"])["recommenders"]
    assert [(r["name"], r["status"]) for r in summary] == [("aws-ecomm-recommended-for-you", "ACTIVE")]
    # Stop, start.
    personalize.stop_recommender(recommenderArn=arn)
    assert personalize.describe_recommender(recommenderArn=arn)["recommender"]["status"] == "INACTIVE"
    time.sleep(1.1)  # serving re-reads a recommender after a second
    with pytest.raises(ClientError, match="not ACTIVE"):
        items(runtime, arn, userId=who)
    with pytest.raises(ClientError) as caught:
        personalize.stop_recommender(recommenderArn=arn)
    assert caught.value.response["Error"]["Code"] == "ResourceInUseException"
    personalize.start_recommender(recommenderArn=arn)
    time.sleep(1.1)
    assert items(runtime, arn, userId=who)
    # New training columns retrain; the old model answers meanwhile, progress in latestRecommenderUpdate.
    personalize.update_recommender(recommenderArn=arn, recommenderConfig={
        "trainingDataConfig": {"excludedDatasetColumns": {"INTERACTIONS": ["DEVICE"]}}})  # fmt: skip
    update = personalize.describe_recommender(recommenderArn=arn)["recommender"]["latestRecommenderUpdate"]
    assert update["status"] in ("CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE")
    assert update["recommenderConfig"]["trainingDataConfig"]["excludedDatasetColumns"] == {
        "INTERACTIONS": ["DEVICE"]
    }
    deadline = time.time() + 60
    while (
        personalize.describe_recommender(recommenderArn=arn)["recommender"]["latestRecommenderUpdate"][
            "status"
        ]
        != "ACTIVE"
    ):
        assert time.time() < deadline
        time.sleep(0.2)
    for to, status in (("stop", "INACTIVE"), ("start", "ACTIVE")):  # the console's button does the same
        pressed = httpx.post(
            f"{server.url}/console/recommender-state", data={"from": arn, "recommenderArn": arn, "to": to}
        )
        assert pressed.status_code == 303
        assert personalize.describe_recommender(recommenderArn=arn)["recommender"]["status"] == status
    personalize.delete_recommender(recommenderArn=arn)
    with pytest.raises(ClientError) as caught:
        personalize.describe_recommender(recommenderArn=arn)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_item_and_popularity_use_cases(personalize, runtime, shop):
    bought_together = create_recommender(personalize, shop, "aws-ecomm-frequently-bought-together")
    assert bought_together["status"] == "ACTIVE", bought_together.get("failureReason")
    related = runtime.get_recommendations(recommenderArn=bought_together["recommenderArn"], itemId=item(1, 2))
    assert sum(group_of(r["itemId"]) == 1 for r in related["itemList"][:10]) >= 8
    assert "score" not in related["itemList"][0]  # co-purchase lists have no scores, as AWS
    with pytest.raises(ClientError, match="itemId is required"):
        items(runtime, bought_together["recommenderArn"], userId=user(0, 0))
    best_sellers = create_recommender(personalize, shop, "aws-ecomm-popular-items-by-purchases")
    assert best_sellers["status"] == "ACTIVE", best_sellers.get("failureReason")
    top = items(runtime, best_sellers["recommenderArn"], userId="anyone", numResults=5)
    rows = [line.split(",") for line in shop["csv"].read_text().splitlines()[1:]]
    counts: dict[str, int] = {}
    for r in rows:
        if r[2] == "Purchase":
            counts[r[1]] = counts.get(r[1], 0) + 1
    assert top[0] == max(counts, key=counts.__getitem__)  # the most bought item first
    also_viewed = create_recommender(personalize, shop, "aws-ecomm-customers-who-viewed-x-also-viewed")
    who = user(3, 1)
    got = items(runtime, also_viewed["recommenderArn"], userId=who, itemId=item(3, 1))
    assert got and not set(got) & purchases_of(shop, who)


def test_recommender_refusals(personalize, shop, tmp_path):
    def refused(**params):
        with pytest.raises(ClientError) as caught:
            personalize.create_recommender(**{"name": "r", "datasetGroupArn": shop["group"], **params})
        return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]

    code, message = refused(recipeArn=RECIPE.format("aws-vod-top-picks"))
    assert code == "InvalidInputException" and "VIDEO_ON_DEMAND" in message
    code, message = refused(recipeArn=RECIPE.format("aws-user-personalization"))
    assert code == "InvalidInputException" and "not a domain use case" in message
    code, message = refused(recipeArn=RECIPE.format("aws-ecomm-popular-items-by-views"),
                            recommenderConfig={"itemExplorationConfig": {"explorationWeight": "0.2"}})  # fmt: skip
    assert code == "InvalidInputException" and "Recommended for you" in message
    code, message = refused(recipeArn=RECIPE.format("aws-ecomm-recommended-for-you"), recommenderConfig={
        "trainingDataConfig": {"excludedDatasetColumns": {"INTERACTIONS": ["ITEM_ID"]}}})  # fmt: skip
    assert code == "InvalidInputException" and "cannot be excluded" in message
    custom = make_group(personalize, "custom")
    code, message = refused(
        datasetGroupArn=custom["group"], recipeArn=RECIPE.format("aws-ecomm-recommended-for-you")
    )
    assert code == "InvalidInputException" and "has no domain" in message
    assert personalize.list_recommenders()["recommenders"] == []
    with pytest.raises(ClientError, match="CreateRecommender"):
        personalize.create_solution(name="s", datasetGroupArn=shop["group"],
                                    recipeArn=RECIPE.format("aws-ecomm-recommended-for-you"))  # fmt: skip


def test_too_few_events_fail_the_recommender_saying_why(tmp_path):
    live = start_server(tmp_path / "data")
    try:
        personalize = live.client("personalize")
        group = personalize.create_dataset_group(name="vod", domain="VIDEO_ON_DEMAND")["datasetGroupArn"]
        schema = personalize.create_schema(name="vod", schema=INTERACTIONS_SCHEMA, domain="VIDEO_ON_DEMAND")
        dataset = personalize.create_dataset(name="i", schemaArn=schema["schemaArn"], datasetGroupArn=group,
                                             datasetType="Interactions")["datasetArn"]  # fmt: skip
        csv = write_shop_events(tmp_path / "views.csv")  # View and Purchase: no Watch events at all
        assert import_csv(personalize, dataset, csv)["status"] == "ACTIVE"
        shop = {"group": group}
        done = create_recommender(personalize, shop, "aws-vod-most-popular")
        assert done["status"] == "CREATE FAILED"
        assert "fewer than 1000 interactions after filtering by event type: Watch" in done["failureReason"]
    finally:
        live.stop()


def test_recommenders_retrain_on_schedule(tmp_path):
    live = start_server(tmp_path / "data", recommender_retrain_days=3 / 86400, scheduler_tick_seconds=0.2)
    try:
        personalize = live.client("personalize")
        group = personalize.create_dataset_group(name="shop", domain="ECOMMERCE")["datasetGroupArn"]
        schema = personalize.create_schema(name="s", schema=INTERACTIONS_SCHEMA, domain="ECOMMERCE")
        dataset = personalize.create_dataset(name="i", schemaArn=schema["schemaArn"], datasetGroupArn=group,
                                             datasetType="Interactions")["datasetArn"]  # fmt: skip
        assert import_csv(personalize, dataset, write_shop_events(tmp_path / "e.csv"))["status"] == "ACTIVE"
        done = create_recommender(personalize, {"group": group}, "aws-ecomm-popular-items-by-views")
        assert done["status"] == "ACTIVE" and "latestRecommenderUpdate" not in done
        deadline = time.time() + 30
        while "latestRecommenderUpdate" not in (current := personalize.describe_recommender(
                recommenderArn=done["recommenderArn"])["recommender"]):  # fmt: skip
            assert time.time() < deadline, "no retraining started"
            time.sleep(0.2)
        assert current["status"] == "ACTIVE"  # the current model keeps serving meanwhile
    finally:
        live.stop()
