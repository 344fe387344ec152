"""Plain records the metadata store hands out (ORM/SQL rows never leave store/)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Resource:
    """One Personalize resource. ``attrs`` holds the kind-specific members of its Describe shape."""

    arn: str
    kind: str
    status: str
    created: float
    updated: float
    name: str | None = None
    # Uniqueness scope of the name within its kind (defaults to the name itself).
    name_key: str | None = None
    parent_arn: str | None = None
    dataset_group_arn: str | None = None
    # A secondary unique lookup key within the kind (e.g. an event tracker's trackingId).
    alt_key: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Job:
    """A unit of background work (import, training, ...) for a worker process."""

    kind: str
    resource_arn: str
    payload: dict[str, Any] = field(default_factory=dict)
    id: int = 0
    status: str = "queued"  # queued | running | done | failed
    attempts: int = 0
    worker_id: str | None = None
    heartbeat: float | None = None
    progress: float | None = None
    not_before: float = 0.0
    created: float = 0.0
    error: str | None = None
    memory_peak: int | None = None  # bytes, reported with heartbeats
    memory_limit: int | None = None


@dataclass
class Page:
    items: list[Resource]
    # (created, arn) of the last item when more remain, else None.
    next_after: tuple[float, str] | None


@dataclass(frozen=True)
class Quota:
    """At most ``maximum`` resources of ``kind`` matching the filters may exist after a create.

    The store counts and inserts in one serialized transaction, so concurrent creates can never
    overshoot; ``error`` is raised (and nothing written) when the quota is full.
    """

    kind: str
    maximum: int
    error: Exception
    statuses: Collection[str] | None = None
    arn_prefix: str | None = None
    dataset_group_arn: str | None = None
