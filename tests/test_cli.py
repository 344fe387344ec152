"""The command line: `openpersonalize jobs` shows background jobs with their progress."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.api.helpers import make_group, wait_for, write_interactions_csv


def test_jobs_command_lists_imports(server, personalize, tmp_path):
    arns = make_group(personalize)
    csv = write_interactions_csv(tmp_path / "a.csv", rows=30)
    job = personalize.create_dataset_import_job(
        jobName="imp", datasetArn=arns["dataset"], dataSource={"dataLocation": csv.as_uri()}
    )["datasetImportJobArn"]
    wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job), "datasetImportJob")
    env = {**os.environ, "PYTHONPATH": "src", "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "openpersonalize", "jobs", "--data-dir", str(server.settings.data_dir)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=True).stdout
    assert "dataset-import" in out and "done" in out and "100%" in out and job in out


def cli(server, *args, check=True):
    """`openpersonalize <args>` against the test server, as a user would run it."""
    env = {**os.environ, "PYTHONPATH": "src", "COLUMNS": "200", "OPENPERSONALIZE_ENDPOINT_URL": server.url}
    done = subprocess.run([sys.executable, "-m", "openpersonalize", *args], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_import_train_deploy_recommend_from_the_command_line(tmp_path):
    from tests.fixtures.server import start_server

    server = start_server(tmp_path / "data", min_import_interactions=10, min_training_interactions=10)
    try:
        csv = write_interactions_csv(tmp_path / "events.csv", rows=600, users=40, items=30)
        imported = json.loads(cli(server, "import", str(csv), "--group", "shop", "--json").stdout)
        assert imported["status"] == "ACTIVE" and imported["datasetArn"].endswith("dataset/shop/INTERACTIONS")
        trained = json.loads(cli(server, "train", "--group", "shop", "--json").stdout)
        assert trained["status"] == "ACTIVE" and "coverage" in trained["metrics"]
        deployed = json.loads(
            cli(server, "deploy", trained["solutionVersionArn"], "--name", "shop", "--json").stdout
        )
        assert deployed["status"] == "ACTIVE"
        answer = json.loads(
            cli(server, "recommend", "--campaign", "shop", "--user", "u1", "--num", "5", "--json").stdout
        )
        assert len(answer["itemList"]) == 5
        table = cli(server, "recommend", "--campaign", "shop", "--user", "u1", "--num", "3").stdout
        assert "rank" in table and answer["itemList"][0]["itemId"] in table
        listed = json.loads(cli(server, "list", "campaigns", "--json").stdout)
        assert [c["name"] for c in listed] == ["shop"]
        described = json.loads(cli(server, "describe", deployed["campaignArn"]).stdout)
        assert described["status"] == "ACTIVE" and described["campaignArn"] == deployed["campaignArn"]
        # Exit codes: a failed job, a refused request, no server.
        bad = tmp_path / "bad.csv"
        bad.write_text("USER_ID,ITEM_ID,TIMESTAMP\n" + "".join(f"u{i},i{i},yesterday\n" for i in range(20)))
        failed = cli(server, "import", str(bad), "--group", "shop", check=False)
        assert failed.returncode == 1 and "failureReason" in failed.stdout
        refused = cli(server, "recommend", "--campaign", "nope", "--user", "u1", check=False)
        assert refused.returncode == 3 and "ResourceNotFoundException" in refused.stderr
    finally:
        server.stop()
    gone = cli(server, "list", "campaigns", check=False)
    assert gone.returncode == 4 and "No server answers" in gone.stderr
