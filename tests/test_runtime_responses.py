"""GetRecommendations / GetPersonalizedRanking answers, pinned exactly (README "Runtime", spec §15),
and the top-k / softmax helpers behind them (serving/scoring.py)."""

from __future__ import annotations

import random
import re
import time
from collections import Counter

import numpy as np
import pytest
from botocore.exceptions import ClientError

from openpersonalize.serving.scoring import Background, softmax_at, top_k
from tests.api.clustered import group_of, item, user
from tests.api.helpers import make_group, wait_for
from tests.api.test_training import POPULARITY, RANKING, SIMS, UP, deploy, loaded, train

integration = pytest.mark.integration
_ = loaded  # the fixture: a dataset group with the clustered interactions imported, and a tracker
RECOMMENDATION_ID = re.compile(r"RID-[0-9a-f]{32}")


def refusal(call, **params) -> tuple[str, str | None]:
    """(error code, message) a runtime call is refused with."""
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response["Error"]
    return error["Code"], error.get("Message")


def own_arn(server, runtime, kind: str, name: str) -> str:
    """An ARN of the caller's own account and region (so only its existence is in question)."""
    return f"arn:aws:personalize:{runtime.meta.region_name}:{server.settings.account_id}:{kind}/{name}"


def users_per_item(csv) -> Counter:
    """Popularity as the models count it: distinct users per item."""
    pairs = {tuple(line.split(",")[:2]) for line in csv.read_text().splitlines()[1:]}
    return Counter(item_id for _, item_id in pairs)


# -- request checks made before any model is consulted --------------------------------------------


@integration
def test_campaign_or_recommender_arn_exactly_one(server, runtime):
    """Exactly one of campaignArn / recommenderArn; recommenders and unknown campaigns do not exist."""
    campaign = own_arn(server, runtime, "campaign", "none")
    recommender = own_arn(server, runtime, "recommender", "none")
    both = refusal(runtime.get_recommendations, campaignArn=campaign, recommenderArn=recommender, userId="u")
    assert both == ("InvalidInputException", "Give either campaignArn or recommenderArn, not both.")
    neither = refusal(runtime.get_recommendations, userId="u")
    assert neither == ("InvalidInputException", "campaignArn (or recommenderArn) is required.")
    assert refusal(runtime.get_recommendations, recommenderArn=recommender, userId="u") == (
        "ResourceNotFoundException",
        f"Resource Arn {recommender} does not exist.",
    )
    assert refusal(runtime.get_recommendations, campaignArn=campaign, userId="u") == (
        "ResourceNotFoundException",
        f"Resource Arn {campaign} does not exist.",
    )


@integration
def test_num_results_above_500_is_refused(server, runtime):
    """numResults may be at most 500."""
    campaign = own_arn(server, runtime, "campaign", "none")
    assert refusal(runtime.get_recommendations, campaignArn=campaign, userId="u", numResults=501) == (
        "InvalidInputException",
        "numResults must be at most 500; got 501.",
    )
    assert refusal(
        runtime.get_recommendations,
        campaignArn=campaign,
        userId="u",
        numResults=51,
        metadataColumns={"ITEMS": ["GENRES"]},
    ) == ("InvalidInputException", "numResults must be at most 50 when metadataColumns is given; got 51.")


# -- GetRecommendations ---------------------------------------------------------------------------


@integration
def test_user_personalization_answers(personalize, runtime, loaded, tmp_path):
    """numResults 0..500 (all of a smaller catalogue), scores for cold users too, a RID- id, userId
    required, and GetPersonalizedRanking refused."""
    _, version = train(personalize, loaded["group"], UP, "up")
    campaign = deploy(personalize, version, "up")
    everything = runtime.get_recommendations(campaignArn=campaign, userId=user(1, 1), numResults=500)
    assert len(everything["itemList"]) == len(users_per_item(tmp_path / "clustered.csv"))
    assert sum(r["score"] for r in everything["itemList"]) == pytest.approx(1.0, rel=1e-4)
    none = runtime.get_recommendations(campaignArn=campaign, userId=user(1, 1), numResults=0)
    assert none["itemList"] == []
    assert RECOMMENDATION_ID.fullmatch(everything["recommendationId"])

    cold = runtime.get_recommendations(campaignArn=campaign, userId="never-seen")["itemList"]
    scores = [r["score"] for r in cold]
    assert len(cold) == 25 and scores == sorted(scores, reverse=True) and 0 < sum(scores) < 1

    assert refusal(runtime.get_recommendations, campaignArn=campaign) == (
        "InvalidInputException",
        f"userId is required for campaign {campaign}.",
    )
    assert refusal(runtime.get_personalized_ranking, campaignArn=campaign, userId="u", inputList=["a"]) == (
        "InvalidInputException",
        f"Campaign {campaign} does not use a PERSONALIZED_RANKING recipe; call GetRecommendations.",
    )


@integration
def test_a_campaign_that_is_not_active_is_refused(server, personalize, runtime, loaded):
    """Only an ACTIVE campaign answers (spec §15: InvalidInputException otherwise)."""
    _, version = train(personalize, loaded["group"], UP, "up")
    campaign = deploy(personalize, version, "up")
    server.services.ctx.store.update(campaign, status="CREATE PENDING")
    assert refusal(runtime.get_recommendations, campaignArn=campaign, userId="u") == (
        "InvalidInputException",
        f"Campaign {campaign} is not ACTIVE (status: CREATE PENDING).",
    )


@integration
def test_related_items_answers(personalize, runtime, loaded):
    """SIMS: exactly numResults items, never the queried item, no scores; itemId required."""
    _, version = train(personalize, loaded["group"], SIMS, "sims")
    campaign = deploy(personalize, version, "sims")
    related = runtime.get_recommendations(campaignArn=campaign, itemId=item(2, 3), numResults=10)
    ids = [r["itemId"] for r in related["itemList"]]
    assert len(ids) == 10 and item(2, 3) not in ids
    assert all(set(r) == {"itemId"} for r in related["itemList"])
    assert RECOMMENDATION_ID.fullmatch(related["recommendationId"])
    assert refusal(runtime.get_recommendations, campaignArn=campaign, userId="u") == (
        "InvalidInputException",
        f"itemId is required for campaign {campaign} (a RELATED_ITEMS recipe).",
    )


@integration
def test_popularity_needs_no_user(personalize, runtime, loaded):
    """aws-popularity-count answers without a userId: the same unscored list everyone gets."""
    _, version = train(personalize, loaded["group"], POPULARITY, "pop")
    campaign = deploy(personalize, version, "pop")
    anonymous = runtime.get_recommendations(campaignArn=campaign, numResults=10)["itemList"]
    someone = runtime.get_recommendations(campaignArn=campaign, userId=user(0, 0), numResults=10)["itemList"]
    assert anonymous == someone
    assert len(anonymous) == 10 and all(set(r) == {"itemId"} for r in anonymous)


# -- GetPersonalizedRanking -----------------------------------------------------------------------


@integration
def test_personalized_ranking_answers(personalize, runtime, loaded, tmp_path):
    """Up to 500 distinct items (duplicates count once), unknown ones last without a score, equal
    scores in inputList order; GetRecommendations refused naming GetPersonalizedRanking."""
    _, version = train(personalize, loaded["group"], RANKING, "ranking")
    campaign = deploy(personalize, version, "ranking")
    assert refusal(runtime.get_recommendations, campaignArn=campaign, userId=user(0, 0)) == (
        "InvalidInputException",
        f"Campaign {campaign} uses a PERSONALIZED_RANKING recipe; call GetPersonalizedRanking.",
    )

    popularity = users_per_item(tmp_path / "clustered.csv")
    known = sorted(popularity)
    random.Random(5).shuffle(known)
    unknown = [f"new-{n}" for n in range(500 - len(known))]
    inputs = unknown[:40] + known + unknown[40:]
    # A user without history gets the popularity ranking: many equal scores, kept in inputList order.
    answer = runtime.get_personalized_ranking(campaignArn=campaign, userId="never-seen", inputList=inputs)
    ranking = answer["personalizedRanking"]
    assert [r["itemId"] for r in ranking] == sorted(known, key=lambda i: -popularity[i]) + unknown
    assert all("score" in r for r in ranking[: len(known)])
    assert all(set(r) == {"itemId"} for r in ranking[len(known) :])
    assert RECOMMENDATION_ID.fullmatch(answer["recommendationId"])

    with_duplicate = runtime.get_personalized_ranking(
        campaignArn=campaign, userId="never-seen", inputList=[*inputs, known[0]]
    )
    assert len(with_duplicate["personalizedRanking"]) == 500
    assert refusal(
        runtime.get_personalized_ranking, campaignArn=campaign, userId="u", inputList=[*inputs, "one-more"]
    ) == ("InvalidInputException", "inputList can hold at most 500 items; got 501.")


# -- which model and which history answer ---------------------------------------------------------


@integration
def test_live_events_extend_the_trained_history(personalize, runtime, events, loaded):
    """Only events after training are added to a user's history (in their own dataset group);
    those training saw keep their place in time."""
    tracking = loaded["tracking"]

    def put(user_id, items, sent_at):
        event_list = [{"eventType": "click", "itemId": i, "sentAt": sent_at} for i in items]
        events.put_events(trackingId=tracking, userId=user_id, sessionId=user_id, eventList=event_list)

    now = time.time()
    # Sent in this order, but group 2 happened first: after training, group 1 is the latest taste.
    put("drifter", [item(1, i) for i in range(5)], now)
    put("drifter", [item(2, i) for i in range(5)], now - 3600)
    _, version = train(personalize, loaded["group"], UP, "up")
    campaign = deploy(personalize, version, "up")
    make_group(personalize, "decoy")  # another group's Interactions dataset, newer than ours

    drifter = runtime.get_recommendations(campaignArn=campaign, userId="drifter", numResults=10)
    groups = [group_of(r["itemId"]) for r in drifter["itemList"]]
    assert groups.count(1) > groups.count(2)

    put("newcomer", [item(3, i) for i in range(5)], time.time())
    newcomer = runtime.get_recommendations(campaignArn=campaign, userId="newcomer", numResults=10)
    assert [group_of(r["itemId"]) for r in newcomer["itemList"]].count(3) >= 8
    # PutEvents accepts the recommendationId to attribute the click.
    clicked = {"eventType": "click", "itemId": item(3, 9), "sentAt": time.time()}
    clicked["recommendationId"] = newcomer["recommendationId"]
    events.put_events(trackingId=tracking, userId="newcomer", sessionId="s", eventList=[clicked])


@integration
def test_latest_campaign_serves_its_own_newest_active_version(personalize, runtime, loaded):
    """A `$LATEST` campaign: not another solution's newer version, nor one still training."""
    solution, _ = train(personalize, loaded["group"], UP, "up")
    campaign = personalize.create_campaign(
        name="latest",
        solutionVersionArn=f"{solution}/$LATEST",
        campaignConfig={"syncWithLatestSolutionVersion": True},
    )["campaignArn"]
    wait_for(lambda: personalize.describe_campaign(campaignArn=campaign), "campaign")
    train(personalize, loaded["group"], POPULARITY, "other")  # unscored, so it would show
    listed = runtime.get_recommendations(campaignArn=campaign, userId=user(0, 0))["itemList"]
    assert len(listed) == 25 and all("score" in r for r in listed)

    personalize.create_solution_version(solutionArn=solution)  # newer, but not ACTIVE yet
    listed = runtime.get_recommendations(campaignArn=campaign, userId=user(0, 0))["itemList"]
    assert len(listed) == 25 and all("score" in r for r in listed)


@integration
def test_big_catalogues_are_scored_like_small_ones(personalize, runtime, tmp_path):
    """Over 20,000 items (item-kNN, scored sparsely): the same softmax scores, best first."""
    arns = make_group(personalize)
    lines = ["USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,DEVICE,TIMESTAMP"]
    for n in range(24_000):  # 400 users x 60 consecutive items: every one of 20,500 items is seen
        lines.append(f"u{n // 60},i{n % 20_500},click,,web,{1_700_000_000 + n}")
    csv = tmp_path / "big.csv"
    csv.write_text("\n".join(lines) + "\n")
    job = personalize.create_dataset_import_job(
        jobName="big", datasetArn=arns["dataset"], dataSource={"dataLocation": csv.as_uri()}
    )["datasetImportJobArn"]
    wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job), "datasetImportJob")
    _, version = train(personalize, arns["group"], UP, "big")
    campaign = deploy(personalize, version, "big")
    five = runtime.get_recommendations(campaignArn=campaign, userId="u7", numResults=5)["itemList"]
    fifty = runtime.get_recommendations(campaignArn=campaign, userId="u7", numResults=50)["itemList"]
    assert [r["itemId"] for r in five] == [r["itemId"] for r in fifty[:5]]
    scores = [r["score"] for r in fifty]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) < 1
    assert [r["score"] for r in five] == pytest.approx(scores[:5], rel=1e-6)


# -- top_k ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, -3])
def test_top_k_of_nothing_is_an_empty_index_array(k):
    """k <= 0 gives no items."""
    scores = np.array([0.3, 0.1, 0.2], np.float32)
    assert scores[top_k(scores, k)].tolist() == []  # still usable as indices


def test_top_k_sizes():
    """k = 1 gives the best; k beyond the catalogue gives every finite score; none from nothing."""
    scores = np.array([0.2, 0.9, -np.inf, 0.5], np.float32)
    assert top_k(scores, 1).tolist() == [1]
    assert top_k(scores, 10).tolist() == [1, 3, 0]
    assert top_k(np.empty(0, np.float32), 5).tolist() == []


def test_nan_never_takes_a_slot():
    """NaN is never recommended, and k finite items still come back."""
    scores = np.array([np.nan, 0.5, 0.9, np.nan, 0.1], np.float32)
    assert top_k(scores, 2).tolist() == [2, 1]


# -- softmax_at and Background --------------------------------------------------------------------


def test_softmax_at_nothing_chosen_is_empty():
    """No chosen items, no scores."""
    assert softmax_at(np.array([0.1, 0.2], np.float32), np.empty(0, np.int64)) == []
    assert softmax_at(np.empty(0, np.float32), np.empty(0, np.int64)) == []


@pytest.mark.parametrize("chosen", [[2, 0, 3], [3, 2], [1, 2]], ids=["best-first", "any-order", "minus-inf"])
def test_softmax_at_normalises_over_all_finite_candidates(chosen):
    """Whatever is chosen (in any order, -inf included), its score is the dense softmax's."""
    scores = np.array([1.0, -np.inf, 3.0, 0.5], np.float32)
    dense = np.exp(np.array([1.0, -np.inf, 3.0, 0.5]))
    dense /= dense.sum()
    assert softmax_at(scores, np.array(chosen)) == pytest.approx(dense[chosen].tolist(), rel=1e-6)


def test_softmax_at_stays_exact_for_far_apart_scores():
    """Scores far apart (float32 exp would overflow) still give the exact softmax."""
    scores = np.array([100.0, 0.0], np.float32)
    assert softmax_at(scores, np.array([1, 0])) == pytest.approx([np.exp(-100.0), 1.0], rel=1e-6, abs=0)


@pytest.mark.parametrize(
    ("background", "reached", "reached_scores"),
    [
        ([0.5, -1.0, 2.0, 0.1], [0, 1, 2, 3], [3.0, 1.0, 0.2, 2.5]),
        ([-5.0, -7.0, -6.0, -9.0], [], []),
        ([-4.0, -3.0, -8.0, -6.0, -5.0], [2, 4], [1.5, -2.0]),
    ],
    ids=["history-reaches-all", "reaches-none", "reaches-some"],
)
@pytest.mark.parametrize("k", [1, 3, 10])
def test_background_ranking_is_the_dense_softmax(background, reached, reached_scores, k):
    """Background.rank / probabilities give the top k and scores of softmax_at over the dense scores."""
    reached_at = np.array(reached, np.int64)
    reached_values = np.array(reached_scores, np.float32)
    items, scores, total = Background.of(np.array(background, np.float32)).rank(reached_at, reached_values, k)
    dense = np.array(background, np.float32)
    dense[reached_at] = reached_values
    expected = top_k(dense, k)
    assert items.tolist() == expected.tolist()
    assert Background.probabilities(scores, total) == pytest.approx(softmax_at(dense, expected), rel=1e-6)
