"""Metadata of resources, tags and jobs; SQLite (default) or PostgreSQL behind one Protocol."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from typing import Protocol

from openpersonalize.store.metadata.records import Job, Page, Resource


class MetadataStore(Protocol):
    # resources
    def create(
        self, resource: Resource, *, tags: dict[str, str] | None = None, job: Job | None = None
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
    ) -> int: ...
    # tags
    def get_tags(self, arn: str) -> dict[str, str]: ...
    def put_tags(self, arn: str, tags: dict[str, str]) -> None: ...
    def remove_tags(self, arn: str, keys: Iterable[str]) -> None: ...
    # jobs
    def enqueue(self, job: Job) -> int: ...
    def claim_job(self, worker_id: str, now: float) -> Job | None: ...
    def heartbeat(self, job_id: int, worker_id: str, now: float, progress: float | None = None) -> bool: ...
    def finish_job(self, job_id: int, *, error: str | None = None) -> None: ...
    def stale_jobs(self, older_than: float) -> builtins.list[Job]: ...
    def requeue_job(self, job_id: int, not_before: float) -> None: ...
    def get_job(self, job_id: int) -> Job | None: ...
    def jobs_for(self, resource_arn: str) -> builtins.list[Job]: ...
    def close(self) -> None: ...


__all__ = ["Job", "MetadataStore", "Page", "Resource"]
