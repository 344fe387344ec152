"""Hypothesis fuzzing of filtered runtime requests through boto3 against a real server (spec §9, §15).

One server for the module, with the `shop` dataset group of test_filters.py (items with a
category, colour and price, users with an age), a User-Personalization and a Personalized-Ranking
campaign and filters that read every kind of data: item metadata, interactions, the request's
user (IF CurrentUser), the request's item (CurrentItem), and chains. GetRecommendations and
GetPersonalizedRanking then get fuzzed filterValues, numResults, userId, itemId, context,
promotions and metadataColumns. boto3's client-side validation is off, so out-of-range members
and scalars of the wrong JSON type reach the server (wrongly-typed structures, which boto3 cannot
serialize, are tests/api/test_fuzz_wire.py's business). Whatever is sent, the answer is a success
or a 4xx error, never a 5xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.api.clustered import item, user
from tests.api.test_filters import build_shop
from tests.api.test_training import RANKING, deploy, train
from tests.fixtures.server import LiveServer, start_server

pytestmark = pytest.mark.integration

FUZZ = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure here is a bug, never a fluke
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
SERVER_FAILURES = ("InternalFailure", "InternalFailureException", "InternalServerError", "ServiceUnavailable")
FILTERS = {
    "category_price": "INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY) AND Items.PRICE <= $PRICE",
    "adults": "EXCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY) IF CurrentUser.AGE >= $AGE",
    "chain": 'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($EVENT_TYPE, "click") '
    "| EXCLUDE ItemID WHERE Items.COLOR IN ($COLOR)",
    "cheaper": "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE OR Items.CATEGORY IN CurrentItem.CATEGORY",
    "seen": "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (*)",
    "not_red": 'EXCLUDE ItemID WHERE Items.COLOR NOT IN ("blue") OR Items.PRICE > 20',
}


@pytest.fixture(scope="module")
def filtered_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server with the shop group, its two campaigns and FILTERS; runtime clients for it."""
    directory = tmp_path_factory.mktemp("filter-fuzz")
    live: LiveServer = start_server(directory / "data", min_import_interactions=10)
    personalize = live.client("personalize")
    shop = build_shop(personalize, directory)
    _, version = train(personalize, shop["group"], RANKING, "ranking")
    shop["ranking"] = deploy(personalize, version, "ranking")
    shop["filters"] = [
        personalize.create_filter(name=name, datasetGroupArn=shop["group"], filterExpression=text)[
            "filterArn"
        ]
        for name, text in FILTERS.items()
    ]
    account = shop["group"].split(":dataset-group/")[0]
    shop["other_arns"] = [
        f"{account}:filter/nothing-here",
        shop["campaign"],
        "arn:aws:personalize:::nope",
        "",
    ]
    # No client-side validation: out-of-range and wrongly-typed members go to the server as they are.
    shop["runtime"] = boto3.client(
        "personalize-runtime",
        endpoint_url=live.url,
        region_name="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )
    yield shop
    live.stop()


# --- strategies ---------------------------------------------------------------------------------
# Each member is mostly plausible (so requests reach the filters), sometimes wild.


def mostly(plausible: st.SearchStrategy[Any], wild: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``plausible`` nine times in ten, else ``wild``."""
    return st.integers(0, 9).flatmap(lambda n: wild if n == 0 else plausible)


odd_text = st.text(max_size=12) | st.sampled_from(
    ['"', '""', '"a","b"', "group2", "\\", '\\"', "a,b", "é", "\x00", "*", "x" * 1001, "🎬", " "]
)  # fmt: skip
plausible_values = st.sampled_from(
    ['"group1"', '"group1","group2"', '"group0", "all"', "group3", '"10"', "10", "2.5", '"10","3"', "30",
     '"click"', '"purchase"', '"red"', '"blue","red"', "1e999", "-inf", "nan", "", '"'],
)  # fmt: skip
values = mostly(
    plausible_values | odd_text,
    st.integers(-(10**20), 10**20).map(str)
    | st.floats().map(repr)
    | st.sampled_from([5, None, True, 1.5]),  # not strings
)
placeholders = st.sampled_from(["CATEGORY", "PRICE", "AGE", "EVENT_TYPE", "COLOR"])
too_many = st.dictionaries(st.sampled_from([f"K{i}" for i in range(40)]), values, min_size=26, max_size=28)
filter_values = mostly(
    st.dictionaries(placeholders, values, max_size=5),
    st.dictionaries(placeholders | st.text(max_size=8), values, max_size=6) | too_many,
)
known_users = st.sampled_from([user(0, 0), user(1, 3), user(2, 7), user(3, 19), "never-seen"])
user_ids = mostly(known_users | st.text(min_size=1, max_size=12), st.sampled_from(["", "x" * 257, 42]))
known_items = st.sampled_from([item(0, 0), item(1, 5), item(2, 10), item(3, 29), "never-seen"])
item_ids = mostly(known_items | st.text(min_size=1, max_size=12), st.sampled_from(["", "x" * 257, 7]))
num_results = mostly(
    st.integers(1, 100) | st.integers(-3, 510),
    st.sampled_from([0, 500, 501, 10**12, -(2**63), "10", 2.5, None]),
)
context = mostly(
    st.dictionaries(st.sampled_from(["DEVICE", "device", "X"]), odd_text, max_size=3),
    st.dictionaries(st.text(max_size=8), odd_text, max_size=3)
    | st.sampled_from([{"k" * 200: "v"}, {"DEVICE": 1}, {"DEVICE": None}]),
)
metadata_columns = st.one_of(
    st.dictionaries(
        st.sampled_from(["ITEMS", "USERS", "items", "X"]),
        st.lists(st.sampled_from(["CATEGORY", "PRICE", "COLOR", "IN_STOCK", "NOPE", ""]), max_size=3),
        max_size=2,
    ),
    st.sampled_from([{"ITEMS": ["PRICE"] * 20}, {"ITEMS": [7]}, {"ITEMS": ["PRICE"]}]),
)


def filter_arns(shop: dict[str, Any]) -> st.SearchStrategy[Any]:
    return mostly(st.sampled_from(shop["filters"]), st.sampled_from(shop["other_arns"]))


def promotions(shop: dict[str, Any]) -> st.SearchStrategy[Any]:
    plausible = st.fixed_dictionaries(
        {
            "name": st.just("promo"),
            "percentPromotedItems": st.integers(1, 100),
            "filterArn": filter_arns(shop),
            "filterValues": filter_values,
        }
    )
    wild = st.fixed_dictionaries(
        {},
        optional={
            "name": st.sampled_from(["promo", "", "x" * 300]) | st.text(max_size=8),
            "percentPromotedItems": st.integers(-5, 105) | st.sampled_from([0, "50"]),
            "filterArn": filter_arns(shop),
            "filterValues": filter_values,
        },
    )
    return mostly(st.lists(plausible, min_size=1, max_size=1), st.lists(plausible | wild, max_size=2))


@st.composite
def optional_members(
    draw: st.DrawFn, chances: dict[str, tuple[int, st.SearchStrategy[Any]]]
) -> dict[str, Any]:
    """Each member with its chance in ten of being there."""
    return {
        name: draw(strategy, label=name)
        for name, (chance, strategy) in chances.items()
        if draw(st.integers(0, 9)) < chance
    }


def recommend_requests(shop: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return optional_members(
        {
            "userId": (9, user_ids),
            "itemId": (3, item_ids),
            "numResults": (7, num_results),
            "filterArn": (8, filter_arns(shop)),
            "filterValues": (8, filter_values),
            "context": (3, context),
            "promotions": (3, promotions(shop)),
            "metadataColumns": (1, metadata_columns),
        }
    )


def rank_requests(shop: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    inputs = mostly(
        st.lists(item_ids, min_size=1, max_size=6), st.sampled_from([[], [item(0, 0)] * 3, ["x"] * 501])
    )
    return st.fixed_dictionaries({"userId": user_ids, "inputList": inputs}).flatmap(
        lambda required: optional_members(
            {
                "filterArn": (8, filter_arns(shop)),
                "filterValues": (8, filter_values),
                "context": (3, context),
                "metadataColumns": (1, metadata_columns),
            }
        ).map(lambda optional: {**required, **optional})
    )


# --- the properties -------------------------------------------------------------------------------


def survives(call: Any, **request: Any) -> dict[str, Any] | None:
    """The response, or None after a 4xx; a 5xx (or an error code saying the server failed) fails."""
    try:
        response: dict[str, Any] = call(**request)
    except ClientError as error:
        status = error.response["ResponseMetadata"]["HTTPStatusCode"]
        code = error.response["Error"]["Code"]
        shown = {k: (v[:80] + "..." if isinstance(v, str) and len(v) > 80 else v) for k, v in request.items()}
        assert status < 500 and code not in SERVER_FAILURES, f"{shown} -> {status} {error.response['Error']}"
        event(f"{status} {code}")
        return None
    event("200")
    return response


@FUZZ
@given(data=st.data())
def test_get_recommendations_never_fails_the_server(filtered_shop, data):
    shop = filtered_shop
    request = data.draw(recommend_requests(shop), label="request")
    response = survives(shop["runtime"].get_recommendations, campaignArn=shop["campaign"], **request)
    if response is not None:
        assert isinstance(response["itemList"], list)
        if isinstance(request.get("numResults"), int) and request["numResults"] > 0:
            assert len(response["itemList"]) <= request["numResults"]


@FUZZ
@given(data=st.data())
def test_get_personalized_ranking_never_fails_the_server(filtered_shop, data):
    shop = filtered_shop
    request = data.draw(rank_requests(shop), label="request")
    response = survives(shop["runtime"].get_personalized_ranking, campaignArn=shop["ranking"], **request)
    if response is not None:
        ranked = [r["itemId"] for r in response["personalizedRanking"]]
        assert set(ranked) <= set(request["inputList"]) and len(ranked) == len(set(ranked))


def test_the_fixture_filters_work(filtered_shop):
    """The filters the fuzzing uses are ACTIVE and apply (so the requests above reach the filters)."""
    shop = filtered_shop
    got = shop["runtime"].get_recommendations(
        campaignArn=shop["campaign"],
        userId=user(0, 0),
        numResults=10,
        filterArn=shop["filters"][0],
        filterValues={"CATEGORY": '"group1"', "PRICE": "100"},
    )["itemList"]
    assert len(got) == 10 and all(i["itemId"].startswith("g1-") for i in got)
