"""MetadataStore on SQLAlchemy Core: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from openpersonalize.errors import ResourceAlreadyExists
from openpersonalize.store.metadata import migrate
from openpersonalize.store.metadata.records import Job, Page, Quota, Resource
from openpersonalize.store.metadata.tables import jobs, resources, tags


class SqlMetadataStore:
    def __init__(self, url: str, *, upgrade: bool = True) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine = _make_engine(url)
        if upgrade:
            migrate.upgrade(self.engine)

    # -- plumbing ---------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            if self.is_sqlite:
                # Take the write lock up front: avoids SQLITE_BUSY upgrades between processes.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.begin()
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def close(self) -> None:
        self.engine.dispose()

    # -- resources --------------------------------------------------------------------------
    def create(
        self,
        resource: Resource,
        *,
        tags: dict[str, str] | None = None,
        job: Job | None = None,
        quota: Quota | None = None,
    ) -> None:
        try:
            with self.transaction() as conn:
                if quota is not None:
                    self._check_quota(conn, quota)
                conn.execute(resources.insert().values(**_resource_row(resource)))
                if tags:
                    _write_tags(conn, resource.arn, tags)
                if job is not None:
                    job.id = _insert_job(conn, job)
        except sa.exc.IntegrityError as exc:
            raise ResourceAlreadyExists(
                f"The resource {resource.arn} already exists"
                if "name" not in str(exc.orig).lower() or resource.name is None
                else f"A resource with the name {resource.name} already exists."
            ) from None

    def _check_quota(self, conn: Connection, quota: Quota) -> None:
        """Count inside the writing transaction, serialized with every other create under this quota.

        SQLite's BEGIN IMMEDIATE already serializes writers; PostgreSQL takes a transaction-scoped
        advisory lock on the quota, so the next creator counts only after this one commits.
        """
        if not self.is_sqlite:
            key = f"{quota.kind}|{quota.arn_prefix}|{quota.dataset_group_arn}".encode()
            lock_id = int.from_bytes(hashlib.sha256(key).digest()[:8], "big", signed=True)
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_id)))
        filters = _filters(quota.kind, None, quota.dataset_group_arn, quota.statuses, quota.arn_prefix)
        count = conn.execute(sa.select(sa.func.count()).select_from(resources).where(*filters)).scalar_one()
        if int(count) >= quota.maximum:
            raise quota.error

    def get(self, arn: str) -> Resource | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(resources).where(resources.c.arn == arn)).mappings().first()
        return _resource(row) if row else None

    def find(self, kind: str, alt_key: str) -> Resource | None:
        query = sa.select(resources).where(resources.c.kind == kind, resources.c.alt_key == alt_key)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _resource(row) if row else None

    def update(
        self,
        arn: str,
        *,
        status: str | None = None,
        attrs: dict[str, Any] | None = None,
        expect_status: Iterable[str] | None = None,
        job: Job | None = None,
        now: float | None = None,
        modify: Callable[[Resource], None] | None = None,
    ) -> Resource | None:
        """Compare-and-set: applies only if the current status is in expect_status (when given).

        ``attrs`` is merged into the stored attrs; a value of None removes that key. ``modify`` may
        change the resource in place inside the same transaction (read-modify-write without races).
        Returns the updated resource, or None if it is gone or its status did not match.
        """
        with self.transaction() as conn:
            query = sa.select(resources).where(resources.c.arn == arn)
            if not self.is_sqlite:
                query = query.with_for_update()
            row = conn.execute(query).mappings().first()
            if row is None:
                return None
            current = _resource(row)
            if expect_status is not None and current.status not in set(expect_status):
                return None
            if attrs:
                for key, value in attrs.items():
                    if value is None:
                        current.attrs.pop(key, None)
                    else:
                        current.attrs[key] = value
            if status is not None:
                current.status = status
            if modify is not None:
                modify(current)
            current.updated = now if now is not None else _now()
            conn.execute(
                resources.update()
                .where(resources.c.arn == arn)
                .values(status=current.status, updated=current.updated, attrs=_dumps(current.attrs))
            )
            if job is not None:
                job.id = _insert_job(conn, job)
            return current

    def delete(self, arn: str) -> bool:
        with self.transaction() as conn:
            conn.execute(tags.delete().where(tags.c.arn == arn))
            return conn.execute(resources.delete().where(resources.c.arn == arn)).rowcount > 0

    def list(
        self,
        kind: str,
        *,
        parent_arn: str | None = None,
        dataset_group_arn: str | None = None,
        statuses: Iterable[str] | None = None,
        arn_prefix: str | None = None,
        limit: int = 100,
        after: tuple[float, str] | None = None,
    ) -> Page:
        """Newest first; ``after`` is the (created, arn) of the last item of the previous page."""
        filters = _filters(kind, parent_arn, dataset_group_arn, statuses, arn_prefix)
        query = sa.select(resources).where(*filters)
        if after is not None:
            created, arn = after
            query = query.where(
                sa.or_(
                    resources.c.created < created,
                    sa.and_(resources.c.created == created, resources.c.arn < arn),
                )
            )
        query = query.order_by(resources.c.created.desc(), resources.c.arn.desc()).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = [_resource(r) for r in conn.execute(query).mappings()]
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, (rows[-1].created, rows[-1].arn) if more and rows else None)

    def count(
        self,
        kind: str,
        *,
        parent_arn: str | None = None,
        dataset_group_arn: str | None = None,
        statuses: Iterable[str] | None = None,
        arn_prefix: str | None = None,
    ) -> int:
        query = sa.select(sa.func.count()).select_from(resources)
        query = query.where(*_filters(kind, parent_arn, dataset_group_arn, statuses, arn_prefix))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    # -- tags -------------------------------------------------------------------------------
    def get_tags(self, arn: str) -> dict[str, str]:
        query = sa.select(tags.c.key, tags.c.value).where(tags.c.arn == arn).order_by(tags.c.key)
        with self.engine.connect() as conn:
            return {k: v for k, v in conn.execute(query)}

    def put_tags(self, arn: str, new_tags: dict[str, str], *, max_total: int | None = None) -> int:
        """Add or overwrite tags; returns how many the resource then has. Over ``max_total`` nothing
        is written (the count returned is what it would have had)."""
        with self.transaction() as conn:
            if not self.is_sqlite:  # serialize tag writers of this resource
                conn.execute(sa.select(resources.c.arn).where(resources.c.arn == arn).with_for_update())
            keys = set(conn.execute(sa.select(tags.c.key).where(tags.c.arn == arn)).scalars())
            total = len(keys | set(new_tags))
            if max_total is None or total <= max_total:
                _write_tags(conn, arn, new_tags)
        return total

    def remove_tags(self, arn: str, keys: Iterable[str]) -> None:
        with self.transaction() as conn:
            conn.execute(tags.delete().where(tags.c.arn == arn, tags.c.key.in_(list(keys))))

    # -- jobs -------------------------------------------------------------------------------
    def enqueue(self, job: Job) -> int:
        with self.transaction() as conn:
            job.id = _insert_job(conn, job)
        return job.id

    def claim_job(self, worker_id: str, now: float, *, resource_arn: str | None = None) -> Job | None:
        """Atomically take the oldest runnable queued job (SKIP LOCKED on PostgreSQL), or the oldest
        of one resource's jobs (a job taking on its own parts)."""
        pick = (
            sa.select(jobs.c.id)
            .where(jobs.c.status == "queued", jobs.c.not_before <= now)
            .order_by(jobs.c.id)
            .limit(1)
        )
        if resource_arn is not None:
            pick = pick.where(jobs.c.resource_arn == resource_arn)
        if not self.is_sqlite:
            pick = pick.with_for_update(skip_locked=True)
        with self.transaction() as conn:
            job_id = conn.execute(pick).scalar()
            if job_id is None:
                return None
            conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id)
                .values(status="running", worker_id=worker_id, heartbeat=now, attempts=jobs.c.attempts + 1)
            )
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).mappings().one()
        return _job(row)

    def heartbeat(
        self,
        job_id: int,
        worker_id: str,
        now: float,
        progress: float | None = None,
        *,
        memory_peak: int | None = None,
        memory_limit: int | None = None,
    ) -> bool:
        values: dict[str, Any] = {"heartbeat": now}
        if progress is not None:
            values["progress"] = progress
        if memory_peak is not None:
            values["memory_peak"] = memory_peak
        if memory_limit is not None:
            values["memory_limit"] = memory_limit
        with self.transaction() as conn:
            result = conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.worker_id == worker_id, jobs.c.status == "running")
                .values(**values)
            )
        return result.rowcount > 0

    def finish_job(self, job_id: int, *, error: str | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id)
                .values(status="failed" if error else "done", error=error, progress=None if error else 1.0)
            )

    def record_outcome(
        self, kind: str, resource_arn: str, *, error: str | None, payload: dict[str, Any], now: float
    ) -> None:
        """Keep one finished job row per (kind, resource) up to date: the outcome of a recurring
        task (such as compaction) that operators read with the other jobs."""
        values = {
            "status": "failed" if error else "done",
            "error": error,
            "payload": _dumps(payload),
            "heartbeat": now,
            "progress": None if error else 1.0,
        }
        with self.transaction() as conn:
            pick = sa.select(jobs.c.id).where(jobs.c.kind == kind, jobs.c.resource_arn == resource_arn)
            job_id = conn.execute(pick).scalar()
            if job_id is None:
                conn.execute(
                    jobs.insert().values(
                        kind=kind,
                        resource_arn=resource_arn,
                        attempts=1,
                        not_before=now,
                        created=now,
                        **values,
                    )
                )
            else:
                conn.execute(
                    jobs.update().where(jobs.c.id == job_id).values(attempts=jobs.c.attempts + 1, **values)
                )

    def stale_jobs(self, older_than: float) -> builtins.list[Job]:
        query = sa.select(jobs).where(jobs.c.status == "running", jobs.c.heartbeat < older_than)
        with self.engine.connect() as conn:
            return [_job(r) for r in conn.execute(query).mappings()]

    def requeue_job(self, job_id: int, not_before: float) -> None:
        with self.transaction() as conn:
            conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id)
                .values(status="queued", worker_id=None, heartbeat=None, not_before=not_before)
            )

    def get_job(self, job_id: int) -> Job | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).mappings().first()
        return _job(row) if row else None

    def recent_jobs(self, limit: int = 20) -> builtins.list[Job]:
        query = sa.select(jobs).order_by(jobs.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_job(r) for r in conn.execute(query).mappings()]

    def jobs_for(self, resource_arn: str) -> builtins.list[Job]:
        query = sa.select(jobs).where(jobs.c.resource_arn == resource_arn).order_by(jobs.c.id)
        with self.engine.connect() as conn:
            return [_job(r) for r in conn.execute(query).mappings()]


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Driver-level autocommit so our explicit BEGIN IMMEDIATE is the only transaction.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _now() -> float:
    import time

    return time.time()


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _filters(
    kind: str,
    parent_arn: str | None,
    dataset_group_arn: str | None,
    statuses: Iterable[str] | None,
    arn_prefix: str | None = None,
) -> list[Any]:
    clauses: list[Any] = [resources.c.kind == kind]
    if arn_prefix is not None:
        # substr, not LIKE: SQLite's LIKE ignores case, and account scoping must not.
        clauses.append(sa.func.substr(resources.c.arn, 1, len(arn_prefix)) == arn_prefix)
    if parent_arn is not None:
        clauses.append(resources.c.parent_arn == parent_arn)
    if dataset_group_arn is not None:
        clauses.append(resources.c.dataset_group_arn == dataset_group_arn)
    if statuses is not None:
        clauses.append(resources.c.status.in_(list(statuses)))
    return clauses


def _resource_row(r: Resource) -> dict[str, Any]:
    return {
        "arn": r.arn,
        "kind": r.kind,
        "name": r.name,
        # Kinds whose ARN is made from the name are unique through the ARN (per account and region).
        "name_key": r.name_key,
        "parent_arn": r.parent_arn,
        "dataset_group_arn": r.dataset_group_arn,
        "alt_key": r.alt_key,
        "status": r.status,
        "created": r.created,
        "updated": r.updated,
        "attrs": _dumps(r.attrs),
    }


def _resource(row: Any) -> Resource:
    return Resource(
        arn=row["arn"],
        kind=row["kind"],
        status=row["status"],
        created=row["created"],
        updated=row["updated"],
        name=row["name"],
        name_key=row["name_key"],
        parent_arn=row["parent_arn"],
        dataset_group_arn=row["dataset_group_arn"],
        alt_key=row["alt_key"],
        attrs=orjson.loads(row["attrs"]),
    )


def _write_tags(conn: Connection, arn: str, new_tags: dict[str, str]) -> None:
    if not new_tags:
        return
    conn.execute(tags.delete().where(tags.c.arn == arn, tags.c.key.in_(list(new_tags))))
    conn.execute(tags.insert(), [{"arn": arn, "key": k, "value": v} for k, v in new_tags.items()])


def _insert_job(conn: Connection, job: Job) -> int:
    job.created = job.created or _now()
    result = conn.execute(
        jobs.insert().values(
            kind=job.kind,
            resource_arn=job.resource_arn,
            payload=_dumps(job.payload),
            status=job.status,
            attempts=job.attempts,
            not_before=job.not_before,
            created=job.created,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _job(row: Any) -> Job:
    return Job(
        id=row["id"],
        kind=row["kind"],
        resource_arn=row["resource_arn"],
        payload=orjson.loads(row["payload"]),
        status=row["status"],
        attempts=row["attempts"],
        worker_id=row["worker_id"],
        heartbeat=row["heartbeat"],
        progress=row["progress"],
        not_before=row["not_before"],
        created=row["created"],
        error=row["error"],
        memory_peak=row["memory_peak"],
        memory_limit=row["memory_limit"],
    )
