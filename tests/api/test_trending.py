"""aws-trending-now through boto3: no userId needed, no scores, live events move the list."""

from __future__ import annotations

import datetime as dt
import time

from tests.api.helpers import import_csv, make_group, wait_for
from tests.api.test_training import deploy

TRENDING = "arn:aws:personalize:::recipe/aws-trending-now"
END = 1_700_000_000
HOUR = 3600


def write_csv(path):
    """60 users; ten steady items (one event each 6 minutes over 10 hours), a riser (most events
    in the last hour) and a faller (most in the hour before)."""
    lines = ["USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP"]
    n = 0
    for k in range(10):
        for m in range(100):
            lines.append(f"u{n % 60},steady{k},click,{END - m * 360 - k}")
            n += 1
    for m in range(40):
        lines.append(f"u{n % 60},riser,click,{END - m * 60}")
        n += 1
    for m in range(40):
        lines.append(f"u{n % 60},faller,click,{END - HOUR - 60 - m * 60}")
        n += 1
    path.write_text("\n".join(lines) + "\n")
    return path


def test_trending_now_loop(personalize, runtime, events, tmp_path):
    arns = make_group(personalize)
    assert import_csv(personalize, arns["dataset"], write_csv(tmp_path / "t.csv"))["status"] == "ACTIVE"
    solution = personalize.create_solution(
        name="trending",
        datasetGroupArn=arns["group"],
        recipeArn=TRENDING,
        solutionConfig={"featureTransformationParameters": {"trend_discovery_frequency": "1 hour"}},
    )["solutionArn"]
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    done = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=version), "solutionVersion", 120
    )
    assert done["status"] == "ACTIVE", done.get("failureReason")
    campaign = deploy(personalize, version, "trending")

    answer = runtime.get_recommendations(campaignArn=campaign, numResults=5)  # no userId needed
    assert answer["itemList"][0]["itemId"] == "riser"
    assert all("score" not in entry for entry in answer["itemList"])

    tracking = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]
    when = dt.datetime.fromtimestamp(END + 1800, dt.UTC)
    for n in range(60):
        events.put_events(
            trackingId=tracking,
            userId=f"u{n}",
            sessionId=f"s{n}",
            eventList=[{"eventType": "click", "itemId": "faller", "sentAt": when}],
        )
    deadline = time.time() + 10
    while time.time() < deadline:
        top = runtime.get_recommendations(campaignArn=campaign, numResults=3)["itemList"][0]["itemId"]
        if top == "faller":
            break
        time.sleep(0.2)
    assert top == "faller"
