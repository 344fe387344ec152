"""The shared interactions store of a PostgreSQL deployment: one event log for every machine.

An acknowledged record is a row of the `events` table, committed before the acknowledgement, so
losing the server that took it (kill -9, or its disk) loses nothing; any worker trains on it and
compacts it, and every server, on any machine, follows it.

- **Group commit.** Each server process has one committer thread: it takes every append queued
  meanwhile and writes them with one INSERT in one transaction. Commits are serialized by a
  transaction-scoped advisory lock, so event ids are committed in id order and a follower that
  has seen id N has seen every committed id below it.
- **Following.** Servers poll `id > last seen` a few times a second (an index range scan that
  finds nothing most of the time), skipping their own records, which they fed to serving already.
- **Compaction** is one worker at a time across the deployment (a session advisory lock; a dead
  worker's lock goes with its connection): every committed event, in batches of id ranges, to
  Parquet parts, then the rows are deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import sqlalchemy as sa

from openpersonalize.store.interactions import Batch
from openpersonalize.store.interactions.commit_waiters import FutureWaiter, settle
from openpersonalize.store.interactions.parts import PartStore
from openpersonalize.store.metadata.sql import SqlMetadataStore
from openpersonalize.store.metadata.tables import events
from openpersonalize.store.objects import ObjectStore

log = logging.getLogger(__name__)

BATCH_EVENTS = 500_000  # events per compaction batch
FOLLOW_PAGE = 10_000
_COMMIT_LOCK = 7_262_001  # advisory lock ids (arbitrary, fixed)
_COMPACTION_LOCK = 7_262_002
_INSERT = sa.text(
    "INSERT INTO events (dataset_id, at, writer, payload) "
    "SELECT d, a, :writer, p FROM unnest(CAST(:d AS text[]), CAST(:a AS float8[]), CAST(:p AS bytea[])) "
    "AS t(d, a, p)"
)


class SharedInteractions(PartStore):
    def __init__(self, metadata: SqlMetadataStore, objects: ObjectStore, *, writer: bool = False) -> None:
        super().__init__(metadata, objects)
        self.name = "eventlog:shared"
        self.engine = metadata.engine
        self.writer_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._last_seen = self._max_id()  # follow what comes from now on
        self._committer = _GroupCommitter(self.engine, self.writer_id) if writer else None

    # -- the event log -------------------------------------------------------------------------
    async def append(self, records: list[dict[str, Any]]) -> None:
        if self._committer is None:
            raise RuntimeError("this process does not write events (open the store with writer=True)")
        await self._committer.append(records)

    def seal(self) -> bool:
        return False  # nothing to seal: every committed event can be compacted

    def follow(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            query = (
                sa.select(events.c.id, events.c.writer, events.c.payload)
                .where(events.c.id > self._last_seen)
                .order_by(events.c.id)
                .limit(FOLLOW_PAGE)
            )
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return found
            self._last_seen = rows[-1].id
            found += [orjson.loads(row.payload) for row in rows if row.writer != self.writer_id]
            if len(rows) < FOLLOW_PAGE:
                return found

    def pending(self, dataset_id: str) -> list[dict[str, Any]]:
        query = sa.select(events.c.payload).where(events.c.dataset_id == dataset_id).order_by(events.c.id)
        with self.engine.connect() as conn:
            return [orjson.loads(payload) for payload in conn.execute(query).scalars()]

    def recent(self, since: float) -> Iterator[dict[str, Any]]:
        yield from self.recent_parts(since)
        query = sa.select(events.c.payload).where(events.c.at > since).order_by(events.c.id)
        with self.engine.connect() as conn:
            payloads = list(conn.execute(query).scalars())
        yield from (orjson.loads(payload) for payload in payloads)

    def drop_dataset(self, dataset_id: str) -> None:
        super().drop_dataset(dataset_id)
        with self.metadata.transaction() as conn:
            conn.execute(events.delete().where(events.c.dataset_id == dataset_id))

    # -- compaction ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def compaction(self) -> Iterator[list[Batch] | None]:
        with self.engine.connect() as conn:
            if not conn.execute(sa.select(sa.func.pg_try_advisory_lock(_COMPACTION_LOCK))).scalar():
                conn.rollback()
                yield None  # another worker is compacting
                return
            conn.commit()
            try:
                yield self._batches()
            finally:
                conn.execute(sa.select(sa.func.pg_advisory_unlock(_COMPACTION_LOCK)))
                conn.commit()

    def _batches(self) -> list[Batch]:
        with self.engine.connect() as conn:
            low, high = conn.execute(sa.select(sa.func.min(events.c.id), sa.func.max(events.c.id))).one()
        if low is None:
            return []
        batches = []
        for first in range(low, high + 1, BATCH_EVENTS):
            last = min(first + BATCH_EVENTS - 1, high)
            load = functools.partial(self._load_range, first, last)
            batches.append(Batch(f"events-{first:020d}-{last:020d}", load, (first, last)))
        return batches

    def _load_range(self, first: int, last: int) -> list[dict[str, Any]]:
        query = sa.select(events.c.payload).where(events.c.id.between(first, last)).order_by(events.c.id)
        with self.engine.connect() as conn:
            return [orjson.loads(payload) for payload in conn.execute(query).scalars()]

    def finish(self, batch: Batch) -> None:
        first, last = batch.handle
        with self.metadata.transaction() as conn:
            conn.execute(events.delete().where(events.c.id.between(first, last)))

    def backlog(self) -> int:
        with self.engine.connect() as conn:
            count = int(conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())
        return -(-count // BATCH_EVENTS)

    def close(self) -> None:
        if self._committer is not None:
            self._committer.close()

    def _max_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.id), 0))).scalar_one())


class _GroupCommitter:
    """One thread that commits every queued append together, then wakes their waiters."""

    def __init__(self, engine: sa.Engine, writer_id: str) -> None:
        self.engine = engine
        self.writer_id = writer_id
        self._cond = threading.Condition()
        self._queue: list[tuple[list[dict[str, Any]], FutureWaiter]] = []
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="events-committer", daemon=True)
        self._thread.start()

    async def append(self, records: list[dict[str, Any]]) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._cond:
            if self._closing:
                raise RuntimeError("the event log is closed")
            self._queue.append((records, FutureWaiter(loop, future)))
            self._cond.notify()
        await future

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._queue or self._closing):
                    self._cond.wait()
                taken, self._queue = self._queue, []
                closing = self._closing
            if taken:
                try:
                    self._commit([record for records, _ in taken for record in records])
                except Exception as exc:  # the database refused or went away: these appends failed
                    log.exception("committing %d appends failed", len(taken))
                    settle(((waiter, None) for _, waiter in taken), exc)
                else:
                    settle((waiter, None) for _, waiter in taken)
            if closing and not taken:
                return

    def _commit(self, records: list[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_COMMIT_LOCK)))
            conn.execute(
                _INSERT,
                {
                    "writer": self.writer_id,
                    "d": [str(r.get("_ds", "")) for r in records],
                    "a": [float(r.get("_at") or 0.0) for r in records],
                    "p": [orjson.dumps(r) for r in records],
                },
            )

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()
