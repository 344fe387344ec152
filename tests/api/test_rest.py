"""GET /recommendations: the plain REST endpoint for messaging tools and web pages."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.api.clustered import group_of, user
from tests.api.test_filters import build_shop, make_filter
from tests.fixtures.server import start_server

pytestmark = pytest.mark.integration


@pytest.fixture
def live(tmp_path):
    server = start_server(tmp_path / "data", rest_fields="id=ITEM_ID,category=CATEGORY,price=PRICE,in_stock=IN_STOCK",
                          rest_cache_seconds=60)  # fmt: skip
    yield server
    server.stop()


def get(live, **params):
    return httpx.get(f"{live.url}/recommendations", params=params)


def test_decorated_items_as_a_json_array(live, tmp_path):
    personalize = live.client("personalize")
    shop = build_shop(personalize, tmp_path)
    answer = get(live, user_id=user(1, 2), campaign="up", num_results=5)
    assert answer.status_code == 200, answer.text
    items = answer.json()
    assert isinstance(items, list) and len(items) == 5
    first = items[0]
    assert set(first) == {"id", "category", "price", "in_stock"} and group_of(first["id"]) == 1
    assert isinstance(first["price"], float) and isinstance(first["in_stock"], bool)  # numbers stay numbers
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["x-recommendation-id"].startswith("RID-")
    by_arn = get(live, user_id=user(1, 2), campaign=shop["campaign"], num_results=5).json()
    assert [i["id"] for i in by_arn] == [i["id"] for i in items]
    # A filter with a value, by name.
    make_filter(personalize, shop, "INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)", "by-category")
    filtered = get(
        live, user_id=user(1, 2), campaign="up", filter="by-category", **{"value.CATEGORY": "group3"}
    ).json()
    assert len(filtered) == 25 and {group_of(i["id"]) for i in filtered} == {3}


def test_cache_and_its_invalidation_by_an_event(live, tmp_path):
    personalize, events = live.client("personalize"), live.client("personalize-events")
    shop = build_shop(personalize, tmp_path)
    who = "newcomer"
    first = get(live, user_id=who, campaign="up")
    again = get(live, user_id=who, campaign="up")
    assert again.headers.get("x-cache") == "hit" and again.json() == first.json()
    events.put_events(trackingId=shop["tracking"], userId=who, sessionId="s",
                      eventList=[{"eventType": "click", "itemId": f"g2-item{i}", "sentAt": time.time()} for i in range(5)])  # fmt: skip
    after = get(live, user_id=who, campaign="up")
    assert "x-cache" not in after.headers and after.json() != first.json()
    assert sum(group_of(i["id"]) == 2 for i in after.json()[:10]) >= 8


def test_errors_are_json_and_4xx(live, tmp_path):
    personalize = live.client("personalize")
    build_shop(personalize, tmp_path)
    for params, status, words in (
        ({"user_id": "u"}, 400, "campaign or recommender is required"),
        ({"user_id": "u", "campaign": "nope"}, 404, "does not exist"),
        (
            {"user_id": "u", "campaign": "up", "num_results": "lots"},
            400,
            "num_results must be a whole number",
        ),
        ({"user_id": "u", "campaign": "up", "num_results": "900"}, 400, "between 1 and 500"),
        ({"campaign": "up"}, 400, "userId is required"),
        ({"user_id": "u", "campaign": "up", "filter_values": "{"}, 400, "JSON object"),
    ):
        answer = get(live, **params)
        assert answer.status_code == status and words in answer.json()["message"], answer.text
        assert "Traceback" not in answer.text


def test_api_keys_and_a_default_campaign(tmp_path):
    live = start_server(tmp_path / "data", rest_api_keys="k1,k2", rest_default="up")
    try:
        build_shop(live.client("personalize"), tmp_path)
        assert get(live, user_id="u").status_code == 401
        assert (
            httpx.get(
                f"{live.url}/recommendations", params={"user_id": "u"}, headers={"X-Api-Key": "bad"}
            ).status_code
            == 401
        )
        ok = httpx.get(f"{live.url}/recommendations", params={"user_id": "u"}, headers={"X-Api-Key": "k2"})
        assert ok.status_code == 200 and len(ok.json()) == 25 and "id" in ok.json()[0]
        assert get(live, user_id="u", api_key="k1").status_code == 200
        preflight = httpx.options(f"{live.url}/recommendations")
        assert (
            preflight.status_code == 204 and "X-Api-Key" in preflight.headers["access-control-allow-headers"]
        )
    finally:
        live.stop()


def test_credentials_guard_the_endpoint_too(tmp_path):
    live = start_server(tmp_path / "data", credentials="AKIDREST:s3cret")
    try:
        assert get(live, user_id="u", campaign="up").status_code == 401
        wrong = httpx.get(
            f"{live.url}/recommendations", params={"user_id": "u", "campaign": "up"}, auth=("AKIDREST", "no")
        )
        assert wrong.status_code == 401 and "s3cret" not in wrong.text
        right = httpx.get(
            f"{live.url}/recommendations",
            params={"user_id": "u", "campaign": "up"},
            auth=("AKIDREST", "s3cret"),
        )
        assert right.status_code == 404  # through the door: that campaign does not exist
    finally:
        live.stop()
