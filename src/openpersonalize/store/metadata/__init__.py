"""Metadata of resources, tags and jobs; SQLite (default) or PostgreSQL behind one Protocol."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from openpersonalize.store.metadata.records import Job, Page, Quota, Resource


class MetadataStore(Protocol):
    # resources
    def create(
        self,
        resource: Resource,
        *,
        tags: dict[str, str] | None = None,
        job: Job | None = None,
        quota: Quota | None = None,
    ) -> None: ...
    def get(self, arn: str) -> Resource | None: ...
    def find(self, kind: str, alt_key: str) -> Resource | None: ...
    def update(
        self,
        arn: str,
        *,
        status: str | None = None,
        attrs: dict[str, object] | None = None,
        expect_status: Iterable[str] | None = None,
        job: Job | None = None,
        now: float | None = None,
        modify: Callable[[Resource], None] | None = None,
    ) -> Resource | None: ...
    def delete(self, arn: str) -> bool: ...
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
    ) -> Page: ...
    def count(
        self,
        kind: str,
        *,
        parent_arn: str | None = None,
        dataset_group_arn: str | None = None,
        statuses: Iterable[str] | None = None,
        arn_prefix: str | None = None,
    ) -> int: ...
    # tags
    def get_tags(self, arn: str) -> dict[str, str]: ...
    def put_tags(self, arn: str, tags: dict[str, str], *, max_total: int | None = None) -> int: ...
    def remove_tags(self, arn: str, keys: Iterable[str]) -> None: ...
    # jobs
    def enqueue(self, job: Job) -> int: ...
    def claim_job(self, worker_id: str, now: float, *, resource_arn: str | None = None) -> Job | None: ...
    def heartbeat(
        self,
        job_id: int,
        worker_id: str,
        now: float,
        progress: float | None = None,
        *,
        memory_peak: int | None = None,
        memory_limit: int | None = None,
    ) -> bool: ...
    def finish_job(self, job_id: int, *, error: str | None = None) -> None: ...
    def record_outcome(
        self, kind: str, resource_arn: str, *, error: str | None, payload: dict[str, Any], now: float
    ) -> None: ...
    def stale_jobs(self, older_than: float) -> builtins.list[Job]: ...
    def requeue_job(self, job_id: int, not_before: float) -> None: ...
    def get_job(self, job_id: int) -> Job | None: ...
    def recent_jobs(self, limit: int = 20) -> builtins.list[Job]: ...
    def jobs_for(self, resource_arn: str) -> builtins.list[Job]: ...
    def close(self) -> None: ...


def all_resources(store: MetadataStore, kind: str, **filters: Any) -> Iterator[Resource]:
    """Every resource of a kind, paging through the store (newest first)."""
    after = None
    while True:
        page = store.list(kind, limit=500, after=after, **filters)
        yield from page.items
        if page.next_after is None:
            return
        after = page.next_after


def progress_of(store: MetadataStore, resource_arn: str) -> float | None:
    """How far (0 to 1) the resource's queued or running jobs are; None when none is."""
    running = [j for j in store.jobs_for(resource_arn) if j.status in ("queued", "running")]
    return max((j.progress or 0.0) for j in running) if running else None


__all__ = ["Job", "MetadataStore", "Page", "Quota", "Resource", "all_resources", "progress_of"]
