"""Crash safety: acknowledged events survive kill -9 of the server; crashed jobs never hang."""

from __future__ import annotations

import time

import pytest

from openpersonalize.data.dataset_reader import read_dataset
from openpersonalize.jobs.worker import Worker
from openpersonalize.server import open_context
from openpersonalize.settings import Settings
from tests.api.helpers import make_group, wait_for, write_interactions_csv
from tests.fixtures.process import serve, worker
from tests.fixtures.server import LiveServer, free_port, start_server

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("backend", ["embedded", pytest.param("shared", marks=pytest.mark.postgres)])
def test_acknowledged_events_survive_kill_9(tmp_path, backend, request):
    data_dir = tmp_path / "data"
    port = free_port()
    shared = {"metadata_url": request.getfixturevalue("fresh_postgres_url")} if backend == "shared" else {}
    server = serve(data_dir, port=port, **shared)
    try:
        personalize, events = server.client("personalize"), server.client("personalize-events")
        arns = make_group(personalize)
        tracking = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]
        acknowledged = []
        for batch in range(40):
            event_list = [
                {
                    "eventType": "click",
                    "itemId": f"i{batch}-{k}",
                    "sentAt": 1700000000 + batch,
                    "eventId": f"{batch}-{k}",
                }
                for k in range(10)
            ]
            events.put_events(
                trackingId=tracking, userId=f"u{batch % 7}", sessionId="s", eventList=event_list
            )
            acknowledged += [e["itemId"] for e in event_list]
    finally:
        server.kill()
    ctx = open_context(Settings(data_dir=data_dir, **shared))
    table = read_dataset(ctx.store, ctx.interactions, arns["dataset"])
    assert set(acknowledged) <= set(table.column("ITEM_ID").to_pylist())
    assert table.num_rows == len(acknowledged)
    # The restarted server keeps serving the same data.
    server = serve(data_dir, port=port, **shared)
    try:
        assert personalize.describe_dataset(datasetArn=arns["dataset"])["dataset"]["status"] == "ACTIVE"
        events.put_events(
            trackingId=tracking,
            userId="u1",
            sessionId="s",
            eventList=[{"eventType": "click", "itemId": "after", "sentAt": 1}],
        )
    finally:
        server.stop()


def test_serve_runs_imports_in_its_worker_process(tmp_path):
    server = serve(tmp_path / "data")
    try:
        personalize = server.client("personalize")
        arns = make_group(personalize)
        csv = write_interactions_csv(tmp_path / "big.csv", rows=1500, users=50, items=200)
        arn = personalize.create_dataset_import_job(
            jobName="imp", datasetArn=arns["dataset"], dataSource={"dataLocation": csv.as_uri()}
        )["datasetImportJobArn"]
        job = wait_for(
            lambda: personalize.describe_dataset_import_job(datasetImportJobArn=arn), "datasetImportJob", 60
        )
        assert job["status"] == "ACTIVE", job.get("failureReason")
    finally:
        server.stop()


def _crashed_claim(server: LiveServer, arn: str) -> None:
    """Make the import look claimed by a worker that died (stale heartbeat)."""
    store = server.services.ctx.store
    job = store.jobs_for(arn)[0]
    claimed = store.claim_job("dead-worker", time.time() - 100)
    assert claimed is not None and claimed.id == job.id
    store.update(arn, status="CREATE IN_PROGRESS")


def test_job_of_a_crashed_worker_is_retried(tmp_path):
    live = start_server(tmp_path / "data", with_worker=False, min_import_interactions=10)
    try:
        personalize = live.client("personalize")
        arns = make_group(personalize)
        csv = write_interactions_csv(tmp_path / "a.csv", rows=30)
        arn = personalize.create_dataset_import_job(
            jobName="imp", datasetArn=arns["dataset"], dataSource={"dataLocation": csv.as_uri()}
        )["datasetImportJobArn"]
        _crashed_claim(live, arn)
        worker = Worker(live.services.ctx, "rescuer")
        worker.recover_stale()
        assert worker.run_once()
        job = personalize.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"]
        assert job["status"] == "ACTIVE"
        assert live.services.ctx.store.jobs_for(arn)[0].attempts == 2
    finally:
        live.stop()


def test_job_that_keeps_crashing_fails_instead_of_hanging(tmp_path):
    live = start_server(tmp_path / "data", with_worker=False, job_max_attempts=1)
    try:
        personalize = live.client("personalize")
        arns = make_group(personalize)
        arn = personalize.create_dataset_import_job(
            jobName="imp", datasetArn=arns["dataset"], dataSource={"dataLocation": "s3://bucket/x.csv"}
        )["datasetImportJobArn"]
        _crashed_claim(live, arn)
        Worker(live.services.ctx, "rescuer").recover_stale()
        job = personalize.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"]
        assert job["status"] == "CREATE FAILED" and "interrupted" in job["failureReason"]
    finally:
        live.stop()


def test_import_survives_kill_9_of_its_worker(tmp_path):
    live = start_server(tmp_path / "data", with_worker=False, job_stale_seconds=2.0)
    try:
        personalize = live.client("personalize")
        arns = make_group(personalize)
        folder = tmp_path / "parts"
        folder.mkdir()
        for part in range(40):
            write_interactions_csv(
                folder / f"part{part:02d}.csv", rows=20_000, users=500, items=900, start=part * 20_000
            )
        arn = personalize.create_dataset_import_job(
            jobName="big", datasetArn=arns["dataset"], dataSource={"dataLocation": folder.as_uri() + "/"}
        )["datasetImportJobArn"]
        first = worker(live.settings.data_dir, min_import_interactions=10)

        def describe():
            return personalize.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"]

        deadline = time.time() + 60
        while describe()["status"] != "CREATE IN_PROGRESS":
            assert time.time() < deadline, "the worker never started the job"
            time.sleep(0.02)
        first.kill()  # SIGKILL mid-import
        first.wait()
        assert describe()["status"] == "CREATE IN_PROGRESS"
        second = worker(live.settings.data_dir, min_import_interactions=10)
        try:
            job = wait_for(
                lambda: personalize.describe_dataset_import_job(datasetImportJobArn=arn),
                "datasetImportJob",
                90,
            )
        finally:
            second.terminate()
            second.wait(20)
        assert job["status"] == "ACTIVE", job.get("failureReason")
        assert live.services.ctx.store.jobs_for(arn)[0].attempts == 2
        stores = (live.services.ctx.store, live.services.ctx.interactions)
        assert read_dataset(*stores, arns["dataset"]).num_rows == 800_000
    finally:
        live.stop()


def test_workers_of_a_killed_server_exit(tmp_path):
    import psutil

    server = serve(tmp_path / "data")
    proc = server.proc
    children = psutil.Process(proc.pid).children()
    assert children, "serve starts a worker process"
    proc.kill()  # kill -9 of serve alone, not its process group
    proc.wait()
    gone, alive = psutil.wait_procs(children, timeout=10)
    for p in alive:
        p.kill()
    assert not alive, "workers outlived their serve process"


@pytest.mark.parametrize("victim", ["coordinator", "part taker"])
def test_batch_job_survives_kill_9_of_a_worker(tmp_path, victim):
    """Two worker processes share a batch job's parts; one is killed mid-job: the job still ends
    ACTIVE with every line answered once, in order (its part, or the whole job, is run again)."""
    live = start_server(tmp_path / "data", with_worker=False, job_stale_seconds=2.0, min_import_interactions=10,
                        min_training_interactions=10)  # fmt: skip
    settings = {"min_import_interactions": 10, "min_training_interactions": 10}
    workers = [worker(live.settings.data_dir, **settings) for _ in range(2)]
    try:
        personalize = live.client("personalize")
        arns = make_group(personalize)
        csv = write_interactions_csv(tmp_path / "i.csv", rows=400, users=40, items=30)
        job = personalize.create_dataset_import_job(jobName="i", datasetArn=arns["dataset"],
                                                    dataSource={"dataLocation": csv.as_uri()})["datasetImportJobArn"]  # fmt: skip
        assert (
            wait_for(
                lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job),
                "datasetImportJob",
                60,
            )["status"]
            == "ACTIVE"
        )
        solution = personalize.create_solution(name="pop", datasetGroupArn=arns["group"],
                                               recipeArn="arn:aws:personalize:::recipe/aws-popularity-count")["solutionArn"]  # fmt: skip
        version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
        assert (
            wait_for(
                lambda: personalize.describe_solution_version(solutionVersionArn=version),
                "solutionVersion",
                60,
            )["status"]
            == "ACTIVE"
        )
        users = [f"u{i}" for i in range(20_000)]
        (tmp_path / "users.json").write_text("".join(f'{{"userId": "{u}"}}\n' for u in users))
        arn = personalize.create_batch_inference_job(
            jobName="big", solutionVersionArn=version, roleArn="arn:aws:iam::123456789012:role/r",
            jobInput={"s3DataSource": {"path": (tmp_path / "users.json").as_uri()}},
            jobOutput={"s3DataDestination": {"path": (tmp_path / "out").as_uri()}},
        )["batchInferenceJobArn"]  # fmt: skip
        store = live.services.ctx.store
        deadline = time.time() + 60
        while not any(j.kind == "batch-inference-part" and j.status == "done" for j in store.jobs_for(arn)):
            assert time.time() < deadline, "no part was done"
            time.sleep(0.05)
        coordinator = next(j for j in store.jobs_for(arn) if j.kind == "batch-inference")
        pid = int(str(coordinator.worker_id).rsplit(":", 1)[1])
        killed = next(p for p in workers if (p.pid == pid) == (victim == "coordinator"))
        killed.kill()  # SIGKILL mid-job
        killed.wait()
        done = wait_for(
            lambda: personalize.describe_batch_inference_job(batchInferenceJobArn=arn),
            "batchInferenceJob",
            120,
        )
        assert done["status"] == "ACTIVE", done.get("failureReason")
        lines = (tmp_path / "out" / "users.json.out").read_text().splitlines()
        assert [line.split('"userId":"')[1].split('"')[0] for line in lines] == users
    finally:
        for proc in workers:
            proc.kill()
            proc.wait()
        live.stop()
