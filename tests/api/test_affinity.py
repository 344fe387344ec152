"""USER_SEGMENTATION recipes through boto3: they train and report segment metrics; campaigns refuse them."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import wait_for
from tests.api.test_training import loaded, train  # noqa: F401  (fixture)

ITEM_AFFINITY = "arn:aws:personalize:::recipe/aws-item-affinity"
ATTRIBUTE_AFFINITY = "arn:aws:personalize:::recipe/aws-item-attribute-affinity"


def test_item_affinity_trains_with_segment_metrics_and_is_not_deployable(personalize, loaded):  # noqa: F811
    _, version = train(personalize, loaded["group"], ITEM_AFFINITY, "affinity")
    metrics = personalize.get_solution_metrics(solutionVersionArn=version)["metrics"]
    assert set(metrics) == {"hit_at_1_percent", "recall_at_1_percent"}
    assert metrics["recall_at_1_percent"] > 0
    with pytest.raises(ClientError, match="CreateBatchSegmentJob"):
        personalize.create_campaign(name="nope", solutionVersionArn=version)


def test_attribute_affinity_without_items_fails_saying_why(personalize, loaded):  # noqa: F811
    solution = personalize.create_solution(
        name="attributes", datasetGroupArn=loaded["group"], recipeArn=ATTRIBUTE_AFFINITY
    )["solutionArn"]
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    done = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=version), "solutionVersion", 60
    )
    assert done["status"] == "CREATE FAILED"
    assert "needs an Items dataset" in done["failureReason"]
