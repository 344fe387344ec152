"""A served shop for the console tests: the `shop` dataset group (interactions, items, users, an
event tracker) with two campaigns, a filter, a metric attribution with attributed traffic, and an
experiment between the campaigns; and a headless Chromium (Debian's) driven by playwright."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_filters import build_shop, make_filter
from tests.api.test_training import POPULARITY, deploy, train
from tests.fixtures.requirements import REPO, missing
from tests.fixtures.server import LiveServer, start_server

ROLE = "arn:aws:iam::123456789012:role/personalize"
# Screenshots: test artifacts by default; CONSOLE_SCREENSHOTS=docs/images refreshes the docs' ones.
SCREENSHOTS = Path(os.environ.get("CONSOLE_SCREENSHOTS") or REPO / "test-artifacts" / "console")


@pytest.fixture(scope="package")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, Any]]]:
    where = tmp_path_factory.mktemp("console")
    live = start_server(where / "data", rest_cache_seconds=0, min_import_interactions=10)
    try:
        personalize = live.client("personalize")
        arns = build_shop(personalize, where)
        arns["solution"] = personalize.describe_campaign(campaignArn=arns["campaign"])["campaign"]["solutionVersionArn"].rsplit("/", 1)[0]  # fmt: skip
        _, popular = train(personalize, arns["group"], POPULARITY, "popular")
        arns["popular"] = deploy(personalize, popular, "popular")
        arns["filter"] = make_filter(
            personalize, arns, "INCLUDE ItemID WHERE Items.COLOR IN ($COLOR)", "by-color"
        )
        arns["attribution"] = personalize.create_metric_attribution(
            name="business", datasetGroupArn=arns["group"], metricsOutputConfig={"roleArn": ROLE},
            metrics=[{"eventType": "click", "metricName": "CLICKS", "expression": "SAMPLECOUNT()"},
                     {"eventType": "click", "metricName": "MARGIN", "expression": "SUM(Items.PRICE)"}],
        )["metricAttributionArn"]  # fmt: skip
        created = httpx.post(f"{live.url}/experiments", json={
            "name": "home", "metricAttributionArn": arns["attribution"],
            "variants": [{"name": "personal", "campaign": "up"}, {"name": "popular", "campaign": "popular"}],
        })  # fmt: skip
        assert created.status_code == 200, created.text
        _traffic(live, arns)
        yield live, arns
    finally:
        live.stop()


def _traffic(live: LiveServer, arns: dict[str, Any]) -> None:
    """Visitors answered through the experiment; the personal variant's answers get more clicks.
    The clicks are spread over the last three hours (sentAt), so the series have several windows."""
    events = live.client("personalize-events")
    now = time.time()
    for n in range(60):
        who = f"visitor-{n}"
        answer = httpx.get(f"{live.url}/recommendations",
                           params={"experiment": "home", "user_id": who, "num_results": 3})  # fmt: skip
        assert answer.status_code == 200, answer.text
        if n % 10 < (7 if answer.headers["x-variant"] == "personal" else 2):
            events.put_events(trackingId=arns["tracking"], userId=who, sessionId=who, eventList=[{
                "eventType": "click", "itemId": answer.json()[0]["id"], "sentAt": now - (60 - n) * 180,
                "recommendationId": answer.headers["x-recommendation-id"]}])  # fmt: skip
    runtime = live.client("personalize-runtime")
    for n in range(5):
        runtime.get_recommendations(campaignArn=arns["campaign"], userId=f"visitor-{n}")
    time.sleep(1.5)  # the server adds its attribution sums every second


def chromium_path() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        missing("Chromium is not installed (Debian package `chromium`; .ci/run installs it)")
    return str(found)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed (pip install -e '.[test]')")
    path = chromium_path()
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"console-{name}.png"), full_page=True)
