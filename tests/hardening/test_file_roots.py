"""file:// locations read only under the file roots; failure reasons never quote foreign files;
secrets never reach a worker's environment. Against a real `openpersonalize serve` process."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import make_group, wait_for, write_interactions_csv
from tests.fixtures.process import serve
from tests.hardening.helpers import CREDENTIALS, KEYS, client

pytestmark = pytest.mark.integration
S3_SECRET = "s3-secret-that-must-stay-put"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("roots")
    inputs = base / "inputs"
    (inputs / ".hidden").mkdir(parents=True)
    write_interactions_csv(inputs / "good.csv", rows=20)
    write_interactions_csv(inputs / ".hidden" / "x.csv", rows=20)
    (inputs / "secret.txt").write_text("TOP-SECRET-LINE: do not show\nmore secret\n")
    (inputs / "passwd-link.csv").symlink_to("/etc/passwd")
    (inputs / "etc-link").symlink_to("/etc")
    mixed = inputs / "mixed"
    mixed.mkdir()
    write_interactions_csv(mixed / "a.csv", rows=20)
    (mixed / "b.csv").symlink_to("/etc/passwd")
    server = serve(
        base / "data",
        file_roots=inputs,
        credentials=CREDENTIALS,
        s3_secret_access_key=S3_SECRET,
        min_import_interactions=10,
    )
    personalize = client(server.url, "personalize")
    arns = make_group(personalize)
    yield {"server": server, "inputs": inputs, "personalize": personalize, "dataset": arns["dataset"]}
    server.stop()


def _create(world, location: str, name: str = "probe") -> str:
    return world["personalize"].create_dataset_import_job(
        jobName=name, datasetArn=world["dataset"], dataSource={"dataLocation": location}
    )["datasetImportJobArn"]


REFUSED = [
    "file:///etc/shadow",
    "file:///proc/self/environ",
    "file:///etc/",
    "{inputs}/../../../../etc/passwd",
    "{inputs}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "{inputs}/passwd-link.csv",
    "{inputs}/etc-link/passwd",
    "{inputs}/.hidden/x.csv",
    "{data}/metadata.db",
    "{data}/",
]


@pytest.mark.parametrize("location", REFUSED)
def test_locations_outside_the_roots_are_refused_at_once(world, location):
    """Regression: file:///etc/shadow and /proc/self/environ were read and quoted in failureReason."""
    location = location.format(inputs=world["inputs"].as_uri(), data=world["server"].data_dir.as_uri())
    with pytest.raises(ClientError) as error:
        _create(world, location)
    assert error.value.response["Error"]["Code"] == "InvalidInputException"
    assert "OPENPERSONALIZE_FILE_ROOTS" in error.value.response["Error"]["Message"]
    jobs = world["personalize"].list_dataset_import_jobs(datasetArn=world["dataset"])["datasetImportJobs"]
    assert not [j for j in jobs if j["jobName"] == "probe"]  # nothing was created


def test_a_link_inside_an_allowed_folder_cannot_escape(world):
    arn = _create(world, world["inputs"].as_uri() + "/mixed/", "mixed")
    job = wait_for(
        lambda: world["personalize"].describe_dataset_import_job(datasetImportJobArn=arn), "datasetImportJob"
    )
    assert job["status"] == "CREATE FAILED"
    assert "OPENPERSONALIZE_FILE_ROOTS" in job["failureReason"] and "root:" not in job["failureReason"]


def test_a_file_that_is_not_the_expected_csv_is_never_quoted(world):
    arn = _create(world, (world["inputs"] / "secret.txt").as_uri(), "secret")
    job = wait_for(
        lambda: world["personalize"].describe_dataset_import_job(datasetImportJobArn=arn), "datasetImportJob"
    )
    assert job["status"] == "CREATE FAILED"
    assert "SECRET" not in job["failureReason"] and "secret.txt, header: column 1" in job["failureReason"]


def test_files_under_the_roots_import(world):
    arn = _create(world, (world["inputs"] / "good.csv").as_uri(), "good")
    job = wait_for(
        lambda: world["personalize"].describe_dataset_import_job(datasetImportJobArn=arn), "datasetImportJob"
    )
    assert job["status"] == "ACTIVE", job.get("failureReason")


def test_secrets_do_not_travel_in_worker_environments(world):
    """Regression: serve handed every setting, secrets included, to its workers as env variables."""
    workers = psutil.Process(world["server"].proc.pid).children()
    assert workers, "serve starts a worker"
    for worker in workers:
        environ = Path(f"/proc/{worker.pid}/environ").read_bytes()
        assert not [v for v in environ.split(b"\0") if v.startswith(b"OPENPERSONALIZE_")]
        for secret in (KEYS["A"][1], KEYS["B"][1], S3_SECRET):
            assert secret.encode() not in environ
    assert os.environ.get("OPENPERSONALIZE_CREDENTIALS") is None  # the test process never had them
