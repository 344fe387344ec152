"""One contract suite for the metadata store, run on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest

from openpersonalize.errors import LimitExceeded, ResourceAlreadyExists
from openpersonalize.store.metadata import Job, Quota, Resource
from openpersonalize.store.metadata.sql import SqlMetadataStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'metadata.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    store = SqlMetadataStore(url)
    yield store
    store.close()


def res(arn: str, kind: str = "dataset-group", created: float = 1.0, **kw) -> Resource:
    return Resource(arn=arn, kind=kind, status="ACTIVE", created=created, updated=created, name=arn, **kw)


def test_create_get_delete_and_tags(store):
    store.create(res("a", attrs={"domain": "ECOMMERCE"}), tags={"k": "v"})
    got = store.get("a")
    assert got is not None and got.attrs == {"domain": "ECOMMERCE"} and got.name == "a"
    assert store.get_tags("a") == {"k": "v"}
    store.put_tags("a", {"k": "w", "x": "y"})
    store.remove_tags("a", ["x"])
    assert store.get_tags("a") == {"k": "w"}
    assert store.delete("a") and store.get("a") is None and store.get_tags("a") == {}
    assert not store.delete("a")


def test_duplicate_arn_or_name_is_refused_atomically(store):
    store.create(res("a", name_key="group|a"))
    with pytest.raises(ResourceAlreadyExists):
        store.create(res("a"), tags={"t": "1"})
    with pytest.raises(ResourceAlreadyExists):
        store.create(
            Resource(
                arn="b",
                kind="dataset-group",
                status="ACTIVE",
                created=1,
                updated=1,
                name="a",
                name_key="group|a",
            )
        )
    assert store.get("b") is None and store.get_tags("a") == {}
    # Without a name key a name is unique only through its ARN (which carries account and region).
    store.create(Resource(arn="b2", kind="dataset-group", status="ACTIVE", created=1, updated=1, name="a"))
    # Same name in another kind is fine; alt keys are unique per kind.
    store.create(res("c", kind="schema", alt_key="k1"))
    with pytest.raises(ResourceAlreadyExists):
        store.create(Resource(arn="d", kind="schema", status="ACTIVE", created=1, updated=1, alt_key="k1"))
    assert store.find("schema", "k1").arn == "c"


def test_update_is_compare_and_set(store):
    store.create(Resource(arn="j", kind="job", status="CREATE PENDING", created=1, updated=1, attrs={"a": 1}))
    assert store.update("j", status="ACTIVE", expect_status=["CREATE IN_PROGRESS"]) is None
    updated = store.update(
        "j", status="CREATE IN_PROGRESS", attrs={"b": 2, "a": None}, expect_status=["CREATE PENDING"]
    )
    assert updated is not None and updated.status == "CREATE IN_PROGRESS" and updated.attrs == {"b": 2}

    def bump(r: Resource) -> None:
        r.attrs["b"] += 1

    threads = [threading.Thread(target=lambda: store.update("j", modify=bump)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("j").attrs["b"] == 10
    assert store.update("missing", status="ACTIVE") is None


def test_list_pages_newest_first_with_filters(store):
    for i in range(7):
        store.create(res(f"r{i}", created=float(i), dataset_group_arn="g1" if i % 2 else "g2"))
    page = store.list("dataset-group", limit=3)
    assert [r.arn for r in page.items] == ["r6", "r5", "r4"]
    page2 = store.list("dataset-group", limit=3, after=page.next_after)
    page3 = store.list("dataset-group", limit=3, after=page2.next_after)
    assert [r.arn for r in page2.items + page3.items] == ["r3", "r2", "r1", "r0"]
    assert page3.next_after is None
    assert [r.arn for r in store.list("dataset-group", dataset_group_arn="g1").items] == ["r5", "r3", "r1"]
    assert store.count("dataset-group", dataset_group_arn="g2") == 4
    assert store.count("dataset-group", statuses=["CREATE PENDING"]) == 0


def test_each_job_is_claimed_once_under_contention(store):
    for i in range(20):
        store.enqueue(Job(kind="k", resource_arn=f"r{i}"))
    claimed: list[int] = []
    lock = threading.Lock()

    def claim(worker: str) -> None:
        while (job := store.claim_job(worker, time.time())) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 20


def test_stale_jobs_are_found_and_requeued(store):
    job_id = store.enqueue(Job(kind="k", resource_arn="r"))
    job = store.claim_job("w1", now=100.0)
    assert job.id == job_id and job.attempts == 1 and job.status == "running"
    assert store.heartbeat(job_id, "w1", now=110.0, progress=0.5)
    assert not store.heartbeat(job_id, "other", now=111.0)
    assert [j.id for j in store.stale_jobs(older_than=120.0)] == [job_id]
    store.requeue_job(job_id, not_before=130.0)
    assert store.claim_job("w2", now=125.0) is None
    again = store.claim_job("w2", now=131.0)
    assert again.id == job_id and again.attempts == 2 and again.worker_id == "w2"
    store.finish_job(job_id, error="boom")
    assert store.get_job(job_id).status == "failed" and store.jobs_for("r")[0].error == "boom"


def test_resource_and_job_are_created_together(store):
    job = Job(kind="import", resource_arn="imp")
    store.create(res("imp", kind="dataset-import-job"), job=job)
    assert job.id and store.get_job(job.id).resource_arn == "imp"
    with pytest.raises(ResourceAlreadyExists):
        store.create(res("imp", kind="dataset-import-job"), job=Job(kind="import", resource_arn="imp"))
    assert len(store.jobs_for("imp")) == 1


def test_quota_holds_under_concurrent_creates(store):
    """Regression: 20 concurrent creates against a quota of 5 used to start 14-17 (check, then create)."""
    prefix = "arn:aws:personalize:us-east-1:111111111111:"
    # Another account's in-flight jobs do not count against this one.
    store.create(
        res("arn:aws:personalize:us-east-1:222222222222:dataset-import-job/x", kind="dataset-import-job")
    )
    quota = Quota("dataset-import-job", 5, LimitExceeded("full"), statuses=("ACTIVE",), arn_prefix=prefix)
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def create(i: int) -> None:
        barrier.wait()
        try:
            store.create(res(f"{prefix}dataset-import-job/j{i}", kind="dataset-import-job"), quota=quota)
            outcomes.append("created")
        except LimitExceeded:
            outcomes.append("refused")

    threads = [threading.Thread(target=create, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("created") == 5 and outcomes.count("refused") == 15
    assert store.count("dataset-import-job", arn_prefix=prefix) == 5
    assert store.count("dataset-import-job") == 6


def test_tag_limit_holds_under_concurrent_writers(store):
    store.create(res("t"))
    barrier = threading.Barrier(8)

    def tag(i: int) -> None:
        barrier.wait()
        store.put_tags("t", {f"k{i}-{j}": "v" for j in range(30)}, max_total=200)

    threads = [threading.Thread(target=tag, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.get_tags("t")) == 180  # 6 of the 8 batches of 30 fit under 200


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_parts_kept_in_dataset_attributes_move_to_the_manifest(backend, tmp_path, request):
    """Migration 0003: the `_bulk` and `_events` lists of a dataset become dataset_parts rows."""
    import orjson
    import sqlalchemy as sa

    from openpersonalize.store.interactions.manifest import BULK, EVENTS, PartsManifest
    from openpersonalize.store.metadata import migrate

    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("fresh_postgres_url")
    )
    engine = sa.create_engine(url)
    migrate.upgrade(engine, "0002")
    attrs = {
        "_id": "d1",
        "datasetType": "INTERACTIONS",
        "_bulk": [
            {"job": "arn:job/a", "keys": ["datasets/d1/bulk/a/part-00000.parquet"], "rows": 40, "at": 5.0}
        ],
        "_events": [{"key": "datasets/d1/events/w0.log.parquet", "rows": 3, "first": 6.0, "last": 7.0}],
    }
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO resources (arn, kind, status, created, updated, attrs) "
                "VALUES ('arn:d', 'dataset', 'ACTIVE', 1, 1, :attrs)"
            ),
            {"attrs": orjson.dumps(attrs).decode()},
        )
    engine.dispose()
    store = SqlMetadataStore(url)
    try:
        assert store.get("arn:d").attrs == {"_id": "d1", "datasetType": "INTERACTIONS"}
        parts = PartsManifest(store).parts("d1")
        assert [(p.source, p.key, p.rows, p.written, p.job) for p in parts] == [
            (BULK, "datasets/d1/bulk/a/part-00000.parquet", 40, 5.0, "arn:job/a"),
            (EVENTS, "datasets/d1/events/w0.log.parquet", 3, 6.0, None),
        ]
    finally:
        store.close()


def test_parts_manifest_publishes_replaces_and_drops(store):
    from openpersonalize.store.interactions.manifest import BULK, EVENTS, Part, PartsManifest

    manifest = PartsManifest(store)
    first = [Part(f"d/bulk/a/{i}", BULK, 10, 1.0, 1.0, 1.0, "job-a") for i in range(2)]
    assert manifest.publish_bulk("d", first, replace=True) == [] and manifest.has_bulk("d")
    later = [Part("d/bulk/b/0", BULK, 5, 3.0, 3.0, 3.0, "job-b")]
    assert manifest.publish_bulk("d", later, replace=False) == []  # INCREMENTAL adds
    event = Part("d/events/s1", EVENTS, 4, 2.0, 2.0, 2.5)
    manifest.add_event_parts("d", [event])
    manifest.add_event_parts("d", [event])  # a rerun registers it once
    assert [p.key for p in manifest.parts("d")] == ["d/bulk/a/0", "d/bulk/a/1", "d/events/s1", "d/bulk/b/0"]
    assert [(d, p.key) for d, p in manifest.event_parts_since(2.4)] == [("d", "d/events/s1")]
    assert manifest.event_parts_since(2.5) == []
    full = [Part("d/bulk/c/0", BULK, 7, 4.0, 4.0, 4.0, "job-c")]
    assert sorted(manifest.publish_bulk("d", full, replace=True)) == [
        "d/bulk/a/0",
        "d/bulk/a/1",
        "d/bulk/b/0",
    ]
    assert [p.key for p in manifest.parts("d")] == ["d/events/s1", "d/bulk/c/0"]
    assert not manifest.has_bulk("other")
    assert sorted(manifest.drop("d")) == ["d/bulk/c/0", "d/events/s1"] and manifest.parts("d") == []
