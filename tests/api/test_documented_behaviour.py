"""Documented behaviours pinned so that a small slip in the code fails a test (each was once a
deliberate bug that the whole suite let through)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from openpersonalize.data.event_compaction import compact_event_log
from tests.api.clustered import write_clustered_csv
from tests.api.helpers import import_csv, make_group
from tests.api.test_events import rows
from tests.api.test_training import POPULARITY, SIMS, UP, deploy, train

pytestmark = pytest.mark.integration


@pytest.fixture
def clustered(personalize, tmp_path):
    """The clustered dataset, imported, with each item's number of distinct users."""
    arns = make_group(personalize)
    csv = write_clustered_csv(tmp_path / "clustered.csv")
    _import(personalize, arns["dataset"], csv)
    lines = csv.read_text().splitlines()[1:]
    users_per_item = Counter(item for item, _ in {(line.split(",")[1], line.split(",")[0]) for line in lines})
    return arns, users_per_item


def _import(personalize, dataset, csv):
    done = import_csv(personalize, dataset, csv)
    assert done["status"] == "ACTIVE", done.get("failureReason")


def test_scores_are_a_softmax_over_the_whole_catalogue(personalize, runtime, clustered):
    """Not over the returned top k: an item's score does not depend on numResults."""
    arns, _ = clustered
    _, version = train(personalize, arns["group"], UP, "up")
    campaign = deploy(personalize, version, "up")
    five = runtime.get_recommendations(campaignArn=campaign, userId="g1-user2", numResults=5)["itemList"]
    fifty = runtime.get_recommendations(campaignArn=campaign, userId="g1-user2", numResults=50)["itemList"]
    assert [r["itemId"] for r in five] == [r["itemId"] for r in fifty[:5]]
    for short, long in zip(five, fifty, strict=False):
        assert short["score"] == pytest.approx(long["score"], rel=1e-6)
    assert sum(r["score"] for r in five) < 0.95  # 120 items share the probability mass


@pytest.mark.parametrize("recipe", [UP, SIMS, POPULARITY], ids=["user-personalization", "sims", "popularity"])
def test_cold_requests_get_the_most_popular_items_first(personalize, runtime, clustered, recipe):
    """A user with no history, or an item SIMS never saw, gets the most popular items, most popular first."""
    arns, users_per_item = clustered
    _, version = train(personalize, arns["group"], recipe, "cold")
    campaign = deploy(personalize, version, "cold")
    if recipe == SIMS:
        answer = runtime.get_recommendations(campaignArn=campaign, itemId="never-seen", numResults=10)
    else:
        answer = runtime.get_recommendations(campaignArn=campaign, userId="never-seen", numResults=10)
    popularity = [users_per_item[r["itemId"]] for r in answer["itemList"]]
    assert popularity == sorted(popularity, reverse=True)
    assert popularity[0] == max(users_per_item.values())
    assert set(popularity) <= set(sorted(users_per_item.values(), reverse=True)[:10])


def test_event_value_threshold_leaves_low_value_events_out_of_training(personalize, runtime, tmp_path):
    """Items seen only in events under solutionConfig.eventValueThreshold are not learnt at all."""
    arns = make_group(personalize)
    rng = random.Random(1)
    lines = ["USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,DEVICE,TIMESTAMP"]
    for n in range(3000):
        low = n % 2 == 0  # half the events, on a few very popular items, are worth little
        item = f"cheap{rng.randrange(5)}" if low else f"item{rng.randrange(100)}"
        lines.append(f"u{n % 60},{item},click,{0.1 if low else 0.9},web,{1_700_000_000 + n}")
    csv = tmp_path / "valued.csv"
    csv.write_text("\n".join(lines) + "\n")
    _import(personalize, arns["dataset"], csv)

    def popular_items(name, **config):
        _, version = train(personalize, arns["group"], POPULARITY, name, **config)
        campaign = deploy(personalize, version, name)
        listed = runtime.get_recommendations(campaignArn=campaign, userId="u1", numResults=10)["itemList"]
        return [r["itemId"] for r in listed]

    assert all(i.startswith("cheap") for i in popular_items("all")[:5])
    valued = popular_items("valued", solutionConfig={"eventValueThreshold": "0.5"})
    assert valued and not [i for i in valued if i.startswith("cheap")]


def test_the_first_event_with_an_event_id_wins(server, personalize, events):
    """A repeated eventId is a retry: the first event counts, later ones are dropped, whether the first
    is still in the log or already compacted."""
    arns = make_group(personalize)
    tracking = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]

    def put(item_id, event_id, sent_at):
        event = {"eventType": "click", "itemId": item_id, "sentAt": sent_at, "eventId": event_id}
        events.put_events(trackingId=tracking, userId="u1", sessionId="s", eventList=[event])

    put("first", "e-1", 1_700_000_000)
    put("retry", "e-1", 1_700_000_005)
    assert [r["ITEM_ID"] for r in rows(server, arns["dataset"])] == ["first"]
    put("kept", "e-2", 1_700_000_010)
    server.services.ctx.interactions.seal()
    ctx = server.services.ctx
    compact_event_log(ctx.store, ctx.interactions)
    put("late-retry", "e-2", 1_700_000_020)
    assert [r["ITEM_ID"] for r in rows(server, arns["dataset"])] == ["first", "kept"]
