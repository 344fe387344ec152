"""Exact status strings (spec §6) and which operations each status allows."""

from __future__ import annotations

CREATE_PENDING = "CREATE PENDING"
CREATE_IN_PROGRESS = "CREATE IN_PROGRESS"
ACTIVE = "ACTIVE"
CREATE_FAILED = "CREATE FAILED"
CREATE_STOPPING = "CREATE STOPPING"
CREATE_STOPPED = "CREATE STOPPED"
DELETE_PENDING = "DELETE PENDING"
DELETE_IN_PROGRESS = "DELETE IN_PROGRESS"
INACTIVE = "INACTIVE"  # a stopped recommender (StartRecommender makes it ACTIVE again)

IN_FLIGHT = frozenset({CREATE_PENDING, CREATE_IN_PROGRESS})
SETTLED = frozenset({ACTIVE, CREATE_FAILED, CREATE_STOPPED})

# A job-backed resource moves only along these edges; anything else is a bug or a race we lost.
TRANSITIONS: dict[str, frozenset[str]] = {
    CREATE_PENDING: frozenset({CREATE_IN_PROGRESS, CREATE_FAILED, CREATE_STOPPED}),
    CREATE_IN_PROGRESS: frozenset({ACTIVE, CREATE_FAILED, CREATE_STOPPING, CREATE_PENDING}),
    CREATE_STOPPING: frozenset({CREATE_STOPPED}),
    ACTIVE: frozenset({DELETE_PENDING, INACTIVE}),
    INACTIVE: frozenset({ACTIVE, DELETE_PENDING}),
    CREATE_FAILED: frozenset({DELETE_PENDING}),
    CREATE_STOPPED: frozenset(),
    DELETE_PENDING: frozenset({DELETE_IN_PROGRESS}),
    DELETE_IN_PROGRESS: frozenset(),
}


def sources_of(target: str) -> frozenset[str]:
    """Statuses from which ``target`` may be reached (for compare-and-set updates)."""
    return frozenset(src for src, targets in TRANSITIONS.items() if target in targets)
