"""aws-next-best-action and GetActionRecommendations through boto3 (spec §7, §15)."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.api.clustered import GROUPS, USERS_PER_GROUP, user, write_clustered_csv
from tests.api.helpers import import_csv, make_group
from tests.api.test_training import UP, deploy, train

pytestmark = pytest.mark.integration
NBA = "arn:aws:personalize:::recipe/aws-next-best-action"
ACTIONS = json.dumps(
    {
        "type": "record",
        "name": "Actions",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "ACTION_ID", "type": "string"},
            {"name": "VALUE", "type": ["null", "long"]},
            {"name": "EXPIRATION_TIMESTAMP", "type": ["null", "long"]},
            {"name": "REPEAT_FREQUENCY", "type": ["null", "long"]},
        ],
        "version": "1.0",
    }
)
ACTION_INTERACTIONS = json.dumps(
    {
        "type": "record",
        "name": "ActionInteractions",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "ACTION_ID", "type": "string"},
            {"name": "TIMESTAMP", "type": "long"},
            {"name": "EVENT_TYPE", "type": "string"},
        ],
        "version": "1.0",
    }
)
T = int(time.time()) - 30 * 86_400  # action interactions of the last month
FUTURE = int(time.time()) + 365 * 86_400


def _dataset(personalize, group, name, text, kind):
    schema = personalize.create_schema(name=name, schema=text)["schemaArn"]
    return personalize.create_dataset(name=name, schemaArn=schema, datasetGroupArn=group, datasetType=kind)[
        "datasetArn"
    ]


@pytest.fixture
def offers(personalize, tmp_path):
    """The clustered item interactions; an offer per taste group, each taken (repeatedly, over
    time) by that group's users and turned down by the others; plus a rarely seen offer, an
    expired one and a high-value one nobody has seen."""
    arns = make_group(personalize)
    assert (
        import_csv(personalize, arns["dataset"], write_clustered_csv(tmp_path / "c.csv"))["status"]
        == "ACTIVE"
    )
    arns["actions"] = _dataset(personalize, arns["group"], "actions", ACTIONS, "Actions")
    arns["action_interactions"] = _dataset(
        personalize, arns["group"], "action-interactions", ACTION_INTERACTIONS, "Action_Interactions"
    )
    rows = ["ACTION_ID,VALUE,EXPIRATION_TIMESTAMP,REPEAT_FREQUENCY"]
    rows += [f"offer{g},10,{FUTURE}," for g in range(GROUPS)]
    rows += ["rare,1,,", "expired,100,1000,", "premium,50,,", "weekly,5,,7"]
    (tmp_path / "actions.csv").write_text("\n".join(rows) + "\n")
    assert import_csv(personalize, arns["actions"], tmp_path / "actions.csv")["status"] == "ACTIVE"
    lines = ["USER_ID,ACTION_ID,TIMESTAMP,EVENT_TYPE"]
    t = T
    for g in range(GROUPS):
        for u in range(USERS_PER_GROUP):
            for other in range(GROUPS):
                for _ in range(3):  # 60 TAKEN per offer: enough for a propensity
                    t += 60
                    lines.append(f"{user(g, u)},offer{other},{t},{'TAKEN' if other == g else 'NOT_TAKEN'}")
    lines.append(f"{user(0, 0)},rare,{t + 1},TAKEN")
    lines.append(f"{user(1, 0)},weekly,{int(time.time()) - 86_400},TAKEN")  # yesterday: not again for a week
    (tmp_path / "ai.csv").write_text("\n".join(lines) + "\n")
    assert import_csv(personalize, arns["action_interactions"], tmp_path / "ai.csv")["status"] == "ACTIVE"
    _, version = train(personalize, arns["group"], NBA, "nba")
    arns["version"] = version
    arns["campaign"] = deploy(personalize, version, "nba")
    return arns


def actions_for(runtime, campaign, user_id, **kwargs):
    return runtime.get_action_recommendations(campaignArn=campaign, userId=user_id, **kwargs)["actionList"]


def test_each_group_is_offered_its_own_action_first(server, runtime, offers):
    for g in range(GROUPS):
        answer = actions_for(runtime, offers["campaign"], user(g, 3))
        assert len(answer) == 5  # numResults defaults to 5
        tried = httpx.post(
            f"{server.url}/console/try",
            headers={"HX-Request": "true"},
            data={"target": offers["campaign"], "userId": user(g, 3)},
        )  # the console's "Try it"
        shown = re.findall(r"<tr><td>\d+</td><td>([^<]+)</td>", tried.text)
        assert tried.status_code == 200 and shown == [a["actionId"] for a in answer] and "VALUE" in tried.text
        assert answer[0]["actionId"] == f"offer{g}", answer
        assert 0 < answer[0]["score"] <= 1
        assert [a["score"] for a in answer] == sorted((a["score"] for a in answer), reverse=True)


def test_actions_without_enough_data_score_zero_and_value_breaks_ties(runtime, offers):
    answer = actions_for(runtime, offers["campaign"], user(0, 3), numResults=100)
    scores = {a["actionId"]: a["score"] for a in answer}
    assert scores["rare"] == scores["premium"] == scores["weekly"] == 0.0
    zero = [a["actionId"] for a in answer if a["score"] == 0.0]
    assert zero.index("premium") < zero.index("weekly") < zero.index("rare")  # VALUE 50 > 5 > 1
    assert "expired" not in scores  # past its EXPIRATION_TIMESTAMP


def test_repeat_frequency_keeps_a_recent_action_back(runtime, offers):
    assert "weekly" not in {
        a["actionId"] for a in actions_for(runtime, offers["campaign"], user(1, 0), numResults=100)
    }
    assert "weekly" in {
        a["actionId"] for a in actions_for(runtime, offers["campaign"], user(1, 1), numResults=100)
    }


def test_wrong_campaign_types_and_limits(personalize, runtime, offers):
    with pytest.raises(ClientError, match="call GetActionRecommendations"):
        runtime.get_recommendations(campaignArn=offers["campaign"], userId=user(0, 0))
    with pytest.raises(ClientError) as err:
        actions_for(runtime, offers["campaign"], user(0, 0), numResults=101)
    assert err.value.response["Error"]["Code"] == "InvalidInputException"
    _, version = train(personalize, offers["group"], UP, "up")
    up = deploy(personalize, version, "up")
    with pytest.raises(ClientError, match="does not use a PERSONALIZED_ACTIONS recipe"):
        actions_for(runtime, up, user(0, 0))
    action_filter = _active_filter(
        personalize, offers["group"], "EXCLUDE ActionID WHERE Actions.VALUE > 1", "actions-only"
    )
    with pytest.raises(ClientError, match="use it with GetActionRecommendations"):
        runtime.get_recommendations(campaignArn=up, userId=user(0, 0), filterArn=action_filter)


def test_metrics_rank_the_taken_actions(personalize, offers):
    metrics = personalize.get_solution_metrics(solutionVersionArn=offers["version"])["metrics"]
    assert metrics["precision_at_5"] > 0.1


def _active_filter(personalize, group, expression, name):
    arn = personalize.create_filter(name=name, datasetGroupArn=group, filterExpression=expression)[
        "filterArn"
    ]
    for _ in range(200):
        if personalize.describe_filter(filterArn=arn)["filter"]["status"] == "ACTIVE":
            return arn
        time.sleep(0.05)
    raise AssertionError(f"filter {name} did not become ACTIVE")


def test_action_filters_read_action_interactions_and_actions_live(personalize, events, runtime, offers):
    """EXCLUDE what the user took (training data, then a live PutActionInteractions), INCLUDE by
    Actions.VALUE (then changed by PutActions); item filters are refused."""
    group, campaign, someone = offers["group"], offers["campaign"], user(0, 3)
    taken = _active_filter(
        personalize, group, 'EXCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ("TAKEN")', "taken"
    )
    ids = [a["actionId"] for a in actions_for(runtime, campaign, someone, numResults=100, filterArn=taken)]
    assert "offer0" not in ids and "offer1" in ids  # offer0: this user's own, taken in training
    tracking = personalize.describe_dataset(datasetArn=offers["action_interactions"])["dataset"]["trackingId"]
    events.put_action_interactions(
        trackingId=tracking,
        actionInteractions=[
            {
                "actionId": "offer1",
                "userId": someone,
                "sessionId": "s",
                "timestamp": time.time(),
                "eventType": "Taken",
            }
        ],
    )
    ids = [a["actionId"] for a in actions_for(runtime, campaign, someone, numResults=100, filterArn=taken)]
    assert "offer1" not in ids and "offer2" in ids
    assert "offer1" in {
        a["actionId"] for a in actions_for(runtime, campaign, user(2, 3), numResults=100, filterArn=taken)
    }

    valuable = _active_filter(personalize, group, "INCLUDE ActionID WHERE Actions.VALUE > $VALUE", "valuable")
    pick = {"filterArn": valuable, "filterValues": {"VALUE": "20"}}
    assert [a["actionId"] for a in actions_for(runtime, campaign, someone, numResults=100, **pick)] == [
        "premium"
    ]
    events.put_actions(
        datasetArn=offers["actions"],
        actions=[{"actionId": "rare", "properties": json.dumps({"value": 99})}],
    )
    ids = [a["actionId"] for a in actions_for(runtime, campaign, someone, numResults=100, **pick)]
    assert sorted(ids) == ["premium", "rare"]

    items = _active_filter(
        personalize, group, 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")', "items"
    )
    with pytest.raises(ClientError, match="filter on ActionID") as err:
        actions_for(runtime, campaign, someone, filterArn=items)
    assert err.value.response["Error"]["Code"] == "InvalidInputException"


def test_live_action_interactions_move_the_users_propensity(personalize, events, runtime, offers):
    someone = user(0, 3)
    before = {
        a["actionId"]: a["score"] for a in actions_for(runtime, offers["campaign"], someone, numResults=100)
    }
    tracking = personalize.describe_dataset(datasetArn=offers["action_interactions"])["dataset"]["trackingId"]
    taken = {
        "actionId": "offer1",
        "userId": someone,
        "sessionId": "s",
        "timestamp": time.time(),
        "eventType": "Taken",
    }
    for _ in range(3):
        events.put_action_interactions(trackingId=tracking, actionInteractions=[taken] * 10)
    after = {
        a["actionId"]: a["score"] for a in actions_for(runtime, offers["campaign"], someone, numResults=100)
    }
    assert after["offer1"] > before["offer1"] + 0.05, (before, after)
    assert after["offer2"] == pytest.approx(before["offer2"])
