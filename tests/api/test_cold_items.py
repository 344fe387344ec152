"""New items without retraining (issue 14): Items rows with no interactions and new PutItems are
scored from their metadata (categories and text) and explored, less as they are shown."""

from __future__ import annotations

import json
import time

import pytest

from tests.api.clustered import GROUPS, ITEMS_PER_GROUP, item, user, write_clustered_csv
from tests.api.helpers import import_csv, make_group
from tests.api.test_training import UP, train

pytestmark = pytest.mark.integration

ITEMS = json.dumps(
    {
        "type": "record",
        "name": "Items",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "GENRE", "type": "string", "categorical": True},
            {"name": "DESCRIPTION", "type": ["null", "string"], "textual": True},
            {"name": "CREATION_TIMESTAMP", "type": "long"},
        ],
        "version": "1.0",
    }
)
# Each group's items are described in their own words, so text alone tells the groups apart.
WORDS = [
    "a moving drama about family, grief and forgiveness",
    "a hilarious comedy full of jokes, pranks and laughter",
    "a terrifying horror story of ghosts, blood and screams",
    "a cooking show with recipes for bread, pasta and cakes",
]
CREATED = 1_700_000_000


def _catalogue_rows() -> list[str]:
    rows = ["ITEM_ID,GENRE,DESCRIPTION,CREATION_TIMESTAMP"]
    for g in range(GROUPS):
        for i in range(ITEMS_PER_GROUP + 3):  # three per group have no interactions: cold
            rows.append(f'{item(g, i)},genre{g},"{WORDS[g]}, part {i}",{CREATED}')
    return rows


@pytest.fixture
def catalogue(personalize, tmp_path):
    arns = make_group(personalize)
    assert (
        import_csv(personalize, arns["dataset"], write_clustered_csv(tmp_path / "c.csv"))["status"]
        == "ACTIVE"
    )
    schema = personalize.create_schema(name="items", schema=ITEMS)["schemaArn"]
    arns["items"] = personalize.create_dataset(
        name="items", schemaArn=schema, datasetGroupArn=arns["group"], datasetType="Items"
    )["datasetArn"]
    path = tmp_path / "items.csv"
    path.write_text("\n".join(_catalogue_rows()) + "\n")
    assert import_csv(personalize, arns["items"], path)["status"] == "ACTIVE"
    _, arns["version"] = train(personalize, arns["group"], UP, "up")
    return arns


def _campaign(personalize, catalogue, name, weight):
    config = {"itemExplorationConfig": {"explorationWeight": weight, "explorationItemAgeCutOff": "30"}}
    arn = personalize.create_campaign(
        name=name, solutionVersionArn=catalogue["version"], campaignConfig=config
    )["campaignArn"]
    return arn


def _items(runtime, campaign, user_id, n=25):
    return [
        r["itemId"]
        for r in runtime.get_recommendations(campaignArn=campaign, userId=user_id, numResults=n)["itemList"]
    ]


def test_cold_items_of_the_users_taste_are_explored(personalize, runtime, catalogue):
    campaign = _campaign(personalize, catalogue, "explore", "1.0")
    cold = {item(g, ITEMS_PER_GROUP + j) for g in range(GROUPS) for j in range(3)}
    shown = {g: set() for g in range(GROUPS)}
    for g in range(GROUPS):
        for u in range(5):
            shown[g] |= set(_items(runtime, campaign, user(g, u))) & cold
    for g in range(GROUPS):
        # the cold items of the user's own group come first among the cold ones
        own = {item(g, ITEMS_PER_GROUP + j) for j in range(3)}
        assert own <= shown[g], (g, shown[g])


def test_no_exploration_with_weight_zero(personalize, runtime, catalogue):
    campaign = _campaign(personalize, catalogue, "quiet", "0")
    cold = {item(g, ITEMS_PER_GROUP + j) for g in range(GROUPS) for j in range(3)}
    for g in range(GROUPS):
        assert not set(_items(runtime, campaign, user(g, 0), n=10)) & cold


def test_a_new_item_is_recommendable_after_put_items_without_retraining(
    personalize, runtime, events, catalogue
):
    campaign = _campaign(personalize, catalogue, "new", "1.0")
    _items(runtime, campaign, user(2, 0))  # the campaign's model is loaded
    started = time.monotonic()
    # Text only: no genre we know, the words of group 2 (horror).
    events.put_items(
        datasetArn=catalogue["items"],
        items=[
            {
                "itemId": "brand-new",
                "properties": json.dumps(
                    {"genre": "unheard-of", "description": "ghosts and blood, a horror story of screams"}
                ),
            }
        ],
    )
    while "brand-new" not in _items(runtime, campaign, user(2, 1)):
        # No retraining; how soon is measured in benchmarks/new_item_latency.py, not here.
        assert time.monotonic() - started < 60.0, "never recommended after PutItems"
        time.sleep(0.05)
    # Its text places it with group 2: a horror fan is shown it before a cooking fan.
    score = {}
    for g in (2, 3):
        ranking = _items(runtime, _campaign(personalize, catalogue, f"quiet{g}", "0"), user(g, 1), n=500)
        score[g] = ranking.index("brand-new")
    assert score[2] < score[3]


def test_exploration_fades_as_items_are_shown(personalize, runtime, catalogue):
    campaign = _campaign(personalize, catalogue, "fade", "0.2")  # ceil(25 × 0.2) = 5 slots
    # For group-0 users, the other groups' cold items are there only by exploration.
    explored = {item(g, ITEMS_PER_GROUP + j) for g in (1, 2, 3) for j in range(3)}

    def count(n):
        return sum(len(set(_items(runtime, campaign, user(0, u % 20))) & explored) for u in range(n))

    early = count(40)
    count(300)
    late = count(40)
    assert early > 2 * late > 0, (early, late)


SIMILAR = "arn:aws:personalize:::recipe/aws-similar-items"


def test_similar_items_relates_cold_and_brand_new_items_by_their_metadata(
    personalize, runtime, events, catalogue
):
    _, version = train(personalize, catalogue["group"], SIMILAR, "similar")
    campaign = personalize.create_campaign(name="similar", solutionVersionArn=version)["campaignArn"]
    answer = runtime.get_recommendations(campaignArn=campaign, itemId=item(1, ITEMS_PER_GROUP), numResults=10)
    assert all("score" not in entry for entry in answer["itemList"])  # no scores, as AWS
    groups = [int(entry["itemId"].split("-")[0][1:]) for entry in answer["itemList"]]
    assert groups.count(1) >= 9, groups
    events.put_items(
        datasetArn=catalogue["items"],
        items=[
            {"itemId": "new-horror", "properties": json.dumps({"genre": "genre2", "description": WORDS[2]})}
        ],
    )
    started = time.monotonic()
    while True:
        answer = runtime.get_recommendations(campaignArn=campaign, itemId="new-horror", numResults=10)
        groups = [int(entry["itemId"].split("-")[0][1:]) for entry in answer["itemList"]]
        if groups.count(2) >= 9:
            break
        assert time.monotonic() - started < 60.0, groups
        time.sleep(0.1)


def test_an_items_dataset_with_text_loads_the_text_model_at_once(server, personalize):
    """So the first item written with text is embedded without waiting for the model to load."""
    from openpersonalize.data.text_embedding import TextEncoder

    group = personalize.create_dataset_group(name="warm")["datasetGroupArn"]
    schema = personalize.create_schema(name="warm-items", schema=ITEMS)["schemaArn"]
    personalize.create_dataset(
        name="warm-items", schemaArn=schema, datasetGroupArn=group, datasetType="Items"
    )
    encoder = TextEncoder.shared(server.settings.data_dir / "encoders")
    started = time.monotonic()
    while encoder._model is None:
        assert time.monotonic() - started < 120, "the text model was never loaded"
        time.sleep(0.2)
