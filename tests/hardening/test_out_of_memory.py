"""A training that needs more memory than the worker may use fails as out of memory, with its peak
and the limit, once: no retries into the same end. Against a real `serve` and its worker process."""

from __future__ import annotations

import random
import time

import psutil
import pytest

from tests.api.helpers import import_csv, make_group, wait_for
from tests.fixtures.process import serve

pytestmark = pytest.mark.integration
UP = "arn:aws:personalize:::recipe/aws-user-personalization"


def _wide_catalogue_csv(path, users=1000, per_user=40, items=20_000):
    """~17,000 distinct items: a dense item-item model of them needs over 1 GB."""
    rng = random.Random(5)
    lines = ["USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,DEVICE,TIMESTAMP"]
    for u in range(users):
        for k in range(per_user):
            lines.append(f"u{u},i{rng.randrange(items)},click,,web,{1_700_000_000 + u * per_user + k}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_training_over_the_memory_limit_fails_as_out_of_memory(tmp_path):
    """Regression: a worker killed for lack of memory was retried twice, then reported as
    'The job was interrupted 3 times'."""
    server = serve(tmp_path / "data", job_memory_limit_megabytes=500)
    try:
        personalize = server.client("personalize")
        arns = make_group(personalize)
        csv = _wide_catalogue_csv(tmp_path / "wide.csv")
        imported = import_csv(personalize, arns["dataset"], csv)
        assert imported["status"] == "ACTIVE", imported.get("failureReason")
        worker_before = {p.pid for p in psutil.Process(server.proc.pid).children()}
        solution = personalize.create_solution(name="wide", datasetGroupArn=arns["group"], recipeArn=UP)[
            "solutionArn"
        ]
        version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
        trained = wait_for(
            lambda: personalize.describe_solution_version(solutionVersionArn=version), "solutionVersion", 120
        )
        assert trained["status"] == "CREATE FAILED"
        reason = trained["failureReason"]
        assert (
            reason.startswith("The job ran out of memory: its worker used ")
            and "the limit is 500 MB" in reason
        )
        # The worker gave its memory back by ending; serve started a new one, which takes new jobs.
        deadline = time.time() + 20
        while {p.pid for p in psutil.Process(server.proc.pid).children()} & worker_before:
            assert time.time() < deadline, "the worker over the limit did not end"
            time.sleep(0.1)
        after = import_csv(personalize, arns["dataset"], csv, "after")
        assert after["status"] == "ACTIVE"
    finally:
        server.stop()
