"""aws-semantic-similarity through boto3: trained from the Items text alone; rankingInfluence."""

from __future__ import annotations

import json

import pytest

from tests.api.helpers import import_csv, wait_for

pytestmark = pytest.mark.integration
SEMANTIC = "arn:aws:personalize:::recipe/aws-semantic-similarity"
THEMES = {
    "space": "a rocket journey to the stars and distant planets of the galaxy",
    "kitchen": "recipes for baking bread, cakes and pastries in your oven",
    "garden": "growing roses, tomatoes and herbs in a sunny backyard garden",
}


def items_schema(with_name: bool) -> str:
    fields = [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TITLE", "type": "string", **({"itemName": True} if with_name else {})},
        {"name": "DESCRIPTION", "type": ["null", "string"], "textual": True},
        {"name": "CREATION_TIMESTAMP", "type": "long"},
    ]
    return json.dumps({"type": "record", "name": "Items", "namespace": "com.amazonaws.personalize.schema",
                       "fields": fields, "version": "1.0"})  # fmt: skip


def catalogue(personalize, tmp_path, with_name=True):
    group = personalize.create_dataset_group(name="texts")["datasetGroupArn"]
    schema = personalize.create_schema(name="items", schema=items_schema(with_name))["schemaArn"]
    dataset = personalize.create_dataset(
        name="items", schemaArn=schema, datasetGroupArn=group, datasetType="Items"
    )["datasetArn"]
    rows = ["ITEM_ID,TITLE,DESCRIPTION,CREATION_TIMESTAMP"]
    for theme, words in THEMES.items():
        for n in range(8):
            rows.append(f'{theme}-{n},{theme} book {n},"{words}, volume {n}",{1_700_000_000 + n * 86_400}')
    (tmp_path / "items.csv").write_text("\n".join(rows) + "\n")
    assert import_csv(personalize, dataset, tmp_path / "items.csv")["status"] == "ACTIVE"
    solution = personalize.create_solution(name="semantic", datasetGroupArn=group, recipeArn=SEMANTIC)[
        "solutionArn"
    ]
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    return wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=version), "solutionVersion", 180
    )


def test_related_items_share_the_meaning_of_their_text(personalize, runtime, tmp_path):
    version = catalogue(personalize, tmp_path)
    assert version["status"] == "ACTIVE", version.get("failureReason")  # no Interactions needed
    campaign = personalize.create_campaign(name="semantic", solutionVersionArn=version["solutionVersionArn"])[
        "campaignArn"
    ]
    related = runtime.get_recommendations(campaignArn=campaign, itemId="garden-3", numResults=7)["itemList"]
    assert {entry["itemId"].split("-")[0] for entry in related} == {"garden"}
    assert "garden-3" not in {entry["itemId"] for entry in related}
    fresh = personalize.create_campaign(
        name="fresh",
        solutionVersionArn=version["solutionVersionArn"],
        campaignConfig={"rankingInfluence": {"FRESHNESS": 1.0}},
    )["campaignArn"]
    newest = runtime.get_recommendations(campaignArn=fresh, itemId="space-0", numResults=3)["itemList"]
    assert [entry["itemId"] for entry in newest] == ["space-7", "space-6", "space-5"]


def test_without_an_item_name_field_the_version_fails_saying_so(personalize, tmp_path):
    version = catalogue(personalize, tmp_path, with_name=False)
    assert version["status"] == "CREATE FAILED"
    assert '"itemName": true' in version["failureReason"]
