"""Dataset import jobs end to end: CSV -> worker -> Parquet, statuses and failure reasons."""

from __future__ import annotations

import pytest

from openpersonalize.data.dataset_reader import read_dataset
from tests.api.helpers import make_group, wait_for, write_interactions_csv


def _stores(server):
    s = server.services
    return s.ctx.store, s.ctx.interactions


def _import(personalize, dataset_arn, location, name="job", mode=None):
    kwargs = {"importMode": mode} if mode else {}
    arn = personalize.create_dataset_import_job(
        jobName=name, datasetArn=dataset_arn, dataSource={"dataLocation": location}, **kwargs
    )["datasetImportJobArn"]
    return wait_for(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=arn), "datasetImportJob"
    )


def test_import_csv_becomes_active_and_readable(server, personalize, tmp_path):
    arns = make_group(personalize)
    csv = write_interactions_csv(tmp_path / "interactions.csv", rows=50)
    job = _import(personalize, arns["dataset"], csv.as_uri())
    assert job["status"] == "ACTIVE", job.get("failureReason")
    assert job["importMode"] == "FULL"
    table = read_dataset(*_stores(server), arns["dataset"])
    assert table.num_rows == 50
    assert set(table.column("USER_ID").to_pylist()) == {f"u{i}" for i in range(10)}
    listed = personalize.list_dataset_import_jobs(datasetArn=arns["dataset"])["datasetImportJobs"]
    assert listed[0]["status"] == "ACTIVE" and "dataSource" not in listed[0]


def test_incremental_adds_and_full_replaces(server, personalize, tmp_path):
    arns = make_group(personalize)
    first = write_interactions_csv(tmp_path / "a.csv", rows=30)
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_dataset_import_job(
            jobName="inc0", datasetArn=arns["dataset"], dataSource={"dataLocation": first.as_uri()},
            importMode="INCREMENTAL",
        )  # fmt: skip
    assert _import(personalize, arns["dataset"], first.as_uri(), "full1")["status"] == "ACTIVE"
    second = write_interactions_csv(tmp_path / "b.csv", rows=20, start=100)
    assert _import(personalize, arns["dataset"], second.as_uri(), "inc1", "INCREMENTAL")["status"] == "ACTIVE"
    assert read_dataset(*_stores(server), arns["dataset"]).num_rows == 50
    assert _import(personalize, arns["dataset"], second.as_uri(), "full2", "FULL")["status"] == "ACTIVE"
    assert read_dataset(*_stores(server), arns["dataset"]).num_rows == 20


def test_folder_import_reads_every_file(server, personalize, tmp_path):
    arns = make_group(personalize)
    folder = tmp_path / "folder"
    folder.mkdir()
    write_interactions_csv(folder / "part1.csv", rows=15)
    write_interactions_csv(folder / "part2.csv", rows=25, start=15)
    job = _import(personalize, arns["dataset"], folder.as_uri() + "/")
    assert job["status"] == "ACTIVE", job.get("failureReason")
    assert read_dataset(*_stores(server), arns["dataset"]).num_rows == 40


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1700000000\n", ["missing the following columns", "EVENT_TYPE"]),
        (
            "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,DEVICE,TIMESTAMP\n"
            + "u1,i1,click,,web,1700000000\n" * 3
            + "u1,i1,click,,web,yesterday\n",
            ["bad.csv", "row 4", "TIMESTAMP"],
        ),
        (
            "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,DEVICE,TIMESTAMP\nu1,i1,click,,web,1700000000\n,i2,click,,web,1700000001\n",
            ["bad.csv", "row 2", "USER_ID"],
        ),
        (
            "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,DEVICE,TIMESTAMP\nu1,i1,click,lots,web,1700000000\n",
            ["bad.csv", "row 1", "EVENT_VALUE"],
        ),
    ],
    ids=["missing-column", "bad-timestamp", "missing-required", "bad-float"],
)
def test_bad_csv_fails_the_job_with_a_precise_reason(server, personalize, tmp_path, content, fragments):
    arns = make_group(personalize)
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    job = _import(personalize, arns["dataset"], bad.as_uri())
    assert job["status"] == "CREATE FAILED"
    for fragment in fragments:
        assert fragment in job["failureReason"]
    assert read_dataset(*_stores(server), arns["dataset"]).num_rows == 0


def test_too_few_interactions_fail(server, personalize, tmp_path):
    arns = make_group(personalize)
    csv = write_interactions_csv(tmp_path / "small.csv", rows=5)
    job = _import(personalize, arns["dataset"], csv.as_uri())
    assert job["status"] == "CREATE FAILED" and "at least 10" in job["failureReason"]


def test_missing_location_fails_cleanly(personalize, tmp_path):
    arns = make_group(personalize)
    job = _import(personalize, arns["dataset"], (tmp_path / "nothing.csv").as_uri())
    assert job["status"] == "CREATE FAILED" and "Invalid Data location" in job["failureReason"]
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_dataset_import_job(
            jobName="bad-scheme", datasetArn=arns["dataset"], dataSource={"dataLocation": "ftp://x/y.csv"}
        )


def test_duplicate_job_name_and_unknown_dataset(personalize, tmp_path):
    arns = make_group(personalize)
    csv = write_interactions_csv(tmp_path / "a.csv")
    _import(personalize, arns["dataset"], csv.as_uri(), "same")
    with pytest.raises(personalize.exceptions.ResourceAlreadyExistsException):
        personalize.create_dataset_import_job(
            jobName="same", datasetArn=arns["dataset"], dataSource={"dataLocation": csv.as_uri()}
        )
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.create_dataset_import_job(
            jobName="other", datasetArn=arns["dataset"] + "X", dataSource={"dataLocation": csv.as_uri()}
        )
