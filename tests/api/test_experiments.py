"""A/B experiments: users split between variants over GET /recommendations, clicks attributed to the
variant that answered, and a winner called when the difference is clear."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.api.test_filters import build_shop
from tests.api.test_training import deploy
from tests.fixtures.server import start_server

pytestmark = pytest.mark.integration
ROLE = "arn:aws:iam::123456789012:role/personalize"


def test_experiment_splits_users_and_calls_the_winner(tmp_path):
    live = start_server(tmp_path / "data", rest_cache_seconds=0)
    try:
        personalize, events = live.client("personalize"), live.client("personalize-events")
        shop = build_shop(personalize, tmp_path)
        version = personalize.describe_campaign(campaignArn=shop["campaign"])["campaign"][
            "solutionVersionArn"
        ]
        deploy(personalize, version, "up2")
        attribution = personalize.create_metric_attribution(
            name="ab", datasetGroupArn=shop["group"], metricsOutputConfig={"roleArn": ROLE},
            metrics=[{"eventType": "click", "metricName": "CLICKS", "expression": "SAMPLECOUNT()"}],
        )["metricAttributionArn"]  # fmt: skip
        created = httpx.post(f"{live.url}/experiments", json={
            "name": "home", "metricAttributionArn": attribution,
            "variants": [{"name": "a", "campaign": "up", "share": 1}, {"name": "b", "campaign": "up2", "share": 1}],
        })  # fmt: skip
        assert created.status_code == 200, created.text
        seen: dict[str, int] = {"a": 0, "b": 0}
        for n in range(160):
            who = f"visitor-{n}"
            answer = httpx.get(
                f"{live.url}/recommendations", params={"experiment": "home", "user_id": who, "num_results": 3}
            )
            assert answer.status_code == 200, answer.text
            variant = answer.headers["x-variant"]
            again = httpx.get(
                f"{live.url}/recommendations", params={"experiment": "home", "user_id": who, "num_results": 3}
            )
            assert again.headers["x-variant"] == variant  # a user keeps their variant
            seen[variant] += 1
            clicks = seen[variant] % 10 < (6 if variant == "a" else 2)  # a: 60% click-through, b: 20%
            if clicks:
                events.put_events(trackingId=shop["tracking"], userId=who, sessionId=who, eventList=[{
                    "eventType": "click", "itemId": answer.json()[0]["id"], "sentAt": time.time(),
                    "recommendationId": answer.headers["x-recommendation-id"]}])  # fmt: skip
        assert 55 < seen["a"] < 105  # an even split, give or take
        served = {"a": 2.0 * seen["a"], "b": 2.0 * seen["b"]}
        deadline = time.time() + 15  # the servers add their sums every second
        while (report := httpx.get(f"{live.url}/experiments/home").json())["results"]["served"] != served:
            assert time.time() < deadline, report["results"]
            time.sleep(0.2)
        clicks = report["results"]["metrics"]["CLICKS"]
        assert clicks["winner"] == "a"
        low, high = clicks["variants"]["a"]["interval"]
        assert low < clicks["variants"]["a"]["perAnswer"] < high
        assert [e["name"] for e in httpx.get(f"{live.url}/experiments").json()] == ["home"]
        assert httpx.post(f"{live.url}/experiments/home/stop").json()["status"] == "STOPPED"
        stopped = httpx.get(f"{live.url}/recommendations", params={"experiment": "home", "user_id": "x"})
        assert stopped.status_code == 400 and "STOPPED" in stopped.json()["message"]
        bad = httpx.post(
            f"{live.url}/experiments", json={"name": "x", "variants": [{"name": "a", "campaign": "up"}]}
        )
        assert bad.status_code == 400 and "at least two" in bad.json()["message"]
        missing = httpx.post(f"{live.url}/experiments", json={
            "name": "y", "variants": [{"name": "a", "campaign": "up"}, {"name": "b", "campaign": "nope"}]})  # fmt: skip
        assert missing.status_code == 404
    finally:
        live.stop()


def test_experiments_from_the_command_line(tmp_path):
    from tests.test_cli import cli

    live = start_server(tmp_path / "data")
    try:
        personalize = live.client("personalize")
        shop = build_shop(personalize, tmp_path)
        version = personalize.describe_campaign(campaignArn=shop["campaign"])["campaign"][
            "solutionVersionArn"
        ]
        deploy(personalize, version, "up2")
        created = cli(
            live,
            "experiment",
            "create",
            "home",
            "--variant",
            "a=campaign:up",
            "--variant",
            "b=campaign:up2:3",
        )
        assert '"status": "RUNNING"' in created.stdout and '"share": 3.0' in created.stdout
        assert '"served"' in cli(live, "experiment", "show", "home").stdout
        assert '"STOPPED"' in cli(live, "experiment", "stop", "home").stdout
        refused = cli(live, "experiment", "create", "x", "--variant", "a=campaign:up", check=False)
        assert refused.returncode == 3 and "at least two" in refused.stderr
    finally:
        live.stop()
