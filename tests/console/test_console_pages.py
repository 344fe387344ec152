"""The console's pages and forms over plain HTTP: what each page shows, readable errors instead of
stack traces, refused cross-site forms, and the sign-in when the server has credentials."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import quote, unquote

import boto3
import httpx
import pytest

from tests.api.helpers import wait_for
from tests.fixtures.server import start_server

pytestmark = pytest.mark.integration


def get(live, path, **kwargs):
    return httpx.get(f"{live.url}{path}", follow_redirects=True, timeout=30, **kwargs)


def table_cells(page: str) -> dict[str, list[list[str]]]:
    """Each <table id=...>'s rows below its header, as the cells' text."""
    tables = {}
    for name, body in re.findall(r'<table id="([^"]+)">(.*?)</table>', page, re.S):
        rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)[1:]
        tables[name] = [
            [
                html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)
            ]
            for r in rows
        ]
    return tables


def charts_of(page: str) -> list[dict]:
    return [json.loads(html.unescape(c)) for c in re.findall(r'data-chart="([^"]+)"', page)]


def resource(live, arn):
    return get(live, f"/console/resource?arn={quote(arn, safe='')}")


def test_pages_show_the_shop(shop):
    live, arns = shop
    home = get(live, "/console/")
    assert home.status_code == 200 and "dg" in home.text and "Recent jobs" in home.text
    group = resource(live, arns["group"])
    assert group.status_code == 200
    cells = table_cells(group.text)
    campaigns = {row[0]: row[1] for row in cells["campaigns"]}  # name -> its solution version
    assert campaigns["popular"].startswith("solution/popular/") and campaigns["up"].startswith("solution/up/")
    assert ["items", "ITEMS", "ACTIVE", "120"] in cells["datasets"] and [
        "users",
        "USERS",
        "ACTIVE",
        "80",
    ] in cells["datasets"]
    assert [row[0] for row in cells["filters"]] == ["by-color"] and cells["attributions"][0][:2] == [
        "business",
        "CLICKS MARGIN",
    ]
    dataset = resource(live, arns["items"])
    assert "CATEGORY" in dataset.text and "ACTIVE" in dataset.text and "Start import" in dataset.text
    solution = resource(live, arns["solution"])
    assert "data-chart" in solution.text and "Train a new version" in solution.text
    campaign = resource(live, arns["campaign"])
    assert campaign.text.count("data-chart") == 2 and "Try it" in campaign.text
    attribution = resource(live, arns["attribution"])
    assert attribution.text.count("data-chart") == 2 and "MARGIN" in attribution.text
    tracker = live.client("personalize").list_event_trackers(datasetGroupArn=arns["group"])["eventTrackers"][
        0
    ]
    (events,) = charts_of(resource(live, tracker["eventTrackerArn"]).text)
    per_dataset = {d["label"]: sum(d["data"]) for d in events["data"]["datasets"]}
    assert per_dataset["interactions"] >= 10 and per_dataset["items"] == 0  # the fixture's clicks
    jobs = get(live, "/console/jobs")
    assert "Dataset import job" in jobs.text and "Training" in jobs.text
    experiment = get(live, "/console/experiments/home")
    assert experiment.status_code == 200 and "personal" in experiment.text and "data-chart" in experiment.text


def test_try_it_returns_items_with_metadata(shop):
    live, arns = shop
    answer = httpx.post(f"{live.url}/console/try", data={"target": arns["campaign"], "userId": "u0-0",
                        "numResults": "4", "filterArn": arns["filter"], "filterValues": "COLOR=red"},
                        headers={"HX-Request": "true"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.text.count("<tr>") == 5 and "red" in answer.text and "blue" not in answer.text
    ranked = httpx.post(f"{live.url}/console/try", data={"target": arns["campaign"], "userId": "u0-0",
                        "inputList": "i0-1, i3-2"}, headers={"HX-Request": "true"})  # fmt: skip
    assert ranked.status_code == 400 and "InvalidInputException" in ranked.text  # not a ranking campaign


def test_bad_input_reads_as_a_message(shop):
    live, arns = shop
    missing = resource(live, arns["campaign"] + "-gone")
    assert missing.status_code == 404 and "does not exist" in missing.text and "Traceback" not in missing.text
    nonsense = get(live, "/console/resource?arn=not-an-arn")
    assert nonsense.status_code == 404 and "<h1>ResourceNotFoundException</h1>" in nonsense.text
    no_user = httpx.post(
        f"{live.url}/console/try", data={"target": arns["campaign"]}, headers={"HX-Request": "true"}
    )
    assert no_user.status_code == 400 and "Give a user, an item, or both." in no_user.text
    bad_name = httpx.post(f"{live.url}/console/deploy", data={
        "from": arns["solution"] + "/x", "solutionVersionArn": arns["solution"] + "/nope", "name": "bad name"})  # fmt: skip
    assert bad_name.status_code in (400, 404) and "Traceback" not in bad_name.text
    bad_import = httpx.post(f"{live.url}/console/import", data={
        "from": arns["items"], "datasetArn": arns["items"], "jobName": "x", "dataLocation": "s3:/nope"})  # fmt: skip
    assert bad_import.status_code == 400 and "dataLocation" in bad_import.text
    assert 'value="s3:/nope"' in bad_import.text  # what was typed stays in the form
    bad_experiment = httpx.post(
        f"{live.url}/console/experiments", data={"name": "solo", "variant1": arns["campaign"]}
    )
    assert bad_experiment.status_code == 400 and "at least two variants" in bad_experiment.text


def test_forms_from_other_sites_are_refused(shop):
    live, arns = shop
    refused = httpx.post(f"{live.url}/console/delete", data={"arn": arns["filter"]},
                         headers={"Origin": "https://evil.example"})  # fmt: skip
    assert refused.status_code == 403
    assert resource(live, arns["filter"]).status_code == 200  # still there


def test_sign_in_when_the_server_has_credentials(tmp_path):
    live = start_server(tmp_path / "data", with_worker=False,
                        credentials="AKIDCONSOLE:console-secret:111111111111,AKIDOTHER:other-secret:222222222222")  # fmt: skip
    try:
        first = httpx.get(f"{live.url}/console/jobs")
        assert first.status_code == 303 and first.headers["location"] == "/console/login?next=/console/jobs"
        wrong = httpx.post(f"{live.url}/console/login?next=/console/jobs",
                           data={"accessKeyId": "AKIDCONSOLE", "secretAccessKey": "guess"})  # fmt: skip
        assert (
            wrong.status_code == 401 and "do not match" in wrong.text and "console-secret" not in wrong.text
        )
        with httpx.Client(base_url=live.url) as browser:
            signed = browser.post("/console/login?next=/console/jobs",
                                  data={"accessKeyId": "AKIDCONSOLE", "secretAccessKey": "console-secret"})  # fmt: skip
            assert signed.status_code == 303 and signed.headers["location"] == "/console/jobs"
            assert "console-secret" not in signed.headers["set-cookie"]
            assert browser.get("/console/jobs").status_code == 200
            browser.post("/console/logout")
            assert browser.get("/console/jobs").status_code == 303
        forged = httpx.get(
            f"{live.url}/console/jobs", cookies={"openpersonalize_console": "AKIDCONSOLE.9999999999.00"}
        )
        assert forged.status_code == 303
        # Each key sees its own account's resources only.
        owner = boto3.client("personalize", endpoint_url=live.url, region_name="us-east-1",
                             aws_access_key_id="AKIDCONSOLE", aws_secret_access_key="console-secret")  # fmt: skip
        group = owner.create_dataset_group(name="private")["datasetGroupArn"]
        as_owner, as_other = ("AKIDCONSOLE", "console-secret"), ("AKIDOTHER", "other-secret")
        assert "private" in httpx.get(f"{live.url}/console/", auth=as_owner).text
        assert "private" not in httpx.get(f"{live.url}/console/", auth=as_other).text
        peek = httpx.get(f"{live.url}/console/resource", params={"arn": group}, auth=as_other)
        assert peek.status_code == 404
        refused = httpx.post(f"{live.url}/console/delete", data={"arn": group}, auth=as_other)
        assert (
            refused.status_code == 403 and "AccessDenied" in refused.text
        )  # as the API answers a foreign ARN
        assert owner.describe_dataset_group(datasetGroupArn=group)["datasetGroup"]["name"] == "private"
    finally:
        live.stop()


def test_an_experiment_stopped_from_the_console_stops_answering(shop):
    live, arns = shop
    made = httpx.post(f"{live.url}/console/experiments", data={
        "name": "short", "variant1": arns["campaign"], "variant2": arns["popular"]})  # fmt: skip
    assert made.status_code == 303 and made.headers["location"] == "/console/experiments/short"
    asked = {"experiment": "short", "user_id": "someone"}
    assert httpx.get(f"{live.url}/recommendations", params=asked).status_code == 200
    assert httpx.post(f"{live.url}/console/experiments/short/stop").status_code == 303
    stopped = httpx.get(f"{live.url}/recommendations", params=asked)  # at once, not a second later
    assert stopped.status_code == 400 and "STOPPED" in stopped.json()["message"]
    assert httpx.post(f"{live.url}/console/experiments/short/delete").status_code == 303
    assert get(live, "/console/experiments/short").status_code == 404


def test_solutions_filters_and_trackers_from_the_group_page(shop):
    live, arns = shop
    page = resource(live, arns["group"]).text
    assert 'id="solution-form"' in page and "aws-similar-items" in page
    assert 'id="tracker-form"' not in page  # the group has its tracker already
    bad = httpx.post(f"{live.url}/console/filters", data={
        "from": arns["group"], "datasetGroupArn": arns["group"], "name": "broken",
        "filterExpression": "EXCLUDE ItemID WHERE Items.NOPE IN (\"x\")"})  # fmt: skip
    assert bad.status_code == 400 and "InvalidInputException" in bad.text and "NOPE" in bad.text
    assert "EXCLUDE ItemID WHERE Items.NOPE" in bad.text  # kept in the form
    made = httpx.post(f"{live.url}/console/filters", data={
        "from": arns["group"], "datasetGroupArn": arns["group"], "name": "cheap",
        "filterExpression": "INCLUDE ItemID WHERE Items.PRICE < 5"})  # fmt: skip
    assert made.status_code == 303 and made.headers["location"].endswith("filter%2Fcheap")
    solution = httpx.post(f"{live.url}/console/solutions", data={
        "from": arns["group"], "datasetGroupArn": arns["group"], "name": "similar",
        "recipeArn": "arn:aws:personalize:::recipe/aws-similar-items"})  # fmt: skip
    assert solution.status_code == 303 and solution.headers["location"].endswith("solution%2Fsimilar")
    personalize = live.client("personalize")
    assert personalize.describe_filter(filterArn=arns["filter"].replace("by-color", "cheap"))["filter"][
        "status"
    ]
    personalize.delete_filter(filterArn=arns["filter"].replace("by-color", "cheap"))
    personalize.delete_solution(solutionArn=arns["solution"].replace("/up", "/similar"))


def test_deleting_a_dataset_group_goes_home(shop):
    live, _ = shop
    group = live.client("personalize").create_dataset_group(name="short-lived")["datasetGroupArn"]
    gone = httpx.post(f"{live.url}/console/delete", data={"arn": group})
    assert gone.status_code == 303 and gone.headers["location"] == "/console/"
    assert "short-lived" not in get(live, "/console/").text


def test_an_experiment_needs_a_metric_attribution_to_measure_it(shop):
    live, arns = shop
    wrong = httpx.post(f"{live.url}/console/experiments", data={
        "name": "mismeasured", "variant1": arns["campaign"], "variant2": arns["popular"],
        "metricAttributionArn": arns["campaign"]})  # fmt: skip
    assert wrong.status_code == 400 and "ResourceNotFoundException: metricAttributionArn" in wrong.text
    assert get(live, "/console/experiments/mismeasured").status_code == 404
    by_api = httpx.post(f"{live.url}/experiments", json={"name": "mismeasured", "metricAttributionArn": arns["campaign"],
                        "variants": [{"name": "a", "campaign": "up"}, {"name": "b", "campaign": "popular"}]})  # fmt: skip
    assert by_api.status_code == 404


def test_rest_answers_count_in_the_traffic_charts_and_metrics(shop):
    live, arns = shop
    requests, _ = charts_of(resource(live, arns["popular"]).text)  # only GET /recommendations asked it
    assert sum(requests["data"]["datasets"][0]["data"]) >= 10
    scraped = httpx.get(f"{live.url}/metrics").text  # and in Prometheus' per-source histogram
    counted = re.search(
        rf'openpersonalize_recommendation_seconds_count{{source="{arns["popular"]}"}} (\S+)', scraped
    )
    assert counted is not None and float(counted.group(1)) >= 10
    assert 'openpersonalize_request_seconds_count{operation="GET /recommendations",outcome="ok"}' in scraped


def test_a_batch_job_from_a_version_page(shop):
    live, arns = shop
    version = live.client("personalize").describe_campaign(campaignArn=arns["campaign"])["campaign"][
        "solutionVersionArn"
    ]
    folder = live.settings.data_dir.parent / "console-batch"
    folder.mkdir(exist_ok=True)
    (folder / "users.json").write_text('{"userId": "u0-1"}\n{"userId": "u2-3"}\n')
    started = httpx.post(f"{live.url}/console/batch-inference", data={
        "from": version, "solutionVersionArn": version, "jobName": "from-console",
        "inputPath": (folder / "users.json").as_uri(), "outputPath": (folder / "out").as_uri() + "/",
        "numResults": "5", "filterArn": arns["filter"]})  # fmt: skip
    assert started.status_code == 303 and started.headers["location"].endswith(
        "batch-inference-job%2Ffrom-console"
    )
    done = wait_for(lambda: live.client("personalize").describe_batch_inference_job(
        batchInferenceJobArn=unquote(started.headers["location"].rsplit("arn=", 1)[1])), "batchInferenceJob", timeout=60)  # fmt: skip
    assert done["status"] == "ACTIVE" and done["numResults"] == 5 and done["filterArn"] == arns["filter"]
    lines = (folder / "out" / "users.json.out").read_text().splitlines()
    assert len(lines) == 2
    assert "from-console" in resource(live, version).text  # listed on the version's page
    outside = httpx.post(f"{live.url}/console/batch-inference", data={
        "from": version, "solutionVersionArn": version, "jobName": "outside",
        "inputPath": "file:///etc/passwd", "outputPath": (folder / "out").as_uri() + "/"})  # fmt: skip
    assert outside.status_code in (400, 403) and "is outside the file roots" in outside.text
