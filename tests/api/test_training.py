"""Train, evaluate and serve through boto3: solutions, versions, metrics, campaigns, real-time recs."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from openpersonalize.evaluation.metrics import METRIC_NAMES
from tests.api.clustered import group_of, item, user, write_clustered_csv
from tests.api.helpers import make_group, wait_for

UP = "arn:aws:personalize:::recipe/aws-user-personalization"
RANKING = "arn:aws:personalize:::recipe/aws-personalized-ranking"
SIMS = "arn:aws:personalize:::recipe/aws-sims"
POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"


@pytest.fixture
def loaded(personalize, tmp_path):
    """A dataset group with ~2,900 imported interactions and an event tracker."""
    arns = make_group(personalize)
    csv = write_clustered_csv(tmp_path / "clustered.csv")
    job = personalize.create_dataset_import_job(
        jobName="clustered", datasetArn=arns["dataset"], dataSource={"dataLocation": csv.as_uri()}
    )["datasetImportJobArn"]
    done = wait_for(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job), "datasetImportJob"
    )
    assert done["status"] == "ACTIVE", done.get("failureReason")
    arns["tracking"] = personalize.create_event_tracker(name="tracker", datasetGroupArn=arns["group"])[
        "trackingId"
    ]
    return arns


def train(personalize, group_arn, recipe, name, **kwargs):
    solution = personalize.create_solution(name=name, datasetGroupArn=group_arn, recipeArn=recipe, **kwargs)[
        "solutionArn"
    ]
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    done = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=version), "solutionVersion", 120
    )
    assert done["status"] == "ACTIVE", done.get("failureReason")
    return solution, version


def deploy(personalize, version, name, **config):
    """A campaign; ``config`` is its campaignConfig (e.g. no exploration, for exact comparisons)."""
    extra = {"campaignConfig": config} if config else {}
    campaign = personalize.create_campaign(
        name=name, solutionVersionArn=version, minProvisionedTPS=1, **extra
    )["campaignArn"]
    assert (
        wait_for(lambda: personalize.describe_campaign(campaignArn=campaign), "campaign")["status"]
        == "ACTIVE"
    )
    return campaign


def test_user_personalization_loop(personalize, runtime, events, loaded):
    solution, version = train(personalize, loaded["group"], UP, "up")
    described = personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert described["trainingMode"] == "FULL" and described["trainingType"] == "MANUAL"
    assert described["recipeArn"] == UP and described["trainingHours"] >= 0
    assert (
        personalize.describe_solution(solutionArn=solution)["solution"]["latestSolutionVersion"]["status"]
        == "ACTIVE"
    )
    metrics = personalize.get_solution_metrics(solutionVersionArn=version)["metrics"]
    assert set(metrics) == set(METRIC_NAMES)
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
    assert metrics["precision_at_5"] > 0.06  # random picks would score ~0.03 on 120 items

    campaign = deploy(personalize, version, "up-campaign")
    recs = runtime.get_recommendations(campaignArn=campaign, userId=user(2, 3))
    assert len(recs["itemList"]) == 25 and recs["recommendationId"]
    scores = [r["score"] for r in recs["itemList"]]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0001
    top10 = [group_of(r["itemId"]) for r in recs["itemList"][:10]]
    assert top10.count(2) >= 8
    assert (
        len(runtime.get_recommendations(campaignArn=campaign, userId=user(2, 3), numResults=7)["itemList"])
        == 7
    )

    # A brand-new user starts with popular items, then moves to group 1 as events stream in.
    newcomer = "newcomer"
    before = [
        r["itemId"] for r in runtime.get_recommendations(campaignArn=campaign, userId=newcomer)["itemList"]
    ]
    event_list = [{"eventType": "click", "itemId": item(1, i), "sentAt": time.time()} for i in range(5)]
    events.put_events(trackingId=loaded["tracking"], userId=newcomer, sessionId="s-new", eventList=event_list)
    started = time.time()
    after = [
        r["itemId"] for r in runtime.get_recommendations(campaignArn=campaign, userId=newcomer)["itemList"]
    ]
    assert time.time() - started < 1.0
    assert after != before
    assert [group_of(i) for i in after[:10]].count(1) >= 8


def test_personalized_ranking(personalize, runtime, loaded):
    _, version = train(personalize, loaded["group"], RANKING, "ranking")
    campaign = deploy(personalize, version, "ranking-campaign")
    inputs = [item(0, 1), item(3, 1), item(3, 2), "never-seen", item(0, 2)]
    ranked = runtime.get_personalized_ranking(campaignArn=campaign, userId=user(3, 0), inputList=inputs)
    order = [r["itemId"] for r in ranked["personalizedRanking"]]
    assert sorted(order) == sorted(inputs)
    assert {group_of(i) for i in order[:2]} == {3}
    assert order[-1] == "never-seen" and "score" not in ranked["personalizedRanking"][-1]
    assert abs(sum(r.get("score", 0) for r in ranked["personalizedRanking"]) - 1.0) < 1e-3
    with pytest.raises(runtime.exceptions.InvalidInputException):
        runtime.get_recommendations(campaignArn=campaign, userId=user(3, 0))


def test_sims_and_popularity_have_no_scores(personalize, runtime, loaded):
    _, sims_version = train(personalize, loaded["group"], SIMS, "sims")
    sims = deploy(personalize, sims_version, "sims-campaign")
    # A mid-popularity item: mostly co-occurs with its own group (the top items are popular everywhere).
    related = runtime.get_recommendations(campaignArn=sims, itemId=item(1, 5), numResults=10)["itemList"]
    assert all("score" not in r for r in related)
    assert item(1, 5) not in [r["itemId"] for r in related]
    assert [group_of(r["itemId"]) for r in related].count(1) >= 7
    unknown = runtime.get_recommendations(campaignArn=sims, itemId="no-such-item", numResults=5)["itemList"]
    assert len(unknown) == 5  # falls back to popular items
    with pytest.raises(runtime.exceptions.InvalidInputException):
        runtime.get_recommendations(campaignArn=sims, userId="u")

    _, pop_version = train(personalize, loaded["group"], POPULARITY, "pop")
    pop = deploy(personalize, pop_version, "pop-campaign")
    a = runtime.get_recommendations(campaignArn=pop, userId=user(0, 0))["itemList"]
    b = runtime.get_recommendations(campaignArn=pop, userId=user(3, 5))["itemList"]
    assert a == b and all("score" not in r for r in a)


def test_runtime_errors(personalize, runtime, loaded):
    _, version = train(personalize, loaded["group"], UP, "up")
    campaign = deploy(personalize, version, "c")
    with pytest.raises(runtime.exceptions.InvalidInputException):
        runtime.get_recommendations(campaignArn=campaign, userId="u", numResults=501)
    with pytest.raises(ClientError) as err:
        runtime.get_recommendations(campaignArn=campaign.replace("/c", "/nope"), userId="u")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(runtime.exceptions.InvalidInputException):
        runtime.get_recommendations(campaignArn=campaign)
    with pytest.raises(runtime.exceptions.InvalidInputException):
        runtime.get_recommendations(userId="u")


def test_too_little_data_fails_the_version(personalize, tmp_path):
    arns = make_group(personalize)
    from tests.api.helpers import write_interactions_csv

    csv = write_interactions_csv(tmp_path / "small.csv", rows=200)
    job = personalize.create_dataset_import_job(
        jobName="small", datasetArn=arns["dataset"], dataSource={"dataLocation": csv.as_uri()}
    )["datasetImportJobArn"]
    wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job), "datasetImportJob")
    solution = personalize.create_solution(name="s", datasetGroupArn=arns["group"], recipeArn=UP)[
        "solutionArn"
    ]
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    done = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=version), "solutionVersion"
    )
    assert done["status"] == "CREATE FAILED"
    assert "fewer than 1000 interactions" in done["failureReason"]
    with pytest.raises(personalize.exceptions.ResourceInUseException):
        personalize.get_solution_metrics(solutionVersionArn=version)
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_campaign(name="c", solutionVersionArn=version)


def test_event_type_selects_training_events(personalize, loaded):
    solution, version = train(personalize, loaded["group"], UP, "clicks", eventType="click")
    assert personalize.describe_solution(solutionArn=solution)["solution"]["eventType"] == "click"
    described = personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert described["eventType"] == "click"
    solution = personalize.create_solution(
        name="buys", datasetGroupArn=loaded["group"], recipeArn=UP, eventType="purchase"
    )
    version = personalize.create_solution_version(solutionArn=solution["solutionArn"])["solutionVersionArn"]
    done = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=version), "solutionVersion"
    )
    assert done["status"] == "CREATE FAILED" and "purchase" in done["failureReason"]


def test_latest_campaign_follows_new_versions(personalize, runtime, loaded):
    solution, first = train(personalize, loaded["group"], UP, "up")
    campaign = personalize.create_campaign(
        name="latest",
        solutionVersionArn=f"{solution}/$LATEST",
        campaignConfig={"syncWithLatestSolutionVersion": True},
    )["campaignArn"]
    described = personalize.describe_campaign(campaignArn=campaign)["campaign"]
    assert described["solutionVersionArn"].endswith("/$LATEST")
    assert described["campaignConfig"]["syncWithLatestSolutionVersion"] is True
    second = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=second), "solutionVersion", 120)
    time.sleep(1.1)  # the runtime re-resolves campaigns every second
    server_runtime = runtime.get_recommendations(campaignArn=campaign, userId=user(0, 0))
    assert server_runtime["itemList"]
    personalize.update_campaign(campaignArn=campaign, minProvisionedTPS=3)
    update = personalize.describe_campaign(campaignArn=campaign)["campaign"]["latestCampaignUpdate"]
    assert update["minProvisionedTPS"] == 3 and update["status"] == "ACTIVE"
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_campaign(
            name="bad", solutionVersionArn=first, campaignConfig={"syncWithLatestSolutionVersion": True}
        )
    with pytest.raises(personalize.exceptions.ResourceInUseException):
        personalize.delete_solution(solutionArn=solution)
    personalize.delete_campaign(campaignArn=campaign)
    personalize.delete_solution(solutionArn=solution)
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.describe_solution_version(solutionVersionArn=first)


def test_recipes_catalogue(personalize):
    recipes = [
        r["recipeArn"]
        for page in personalize.get_paginator("list_recipes").paginate()
        for page_r in [page]
        for r in page_r["recipes"]
    ]
    assert UP in recipes and SIMS in recipes and len(recipes) >= 25
    ecommerce = personalize.list_recipes(domain="ECOMMERCE")["recipes"]
    assert ecommerce and all(r["domain"] == "ECOMMERCE" for r in ecommerce)
    recipe = personalize.describe_recipe(recipeArn=UP)["recipe"]
    assert recipe["recipeType"] == "USER_PERSONALIZATION"
    algorithm = personalize.describe_algorithm(algorithmArn=recipe["algorithmArn"])["algorithm"]
    assert algorithm["defaultHyperParameters"]["hidden_dimension"] == "149"
    transform = personalize.describe_feature_transformation(
        featureTransformationArn=recipe["featureTransformationArn"]
    )
    assert "min_user_history_length_percentile" in transform["featureTransformation"]["defaultParameters"]
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.describe_recipe(recipeArn="arn:aws:personalize:::recipe/aws-nope")
    json.dumps(recipe, default=str)


def test_stop_solution_version_creation(tmp_path):
    from tests.fixtures.server import start_server

    live = start_server(tmp_path / "data", with_worker=False)
    try:
        personalize = live.client("personalize")
        arns = make_group(personalize)
        solution = personalize.create_solution(name="s", datasetGroupArn=arns["group"], recipeArn=UP)[
            "solutionArn"
        ]
        pending = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
        assert (
            personalize.describe_solution_version(solutionVersionArn=pending)["solutionVersion"]["status"]
            == "CREATE PENDING"
        )
        personalize.stop_solution_version_creation(solutionVersionArn=pending)
        assert (
            personalize.describe_solution_version(solutionVersionArn=pending)["solutionVersion"]["status"]
            == "CREATE STOPPED"
        )
        with pytest.raises(personalize.exceptions.ResourceInUseException):
            personalize.stop_solution_version_creation(solutionVersionArn=pending)

        # A version already training moves to CREATE STOPPING; the training job ends it as CREATE STOPPED.
        running = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
        live.services.ctx.store.update(running, status="CREATE IN_PROGRESS")
        personalize.stop_solution_version_creation(solutionVersionArn=running)
        assert (
            personalize.describe_solution_version(solutionVersionArn=running)["solutionVersion"]["status"]
            == "CREATE STOPPING"
        )
        from openpersonalize.jobs.worker import Worker

        worker = Worker(live.services.ctx, "w")
        while worker.run_once():
            pass
        statuses = {
            v["solutionVersionArn"]: v["status"]
            for v in personalize.list_solution_versions(solutionArn=solution)["solutionVersions"]
        }
        assert statuses == {pending: "CREATE STOPPED", running: "CREATE STOPPED"}
    finally:
        live.stop()


def test_automatic_training_runs_on_schedule(tmp_path):
    from openpersonalize.jobs.scheduler import run_due_trainings
    from tests.fixtures.server import start_server

    live = start_server(tmp_path / "data", auto_training_first_delay_seconds=0.0, min_import_interactions=10)
    try:
        personalize = live.client("personalize")
        arns = make_group(personalize)
        csv = write_clustered_csv(tmp_path / "c.csv")
        job = personalize.create_dataset_import_job(
            jobName="c", datasetArn=arns["dataset"], dataSource={"dataLocation": csv.as_uri()}
        )
        wait_for(
            lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job["datasetImportJobArn"]),
            "datasetImportJob",
        )
        auto = personalize.create_solution(
            name="auto", datasetGroupArn=arns["group"], recipeArn=UP,
            solutionConfig={"autoTrainingConfig": {"schedulingExpression": "rate(3 days)"}},
        )["solutionArn"]  # fmt: skip
        manual = personalize.create_solution(
            name="manual", datasetGroupArn=arns["group"], recipeArn=UP, performAutoTraining=False
        )
        ctx = live.services.ctx
        started = run_due_trainings(ctx, time.time())
        assert len(started) == 1 and started[0].startswith(auto + "/")
        assert run_due_trainings(ctx, time.time()) == []  # one at a time, and the next is 3 days out
        version = wait_for(
            lambda: personalize.describe_solution_version(solutionVersionArn=started[0]),
            "solutionVersion",
            60,
        )
        assert version["status"] == "ACTIVE"
        assert version["trainingType"] == "AUTOMATIC" and version["trainingMode"] == "AUTOTRAIN"
        assert run_due_trainings(ctx, time.time() + 2 * 86400) == []
        assert len(run_due_trainings(ctx, time.time() + 3 * 86400 + 60)) == 1
        assert personalize.list_solution_versions(solutionArn=manual["solutionArn"])["solutionVersions"] == []
        personalize.update_solution(solutionArn=auto, performAutoTraining=False)
        latest = personalize.describe_solution(solutionArn=auto)["solution"]
        assert latest["performAutoTraining"] is False and latest["latestSolutionUpdate"]["status"] == "ACTIVE"
    finally:
        live.stop()


def test_update_training_mode_needs_a_full_version(personalize, loaded):
    solution = personalize.create_solution(name="upd", datasetGroupArn=loaded["group"], recipeArn=UP)[
        "solutionArn"
    ]
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_solution_version(solutionArn=solution, trainingMode="UPDATE")
    full = personalize.create_solution_version(solutionArn=solution, name="first")["solutionVersionArn"]
    wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=full), "solutionVersion", 60)
    update = personalize.create_solution_version(solutionArn=solution, trainingMode="UPDATE")[
        "solutionVersionArn"
    ]
    done = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=update), "solutionVersion", 60
    )
    assert done["status"] == "ACTIVE" and done["trainingMode"] == "UPDATE"
    assert (
        personalize.describe_solution_version(solutionVersionArn=full)["solutionVersion"]["name"] == "first"
    )
    with pytest.raises(personalize.exceptions.ResourceAlreadyExistsException):
        personalize.create_solution_version(solutionArn=solution, name="first")
    sims = personalize.create_solution(name="sims-upd", datasetGroupArn=loaded["group"], recipeArn=SIMS)[
        "solutionArn"
    ]
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_solution_version(solutionArn=sims, trainingMode="UPDATE")


def test_solution_input_errors(personalize, loaded):
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_solution(name="none", datasetGroupArn=loaded["group"])
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_solution(
            name="domain", datasetGroupArn=loaded["group"],
            recipeArn="arn:aws:personalize:::recipe/aws-ecomm-recommended-for-you",
        )  # fmt: skip
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_solution(
            name="bad-threshold", datasetGroupArn=loaded["group"], recipeArn=UP,
            solutionConfig={"eventValueThreshold": "lots"},
        )  # fmt: skip
    with pytest.raises(personalize.exceptions.InvalidInputException) as err:
        personalize.create_solution(
            name="bad-hp", datasetGroupArn=loaded["group"], recipeArn=UP,
            solutionConfig={"algorithmHyperParameters": {"hidden_dimension": "many"}},
        )  # fmt: skip
    assert "hidden_dimension" in err.value.response["Error"]["Message"]
    auto = personalize.create_solution(name="automl", datasetGroupArn=loaded["group"], performAutoML=True)
    described = personalize.describe_solution(solutionArn=auto["solutionArn"])["solution"]
    # The choice is known once a version has trained (tests/api/test_hpo.py).
    assert described["performAutoML"] is True and "autoMLResult" not in described
    assert [s["name"] for s in personalize.list_solutions(datasetGroupArn=loaded["group"])["solutions"]] == [
        "automl"
    ]
