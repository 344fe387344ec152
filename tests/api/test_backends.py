"""The same boto3 flow on the scale-out parts: PostgreSQL metadata, S3 objects, imports from s3://."""

from __future__ import annotations

import pytest

from openpersonalize.data.dataset_reader import read_dataset
from tests.api.helpers import make_group, wait_for, write_interactions_csv
from tests.fixtures.server import start_server

pytestmark = pytest.mark.integration


def _import(personalize, dataset, location, name):
    arn = personalize.create_dataset_import_job(
        jobName=name, datasetArn=dataset, dataSource={"dataLocation": location}
    )["datasetImportJobArn"]
    return wait_for(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=arn), "datasetImportJob"
    )


@pytest.mark.postgres
@pytest.mark.s3
def test_postgres_and_s3_end_to_end(tmp_path, fresh_postgres_url, s3_server, s3_bucket):
    s3 = s3_server.settings()
    live = start_server(
        tmp_path / "data",
        metadata_url=fresh_postgres_url,
        object_url=f"s3://{s3_bucket}/openpersonalize",
        s3_endpoint_url=s3.s3_endpoint_url,
        s3_region=s3.s3_region,
        s3_access_key_id=s3.s3_access_key_id,
        s3_secret_access_key=s3.s3_secret_access_key,
        min_import_interactions=10,
    )
    try:
        personalize = live.client("personalize")
        arns = make_group(personalize)
        csv = write_interactions_csv(tmp_path / "interactions.csv", rows=40)
        client = s3_server.client()
        client.upload_file(str(csv), s3_bucket, "input/interactions.csv")
        client.upload_file(str(csv), s3_bucket, "input/folder/a.csv")
        later = write_interactions_csv(tmp_path / "later.csv", rows=40, start=40)
        client.upload_file(str(later), s3_bucket, "input/folder/b.csv")
        job = _import(personalize, arns["dataset"], f"s3://{s3_bucket}/input/interactions.csv", "single")
        assert job["status"] == "ACTIVE", job.get("failureReason")
        stores = (live.services.ctx.store, live.services.ctx.interactions)
        assert read_dataset(*stores, arns["dataset"]).num_rows == 40
        # Parquet parts live in the bucket, not on local disk.
        keys = [
            o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket, Prefix="openpersonalize/")["Contents"]
        ]
        assert any(k.endswith(".parquet") for k in keys)
        job = _import(personalize, arns["dataset"], f"s3://{s3_bucket}/input/folder/", "folder")
        assert job["status"] == "ACTIVE", job.get("failureReason")
        assert read_dataset(*stores, arns["dataset"]).num_rows == 80
        missing = _import(personalize, arns["dataset"], f"s3://{s3_bucket}/input/nothing.csv", "missing")
        assert missing["status"] == "CREATE FAILED" and "Invalid Data location" in missing["failureReason"]
        assert [g["name"] for g in personalize.list_dataset_groups()["datasetGroups"]] == ["dg"]
    finally:
        live.stop()


@pytest.mark.postgres
@pytest.mark.s3
def test_cli_serve_with_postgres_and_s3_flags(tmp_path, fresh_postgres_url, s3_server, s3_bucket):
    """`openpersonalize serve --metadata-url ... --object-url s3://... --s3-endpoint-url ...` with its worker."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    from tests.fixtures.server import boto_client, free_port

    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": "src",
        "OPENPERSONALIZE_S3_ACCESS_KEY_ID": s3_server.access_key,
        "OPENPERSONALIZE_S3_SECRET_ACCESS_KEY": s3_server.secret_key,
        "OPENPERSONALIZE_S3_REGION": s3_server.region,
        "OPENPERSONALIZE_MIN_IMPORT_INTERACTIONS": "10",
    }
    cmd = [
        sys.executable, "-m", "openpersonalize", "serve", "--port", str(port), "--data-dir", str(tmp_path / "d"),
        "--metadata-url", fresh_postgres_url, "--object-url", f"s3://{s3_bucket}/op",
        "--s3-endpoint-url", s3_server.endpoint_url,
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        personalize = boto_client(url, "personalize")
        arns = make_group(personalize)
        csv = write_interactions_csv(tmp_path / "i.csv", rows=30)
        s3_server.client().upload_file(str(csv), s3_bucket, "in/i.csv")
        job = _import(personalize, arns["dataset"], f"s3://{s3_bucket}/in/i.csv", "cli")
        assert job["status"] == "ACTIVE", job.get("failureReason")
        keys = [
            o["Key"] for o in s3_server.client().list_objects_v2(Bucket=s3_bucket, Prefix="op/")["Contents"]
        ]
        assert any(k.endswith(".parquet") for k in keys)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
