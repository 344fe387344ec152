"""The command line: `openpersonalize jobs` shows background jobs with their progress."""

from __future__ import annotations

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
