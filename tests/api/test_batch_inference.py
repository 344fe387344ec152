"""Batch inference jobs through boto3 (spec §16): JSON Lines in, the serving pipeline, JSON Lines out."""

from __future__ import annotations

import json
import re
import threading

import httpx
import pytest
from botocore.exceptions import ClientError

from openpersonalize.jobs import parts
from openpersonalize.jobs.worker import Worker
from tests.api.clustered import group_of, item, user
from tests.api.helpers import make_group, wait_for, write_interactions_csv
from tests.api.test_filters import make_filter, shop  # noqa: F401  (the fixture)
from tests.api.test_training import POPULARITY, RANKING, loaded, train  # noqa: F401
from tests.fixtures.server import start_server

pytestmark = pytest.mark.integration
ROLE = "arn:aws:iam::123456789012:role/personalize"
NO_EXPLORATION = {"itemExplorationConfig": {"explorationWeight": "0"}}


def run_batch(personalize, version, source, destination, name="batch", **extra):
    arn = personalize.create_batch_inference_job(
        jobName=name,
        solutionVersionArn=version,
        jobInput={"s3DataSource": {"path": source}},
        jobOutput={"s3DataDestination": {"path": destination}},
        roleArn=ROLE,
        **extra,
    )["batchInferenceJobArn"]
    return wait_for(lambda: personalize.describe_batch_inference_job(batchInferenceJobArn=arn),
                    "batchInferenceJob", 120)  # fmt: skip


def write_lines(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def read_output(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def version_of(personalize, campaign):
    return personalize.describe_campaign(campaignArn=campaign)["campaign"]["solutionVersionArn"]


def test_batch_answers_as_the_campaign_does(server, personalize, runtime, shop, tmp_path):  # noqa: F811
    version = version_of(personalize, shop["campaign"])
    users = [user(g, u) for g in range(4) for u in range(3)]
    source = write_lines(
        tmp_path / "in" / "users.json",
        [{"userId": u} for u in users] + ["{not json", {"itemId": "x"}, {"userId": "someone-new"}],
    )
    out = tmp_path / "out"
    job = run_batch(personalize, version, source.as_uri(), out.as_uri() + "/",
                    batchInferenceJobConfig=NO_EXPLORATION)  # fmt: skip
    assert job["status"] == "ACTIVE", job.get("failureReason")
    assert job["numResults"] == 25 and job["batchInferenceJobMode"] == "BATCH_INFERENCE"
    assert job["jobInput"]["s3DataSource"]["path"] == source.as_uri()
    lines = read_output(out / "users.json.out")
    assert len(lines) == len(users) + 3
    for u, line in zip(users, lines, strict=False):
        live = runtime.get_recommendations(campaignArn=shop["campaign"], userId=u)["itemList"]
        assert line["input"] == {"userId": u} and line["error"] is None
        assert line["output"]["recommendedItems"] == [r["itemId"] for r in live]
        assert line["output"]["scores"] == pytest.approx([r["score"] for r in live])
    bad_json, no_user, new_user = lines[len(users) :]
    assert bad_json["output"] is None and "not valid JSON" in bad_json["error"]
    assert bad_json["input"] == "{not json"
    assert no_user["output"] is None and "userId is required" in no_user["error"]
    assert new_user["error"] is None and len(new_user["output"]["recommendedItems"]) == 25
    listed = personalize.list_batch_inference_jobs(solutionVersionArn=version)["batchInferenceJobs"]
    assert [j["jobName"] for j in listed] == ["batch"] and listed[0]["status"] == "ACTIVE"
    jobs = httpx.get(f"{server.url}/console/jobs").text  # the console's jobs page lists it
    assert re.search(r"<td>Batch inference job</td><td><a [^>]+>batch</a></td><td><span [^>]+>ACTIVE", jobs)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temporary left


def test_batch_filters_and_num_results(personalize, shop, tmp_path):  # noqa: F811
    version = version_of(personalize, shop["campaign"])
    group3 = make_filter(personalize, shop, "INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)", "g3")
    source = write_lines(tmp_path / "users.json", [
        {"userId": user(0, 1), "filterValues": {"CATEGORY": '"group3"'}},
        {"userId": user(1, 1), "filterValues": {"CATEGORY": '"group2"'}},
        {"userId": user(1, 2)},  # the filter needs its value
    ])  # fmt: skip
    job = run_batch(personalize, version, source.as_uri(), (tmp_path / "out").as_uri(), filterArn=group3,
                    numResults=7)  # fmt: skip
    assert job["status"] == "ACTIVE", job.get("failureReason")
    first, second, missing = read_output(tmp_path / "out" / "users.json.out")
    assert len(first["output"]["recommendedItems"]) == 7
    assert {group_of(i) for i in first["output"]["recommendedItems"]} == {3}
    assert {group_of(i) for i in second["output"]["recommendedItems"]} == {2}
    assert missing["output"] is None and "CATEGORY" in missing["error"]


def test_batch_personalized_ranking(personalize, loaded, tmp_path):  # noqa: F811
    _, version = train(personalize, loaded["group"], RANKING, "rank")
    wanted = [item(2, 1), item(0, 1), item(0, 2), "never-seen"]
    source = write_lines(tmp_path / "rank.json", [{"userId": user(0, 1), "itemList": wanted},
                                                 {"userId": user(0, 1)}])  # fmt: skip
    job = run_batch(personalize, version, source.as_uri(), (tmp_path / "out").as_uri())
    assert job["status"] == "ACTIVE", job.get("failureReason")
    ranked, missing = read_output(tmp_path / "out" / "rank.json.out")
    order = ranked["output"]["recommendedItems"]
    assert sorted(order) == sorted(wanted) and order[-1] == "never-seen"
    assert group_of(order[0]) == 0 and order.index(item(2, 1)) > order.index(item(0, 1))
    assert "itemList is required" in missing["error"]


def test_batch_job_refusals(personalize, shop, tmp_path):  # noqa: F811
    version = version_of(personalize, shop["campaign"])
    write_lines(tmp_path / "in" / "u.json", [{"userId": "u"}])

    def refused(**overrides):
        params = {
            "jobName": "refused",
            "solutionVersionArn": version,
            "jobInput": {"s3DataSource": {"path": (tmp_path / "in").as_uri() + "/"}},
            "jobOutput": {"s3DataDestination": {"path": (tmp_path / "out").as_uri() + "/"}},
            "roleArn": ROLE,
            **overrides,
        }
        with pytest.raises(ClientError) as caught:
            personalize.create_batch_inference_job(**params)
        return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]

    code, message = refused(jobOutput={"s3DataDestination": {"path": (tmp_path / "in").as_uri() + "/"}})
    assert code == "InvalidInputException" and "must differ from the input" in message
    code, message = refused(solutionVersionArn=version + "-nope")
    assert code == "ResourceNotFoundException"
    code, message = refused(batchInferenceJobMode="THEME_GENERATION")
    assert code == "InvalidInputException" and "THEME_GENERATION is not supported" in message
    code, message = refused(numResults=0)
    assert code == "InvalidInputException" and "numResults" in message
    code, message = refused(jobInput={"s3DataSource": {"path": "file:///etc/passwd"}})
    assert code == "InvalidInputException" and "jobInput.s3DataSource.path" in message
    code, message = refused(batchInferenceJobConfig={"itemExplorationConfig": {"explorationWeight": "2"}})
    assert code == "InvalidInputException" and "explorationWeight" in message
    assert personalize.list_batch_inference_jobs()["batchInferenceJobs"] == []  # nothing was created
    # What only the job can find out fails the job, with the reason.
    gone = run_batch(personalize, version, (tmp_path / "missing.json").as_uri(), (tmp_path / "o").as_uri())
    assert gone["status"] == "CREATE FAILED" and "does not exist" in gone["failureReason"]
    assert not (tmp_path / "o").exists()


def test_parts_spread_over_workers_keep_line_order(tmp_path, monkeypatch):
    """Many small parts, two workers taking them: every line answered once, in input order."""
    monkeypatch.setattr(parts, "PART_LINES", 7)
    live = start_server(tmp_path / "data", min_import_interactions=10, min_training_interactions=10)
    stop = threading.Event()
    second = threading.Thread(target=Worker(live.services.ctx, "second-worker").run_forever, args=(stop,))
    second.start()
    try:
        personalize = live.client("personalize")
        arns = make_group(personalize)
        csv = write_interactions_csv(tmp_path / "interactions.csv", rows=400, users=40, items=30)
        job = personalize.create_dataset_import_job(
            jobName="i", datasetArn=arns["dataset"], dataSource={"dataLocation": csv.as_uri()}
        )["datasetImportJobArn"]
        assert wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job),
                        "datasetImportJob")["status"] == "ACTIVE"  # fmt: skip
        _, version = train(personalize, arns["group"], POPULARITY, "pop")
        for name, users in (("a.json", range(0, 60)), ("b.json", range(60, 100))):
            write_lines(tmp_path / "in" / name, [{"userId": f"u{i}"} for i in users])
        done = run_batch(personalize, version, (tmp_path / "in").as_uri() + "/", (tmp_path / "out").as_uri())
        assert done["status"] == "ACTIVE", done.get("failureReason")
        for name, users in (("a.json", range(0, 60)), ("b.json", range(60, 100))):
            lines = read_output(tmp_path / "out" / f"{name}.out")
            assert [line["input"]["userId"] for line in lines] == [f"u{i}" for i in users]
            assert all(line["error"] is None and line["output"]["recommendedItems"] for line in lines)
            assert all("scores" not in line["output"] for line in lines)  # Popularity-Count has none
        jobs = live.services.ctx.store.jobs_for(done["batchInferenceJobArn"])
        part_jobs = [j for j in jobs if j.kind == "batch-inference-part"]
        assert len(part_jobs) == 9 + 6 and all(j.status == "done" for j in part_jobs)
        assert not list(live.services.ctx.objects.list("batch/"))  # the staged parts are gone
    finally:
        stop.set()
        second.join(10)
        live.stop()


@pytest.mark.s3
def test_batch_from_and_to_s3(tmp_path, s3_server, s3_bucket):
    s3 = s3_server.settings()
    live = start_server(
        tmp_path / "data",
        min_import_interactions=10,
        min_training_interactions=10,
        s3_endpoint_url=s3.s3_endpoint_url,
        s3_region=s3.s3_region,
        s3_access_key_id=s3.s3_access_key_id,
        s3_secret_access_key=s3.s3_secret_access_key,
    )
    try:
        personalize = live.client("personalize")
        arns = make_group(personalize)
        client = s3_server.client()
        csv = write_interactions_csv(tmp_path / "interactions.csv", rows=200, users=30)
        client.upload_file(str(csv), s3_bucket, "data/interactions.csv")
        job = personalize.create_dataset_import_job(jobName="i", datasetArn=arns["dataset"],
            dataSource={"dataLocation": f"s3://{s3_bucket}/data/interactions.csv"})["datasetImportJobArn"]  # fmt: skip
        assert wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job),
                        "datasetImportJob")["status"] == "ACTIVE"  # fmt: skip
        _, version = train(personalize, arns["group"], POPULARITY, "pop")
        client.put_object(
            Bucket=s3_bucket, Key="batch/in/one.json", Body=b'{"userId": "u1"}\n{"userId": "u2"}\n'
        )
        client.put_object(Bucket=s3_bucket, Key="batch/in/sub/two.json", Body=b'{"userId": "u3"}')
        done = run_batch(personalize, version, f"s3://{s3_bucket}/batch/in/", f"s3://{s3_bucket}/batch/out/")
        assert done["status"] == "ACTIVE", done.get("failureReason")
        keys = sorted(
            o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket, Prefix="batch/out/")["Contents"]
        )
        assert keys == ["batch/out/one.json.out", "batch/out/sub/two.json.out"]
        body = client.get_object(Bucket=s3_bucket, Key="batch/out/one.json.out")["Body"].read().decode()
        assert [json.loads(line)["input"]["userId"] for line in body.splitlines()] == ["u1", "u2"]
        missing = run_batch(
            personalize, version, f"s3://{s3_bucket}/nothing/", f"s3://{s3_bucket}/o2/", name="b2"
        )
        assert missing["status"] == "CREATE FAILED" and "No data files found" in missing["failureReason"]
    finally:
        live.stop()


ITEM_AFFINITY = "arn:aws:personalize:::recipe/aws-item-affinity"
ATTRIBUTE_AFFINITY = "arn:aws:personalize:::recipe/aws-item-attribute-affinity"


def run_segments(personalize, version, source, destination, name="segments", **extra):
    arn = personalize.create_batch_segment_job(
        jobName=name,
        solutionVersionArn=version,
        jobInput={"s3DataSource": {"path": source}},
        jobOutput={"s3DataDestination": {"path": destination}},
        roleArn=ROLE,
        **extra,
    )["batchSegmentJobArn"]
    return wait_for(
        lambda: personalize.describe_batch_segment_job(batchSegmentJobArn=arn), "batchSegmentJob", 120
    )


def test_item_affinity_segments(personalize, shop, tmp_path):  # noqa: F811
    _, version = train(personalize, shop["group"], ITEM_AFFINITY, "affinity")
    source = write_lines(tmp_path / "items.json", [{"itemId": item(2, 25)}, {"itemId": item(0, 24)},
                                                  {"itemId": "not-an-item"}, {"userId": "x"}])  # fmt: skip
    done = run_segments(personalize, version, source.as_uri(), (tmp_path / "out").as_uri(), numResults=10)
    assert done["status"] == "ACTIVE", done.get("failureReason")
    assert done["numResults"] == 10
    two, zero, unknown, no_item = read_output(tmp_path / "out" / "items.json.out")
    assert two["input"] == {"itemId": item(2, 25)} and len(two["output"]["recommendedUsers"]) == 10
    assert sum(group_of(u) == 2 for u in two["output"]["recommendedUsers"]) >= 8
    assert sum(group_of(u) == 0 for u in zero["output"]["recommendedUsers"]) >= 8
    assert unknown["output"] is None and "not in the training data" in unknown["error"]
    assert "itemId is required" in no_item["error"]
    # Users who interacted with the item are not prospects; a UserID filter on the Users dataset
    # narrows the segment: only users aged 40 (group 2).
    aged = make_filter(personalize, shop, "INCLUDE UserID WHERE Users.AGE = 40", "aged")
    source = write_lines(tmp_path / "one.json", [{"itemId": item(0, 3)}])
    done = run_segments(personalize, version, source.as_uri(), (tmp_path / "out2").as_uri(), name="aged",
                        filterArn=aged)  # fmt: skip
    assert done["status"] == "ACTIVE", done.get("failureReason")
    (line,) = read_output(tmp_path / "out2" / "one.json.out")
    assert line["output"]["recommendedUsers"] and {
        group_of(u) for u in line["output"]["recommendedUsers"]
    } == {2}
    listed = personalize.list_batch_segment_jobs(solutionVersionArn=version)["batchSegmentJobs"]
    assert {j["jobName"] for j in listed} == {"segments", "aged"}


def test_item_attribute_affinity_segments(personalize, shop, tmp_path):  # noqa: F811
    _, version = train(personalize, shop["group"], ATTRIBUTE_AFFINITY, "attributes")
    query = 'ITEMS.category = "group3" AND ITEMS.COLOR = "red"'
    source = write_lines(tmp_path / "attributes.json", [{"itemAttributes": query},
                                                       {"itemAttributes": "ITEMS.CATEGORY IN (\"x\")"},
                                                       {"itemAttributes": 'ITEMS.NOPE = "1"'}])  # fmt: skip
    done = run_segments(personalize, version, source.as_uri(), (tmp_path / "out").as_uri())
    assert done["status"] == "ACTIVE", done.get("failureReason")
    good, bad_syntax, unknown_column = read_output(tmp_path / "out" / "attributes.json.out")
    assert good["itemAttributes"] == query and len(good["output"]["recommendedUsers"]) == 25
    assert sum(group_of(u) == 3 for u in good["output"]["recommendedUsers"]) >= 18
    assert "expected ITEMS.<column>" in bad_syntax["error"] and "NOPE" in unknown_column["error"]
    # More than 10 queries in one file fails the job (AWS's limit for this recipe).
    many = write_lines(tmp_path / "many.json", [{"itemAttributes": query}] * 11)
    failed = run_segments(personalize, version, many.as_uri(), (tmp_path / "o2").as_uri(), name="many")
    assert failed["status"] == "CREATE FAILED" and "at most 10" in failed["failureReason"]


def test_segment_job_refusals(personalize, shop, tmp_path):  # noqa: F811
    up_version = version_of(personalize, shop["campaign"])
    with pytest.raises(ClientError, match="USER_SEGMENTATION") as caught:
        personalize.create_batch_segment_job(
            jobName="wrong", solutionVersionArn=up_version, roleArn=ROLE,
            jobInput={"s3DataSource": {"path": (tmp_path / "a.json").as_uri()}},
            jobOutput={"s3DataDestination": {"path": (tmp_path / "o").as_uri()}},
        )  # fmt: skip
    assert caught.value.response["Error"]["Code"] == "InvalidInputException"
    _, version = train(personalize, shop["group"], ITEM_AFFINITY, "affinity")
    with pytest.raises(ClientError, match="CreateBatchSegmentJob"):
        personalize.create_batch_inference_job(
            jobName="wrong", solutionVersionArn=version, roleArn=ROLE,
            jobInput={"s3DataSource": {"path": (tmp_path / "a.json").as_uri()}},
            jobOutput={"s3DataDestination": {"path": (tmp_path / "o").as_uri()}},
        )  # fmt: skip
    items_filter = make_filter(personalize, shop, 'INCLUDE ItemID WHERE Items.COLOR IN ("red")', "red")
    source = write_lines(tmp_path / "one.json", [{"itemId": item(0, 3)}])
    done = run_segments(
        personalize, version, source.as_uri(), (tmp_path / "out").as_uri(), filterArn=items_filter
    )
    (line,) = read_output(tmp_path / "out" / "one.json.out")
    assert done["status"] == "ACTIVE" and "takes a filter on UserID" in line["error"]
