"""The console in a real browser (Debian's Chromium, headless, driven by playwright): the main
flows clicked through, charts drawn, forms checked before they are sent, deletion confirmed.
Each test saves a screenshot (test-artifacts/console/, or CONSOLE_SCREENSHOTS)."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

import pytest

from tests.api.helpers import wait_for
from tests.console.conftest import screenshot

pytestmark = pytest.mark.integration

DRAWN = """(canvas) => {
  const chart = Chart.getChart(canvas);
  if (!chart) return 0;
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
  return inked;
}"""


def charts_drawn(page, at_least: int) -> list[dict]:
    """Wait for the page's charts; each one's datasets (label, points) as Chart.js holds them."""
    page.wait_for_function(f"document.querySelectorAll('canvas[data-drawn]').length >= {at_least}")
    canvases = page.locator("canvas[data-drawn]")
    found = []
    for index in range(canvases.count()):
        canvas = canvases.nth(index)
        assert canvas.evaluate(DRAWN) > 500, "the chart's canvas is blank"
        found.append(
            canvas.evaluate("c => Chart.getChart(c).data.datasets.map(d => ({label: d.label, data: d.data}))")
        )
    return found


def open_resource(page, live, arn):
    page.goto(f"{live.url}/console/resource?arn={quote(arn, safe='')}")


def test_browse_from_the_groups_to_a_dataset(shop, page):
    live, arns = shop
    page.goto(f"{live.url}/console/")
    screenshot(page, "home")
    page.get_by_role("link", name="dg", exact=True).click()
    page.wait_for_selector("table#datasets")
    rows = page.locator("table#datasets tr").all_inner_texts()
    assert any("ITEMS" in row and "120" in row for row in rows)
    screenshot(page, "dataset-group")
    page.locator("table#datasets").get_by_role("link", name="items").click()
    assert page.locator("table#schema").inner_text().count("CATEGORY") == 1
    assert "ACTIVE" in page.locator("table#imports").inner_text()
    screenshot(page, "dataset")


def test_solution_versions_are_charted_and_a_new_one_trains(shop, page):
    live, arns = shop
    open_resource(page, live, arns["solution"])
    (versions,) = charts_drawn(page, 1)
    assert len(versions) == 1 and all(v is not None for v in versions[0]["data"])
    page.locator("#train-form button").click()
    page.wait_for_url(re.compile(r".*solution%2Fup%2F[0-9a-f]{8}$"))
    assert "Solution version" in page.locator("h1").inner_text()
    version = unquote(page.url.rsplit("arn=", 1)[1])
    wait_for(lambda: live.client("personalize").describe_solution_version(solutionVersionArn=version),
             "solutionVersion", timeout=120)  # fmt: skip
    open_resource(page, live, arns["solution"])
    (versions,) = charts_drawn(page, 1)
    assert len(versions) == 2  # the two versions side by side
    assert page.locator("table#versions tr").count() == 3
    screenshot(page, "solution")


def test_deploy_checks_the_name_before_sending(shop, page):
    live, arns = shop
    version = live.client("personalize").describe_campaign(campaignArn=arns["campaign"])["campaign"][
        "solutionVersionArn"
    ]
    open_resource(page, live, version)
    page.fill("#deploy-form input[name=name]", "not a name")
    page.click("#deploy-form button")
    assert page.locator("#deploy-form input[name=name]").evaluate("e => e.validity.patternMismatch")
    assert "/console/resource" in page.url and "solution%2Fup%2F" in page.url  # nothing was sent
    page.fill("#deploy-form input[name=name]", "from-console")
    page.click("#deploy-form button")
    page.wait_for_url(re.compile(r".*campaign%2Ffrom-console$"))
    assert charts_drawn(page, 2)


def test_campaign_traffic_is_charted(shop, page):
    live, arns = shop
    open_resource(page, live, arns["campaign"])
    requests, latency = charts_drawn(page, 2)
    assert sum(v or 0 for v in requests[0]["data"]) >= 5  # the fixture's GetRecommendations calls
    assert {d["label"] for d in latency} == {"mean", "p99"}
    screenshot(page, "campaign")


def test_try_it_shows_items_with_their_metadata(shop, page):
    live, arns = shop
    page.goto(f"{live.url}/console/try")
    page.select_option("#target", arns["campaign"])
    page.fill("#userId", "u1-3")
    page.select_option("#filterArn", arns["filter"])
    page.fill("#filterValues", "COLOR=blue")
    page.fill("#numResults", "5")
    page.click("#ask")
    page.wait_for_selector("table#items")
    table = page.locator("table#items")
    assert table.locator("tr").count() == 6
    header = table.locator("tr").first.inner_text()
    assert "CATEGORY" in header and "PRICE" in header
    assert table.inner_text().count("blue") == 5
    screenshot(page, "try-it")
    page.fill("#userId", "")
    page.click("#ask")
    page.wait_for_selector("#answer .error")
    assert "Give a user, an item, or both." in page.locator("#answer").inner_text()


def test_metric_attribution_compares_sources_over_time(shop, page):
    live, arns = shop
    open_resource(page, live, arns["attribution"])
    clicks, margin = charts_drawn(page, 2)
    assert {d["label"] for d in clicks} == {"up", "popular"}
    assert sum(clicks[0]["data"]) + sum(clicks[1]["data"]) > 0
    screenshot(page, "metric-attribution")


def test_experiment_results_and_a_new_experiment(shop, page):
    live, arns = shop
    page.goto(f"{live.url}/console/experiments/home")
    clicks, margin = charts_drawn(page, 2)
    labels = {d["label"] for d in clicks}  # click-through per variant, with its 95% interval
    assert {"personal", "popular", "personal 95% low", "popular 95% high"} <= labels
    assert {d["label"] for d in margin} == {"personal", "popular"}  # a sum: no interval
    assert page.locator("table#served").inner_text().count("popular") >= 1
    screenshot(page, "experiment")
    page.goto(f"{live.url}/console/experiments")
    page.fill("#name", "from-console")
    page.select_option("#variant1", arns["campaign"])
    page.select_option("#variant2", arns["popular"])
    page.fill("input[name=variant1Name]", "left")
    page.fill("input[name=variant2Name]", "right")
    page.select_option("#metricAttributionArn", arns["attribution"])
    page.click("#experiment-form button")
    page.wait_for_url(re.compile(r".*/console/experiments/from-console$"))
    assert "left" in page.locator("table#served").inner_text()


def test_delete_asks_for_confirmation(shop, page):
    live, arns = shop
    doomed = live.client("personalize").create_filter(
        name="doomed",
        datasetGroupArn=arns["group"],
        filterExpression='EXCLUDE ItemID WHERE Items.COLOR IN ("red")',
    )["filterArn"]
    open_resource(page, live, doomed)
    page.click("#delete")
    assert page.locator("h1").inner_text() == "Delete filter doomed?"
    page.get_by_role("button", name="Cancel").click()
    assert "Filter doomed" in page.locator("h1").inner_text()
    page.click("#delete")
    page.click("#confirm-delete")
    page.wait_for_selector("table#filters")
    assert "doomed" not in page.locator("table#filters").inner_text()
    assert "by-color" in page.locator("table#filters").inner_text()


def test_jobs_show_status_and_refresh(shop, page):
    live, arns = shop
    page.goto(f"{live.url}/console/jobs")
    table = page.locator("table#jobs")
    assert "Dataset import job" in table.inner_text() and "Training" in table.inner_text()
    with page.expect_response(
        lambda r: r.url.endswith("/console/jobs") and r.request.headers.get("hx-request") == "true",
        timeout=15000,
    ):
        pass  # htmx asks again within 5 seconds
    screenshot(page, "jobs")
