"""HPO and AutoML through boto3: trials on a validation carve-out, the chosen values shown."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import wait_for
from tests.api.test_training import UP, loaded  # noqa: F401  (fixture)

POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"


def _train(personalize, group, name, **kwargs):
    solution = personalize.create_solution(name=name, datasetGroupArn=group, **kwargs)["solutionArn"]
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    done = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=version), "solutionVersion", 240
    )
    assert done["status"] == "ACTIVE", done.get("failureReason")
    return solution, done


def test_hpo_searches_the_given_ranges_and_shows_the_choice(server, personalize, loaded):  # noqa: F811
    config = {
        "hpoConfig": {
            "hpoResourceConfig": {"maxNumberOfTrainingJobs": "4", "maxParallelTrainingJobs": "1"},
            "algorithmHyperParameterRanges": {
                "integerHyperParameterRanges": [{"name": "bptt", "minValue": 4, "maxValue": 8}],
                "categoricalHyperParameterRanges": [{"name": "recency_mask", "values": ["true", "false"]}],
            },
        }
    }
    _, version = _train(
        personalize, loaded["group"], "hpo", recipeArn=UP, performHPO=True, solutionConfig=config
    )
    tuned = version["tunedHPOParams"]["algorithmHyperParameters"]
    assert set(tuned) == {"bptt", "recency_mask"}
    assert 4 <= int(tuned["bptt"]) <= 8 and tuned["recency_mask"] in ("true", "false")
    assert version["performHPO"] is True
    # The trials are stored with the version; `openpersonalize jobs` shows them.
    env = {**os.environ, "PYTHONPATH": "src", "COLUMNS": "250"}
    cmd = [sys.executable, "-m", "openpersonalize", "jobs", "--data-dir", str(server.settings.data_dir)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=True).stdout
    assert "HPO 4/4 trials done" in out


def test_automl_picks_the_better_recipe_by_the_validation_metric(personalize, loaded):  # noqa: F811
    config = {
        "autoMLConfig": {"metricName": "precision_at_5", "recipeList": [POPULARITY, UP]},
        "hpoConfig": {"hpoResourceConfig": {"maxNumberOfTrainingJobs": "2"}},
    }
    solution, version = _train(
        personalize, loaded["group"], "automl", performAutoML=True, solutionConfig=config
    )
    # The clustered data rewards personalisation: the popularity baseline must lose.
    assert version["recipeArn"] == UP
    described = personalize.describe_solution(solutionArn=solution)["solution"]
    assert described["autoMLResult"]["bestRecipeArn"] == UP
    assert described["performHPO"] is True


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {
                "algorithmHyperParameterRanges": {
                    "integerHyperParameterRanges": [{"name": "nope", "minValue": 1, "maxValue": 2}]
                }
            },
            "integerHyperParameterRanges[0].name 'nope' is not a tunable hyperparameter",
        ),
        (
            {
                "algorithmHyperParameterRanges": {
                    "integerHyperParameterRanges": [{"name": "bptt", "minValue": 9, "maxValue": 3}]
                }
            },
            "is empty",
        ),
        (
            {
                "algorithmHyperParameterRanges": {
                    "integerHyperParameterRanges": [{"name": "bptt", "minValue": 1, "maxValue": 64}]
                }
            },
            "must lie between 2 and 32",
        ),
        (
            {
                "algorithmHyperParameterRanges": {
                    "continuousHyperParameterRanges": [{"name": "bptt", "minValue": 2, "maxValue": 4}]
                }
            },
            "give its range in integerHyperParameterRanges",
        ),
        (
            {
                "algorithmHyperParameterRanges": {
                    "categoricalHyperParameterRanges": [{"name": "recency_mask", "values": []}]
                }
            },
            "values must not be empty",
        ),
        (
            {"hpoResourceConfig": {"maxNumberOfTrainingJobs": "41"}},
            "maxNumberOfTrainingJobs must be between 1 and 40",
        ),
        (
            {"hpoResourceConfig": {"maxParallelTrainingJobs": "x"}},
            "maxParallelTrainingJobs must be an integer",
        ),
        ({"hpoObjective": {"metricName": "accuracy"}}, "hpoObjective.metricName must be one of"),
    ],
)
def test_bad_hpo_config_is_refused_naming_the_member(personalize, loaded, config, message):  # noqa: F811
    with pytest.raises(ClientError) as error:
        personalize.create_solution(
            name="bad", datasetGroupArn=loaded["group"], recipeArn=UP, performHPO=True,
            solutionConfig={"hpoConfig": config},
        )  # fmt: skip
    assert error.value.response["Error"]["Code"] == "InvalidInputException"
    assert message in error.value.response["Error"]["Message"]
    assert not personalize.list_solutions(datasetGroupArn=loaded["group"])["solutions"]


def test_automl_refuses_a_recipe_of_another_type(personalize, loaded):  # noqa: F811
    sims = "arn:aws:personalize:::recipe/aws-sims"
    with pytest.raises(ClientError, match=r"recipeList\[1\] must be a USER_PERSONALIZATION recipe"):
        personalize.create_solution(
            name="bad", datasetGroupArn=loaded["group"], performAutoML=True,
            solutionConfig={"autoMLConfig": {"recipeList": [UP, sims]}},
        )  # fmt: skip
