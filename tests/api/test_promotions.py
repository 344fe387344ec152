"""Promotions and item metadata in answers, through boto3 (spec §15)."""

from __future__ import annotations

import math

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.api.clustered import group_of, user
from tests.api.test_filters import make_filter, shop  # noqa: F401  (the fixture)
from tests.api.test_training import RANKING, train

pytestmark = pytest.mark.integration


def promoted(runtime, shop, percent, *, filter_arn=None, promotion_filter, n=25, **extra):  # noqa: F811
    kwargs = {"filterArn": filter_arn} if filter_arn else {}
    return runtime.get_recommendations(
        campaignArn=shop["campaign"],
        userId=user(0, 1),
        numResults=n,
        promotions=[{"name": "summer-sale", "percentPromotedItems": percent, "filterArn": promotion_filter}],
        **kwargs,
        **extra,
    )["itemList"]


def test_promotion_takes_its_share_of_the_list(personalize, runtime, shop):  # noqa: F811
    group3 = make_filter(personalize, shop, 'INCLUDE ItemID WHERE Items.CATEGORY IN ("group3")', "g3")
    plain = [
        r["itemId"]
        for r in runtime.get_recommendations(campaignArn=shop["campaign"], userId=user(0, 1))["itemList"]
    ]
    assert sum(group_of(i) == 3 for i in plain) < 5  # a group-0 user rarely gets group 3 unpromoted
    for percent in (20, 50, 100):
        items = promoted(runtime, shop, percent, promotion_filter=group3)
        marked = [r for r in items if r.get("promotionName")]
        assert len(items) == 25 and len(marked) == math.ceil(25 * percent / 100)
        assert {r["promotionName"] for r in marked} == {"summer-sale"}
        assert all(group_of(r["itemId"]) == 3 for r in marked)
        assert len({r["itemId"] for r in items}) == 25  # never the same item twice
        # Promoted items keep their own order of score, wherever they are placed.
        scores = [r["score"] for r in marked]
        assert scores == sorted(scores, reverse=True)
        others = [r["score"] for r in items if not r.get("promotionName")]
        assert others == sorted(others, reverse=True)


def test_promotion_positions_vary(personalize, runtime, shop):  # noqa: F811
    group3 = make_filter(personalize, shop, 'INCLUDE ItemID WHERE Items.CATEGORY IN ("group3")', "g3")
    layouts = {
        tuple(bool(r.get("promotionName")) for r in promoted(runtime, shop, 20, promotion_filter=group3))
        for _ in range(20)
    }
    assert len(layouts) > 1  # placed at random among the others, not always first


def test_each_filter_applies_to_its_own_part(personalize, runtime, shop):  # noqa: F811
    not_group0 = make_filter(personalize, shop, 'EXCLUDE ItemID WHERE Items.CATEGORY IN ("group0")', "ng0")
    group0 = make_filter(personalize, shop, 'INCLUDE ItemID WHERE Items.CATEGORY IN ("group0")', "g0")
    items = promoted(runtime, shop, 40, filter_arn=not_group0, promotion_filter=group0)
    marked = [r["itemId"] for r in items if r.get("promotionName")]
    rest = [r["itemId"] for r in items if not r.get("promotionName")]
    assert len(marked) == 10 and all(group_of(i) == 0 for i in marked)
    assert len(rest) == 15 and all(group_of(i) != 0 for i in rest)


def test_too_few_promoted_items_leave_room_to_the_others(personalize, runtime, shop):  # noqa: F811
    few = make_filter(
        personalize, shop, 'INCLUDE ItemID WHERE Items.CATEGORY IN ("group3") AND Items.PRICE < 3', "few"
    )
    items = promoted(runtime, shop, 50, promotion_filter=few)
    marked = [r["itemId"] for r in items if r.get("promotionName")]
    assert len(items) == 25 and sorted(marked) == ["g3-item0", "g3-item1", "g3-item2"]


def test_promotion_values_and_bad_promotions(personalize, runtime, server, shop):  # noqa: F811
    by_category = make_filter(personalize, shop, "INCLUDE ItemID WHERE Items.CATEGORY IN ($C)", "byc")
    items = runtime.get_recommendations(
        campaignArn=shop["campaign"],
        userId=user(0, 1),
        promotions=[
            {
                "name": "p",
                "percentPromotedItems": 10,
                "filterArn": by_category,
                "filterValues": {"C": '"group2"'},
            }
        ],
    )["itemList"]
    assert [group_of(r["itemId"]) for r in items if r.get("promotionName")] == [2, 2, 2]
    cases = [
        ({"name": "p", "percentPromotedItems": 10}, "filterArn is required"),
        (
            {"name": "p", "percentPromotedItems": 10, "filterArn": by_category},
            "filterValues has no value for $C",
        ),
        ({"name": "p", "percentPromotedItems": 0, "filterArn": by_category}, "percentPromotedItems"),
        ({"name": "-p", "percentPromotedItems": 10, "filterArn": by_category}, "name"),
    ]
    unchecked = boto3.client(  # the server's own checks, not botocore's
        "personalize-runtime",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )
    for promotion, message in cases:
        with pytest.raises(ClientError) as caught:
            unchecked.get_recommendations(
                campaignArn=shop["campaign"], userId=user(0, 1), promotions=[promotion]
            )
        assert caught.value.response["Error"]["Code"] == "InvalidInputException"
        assert message in caught.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as caught:
        unchecked.get_recommendations(
            campaignArn=shop["campaign"],
            userId=user(0, 1),
            promotions=[{"name": n, "percentPromotedItems": 10, "filterArn": by_category} for n in "ab"],
        )
    assert caught.value.response["Error"]["Code"] == "InvalidInputException"


def test_metadata_in_answers(personalize, runtime, events, shop):  # noqa: F811
    request = {"campaignArn": shop["campaign"], "userId": user(0, 1), "numResults": 5}
    columns = {"ITEMS": ["CATEGORY", "PRICE"]}
    with pytest.raises(ClientError) as caught:
        runtime.get_recommendations(**request, metadataColumns=columns)
    assert "enableMetadataWithRecommendations" in caught.value.response["Error"]["Message"]
    personalize.update_campaign(
        campaignArn=shop["campaign"], campaignConfig={"enableMetadataWithRecommendations": True}
    )
    items = runtime.get_recommendations(**request, metadataColumns=columns)["itemList"]
    for r in items:
        number = int(r["itemId"].split("item")[1])
        assert r["metadata"] == {"CATEGORY": f"group{group_of(r['itemId'])}|all", "PRICE": f"{number}.5"}
    assert "metadata" not in runtime.get_recommendations(**request)["itemList"][0]
    # PutItems changes show in the very next answer.
    first = items[0]["itemId"]
    events.put_items(
        datasetArn=shop["items"],
        items=[{"itemId": first, "properties": '{"category": "special", "price": 1.25}'}],
    )
    again = runtime.get_recommendations(**request, metadataColumns=columns)["itemList"]
    assert next(r for r in again if r["itemId"] == first)["metadata"] == {
        "CATEGORY": "special",
        "PRICE": "1.25",
    }
    for bad, message in (
        ({"numResults": 51}, "at most 50 when metadataColumns is given"),
        ({"metadataColumns": {"ITEMS": ["SIZE"]}}, "SIZE, which the Items schema does not have"),
        ({"metadataColumns": {"USERS": ["AGE"]}}, "may only name the ITEMS dataset"),
        ({"metadataColumns": {"ITEMS": [f"C{i}" for i in range(11)]}}, "at most 10 columns"),
    ):
        with pytest.raises(ClientError) as caught:
            runtime.get_recommendations(**{**request, "metadataColumns": columns, **bad})
        assert caught.value.response["Error"]["Code"] == "InvalidInputException"
        assert message in caught.value.response["Error"]["Message"]


def test_metadata_in_rankings(personalize, runtime, shop):  # noqa: F811
    _, version = train(personalize, shop["group"], RANKING, "rank")
    campaign = personalize.create_campaign(
        name="rank",
        solutionVersionArn=version,
        campaignConfig={"enableMetadataWithRecommendations": True},
    )["campaignArn"]
    assert personalize.describe_campaign(campaignArn=campaign)["campaign"]["status"] == "ACTIVE"
    ranked = runtime.get_personalized_ranking(
        campaignArn=campaign,
        userId=user(0, 1),
        inputList=["g1-item1", "g0-item1", "unknown-item"],
        metadataColumns={"ITEMS": ["COLOR"]},
    )["personalizedRanking"]
    assert [r["itemId"] for r in ranked] == ["g0-item1", "g1-item1", "unknown-item"]
    assert [r.get("metadata") for r in ranked] == [{"COLOR": "red"}, {"COLOR": "red"}, {}]
    with pytest.raises(ClientError) as caught:
        runtime.get_personalized_ranking(
            campaignArn=campaign,
            userId=user(0, 1),
            inputList=[f"g0-item{i}" for i in range(30)] + [f"g1-item{i}" for i in range(30)],
            metadataColumns={"ITEMS": ["COLOR"]},
        )
    assert "at most 50 items when metadataColumns is given" in caught.value.response["Error"]["Message"]
