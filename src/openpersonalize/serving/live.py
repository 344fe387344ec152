"""Recent live events per user, so new PutEvents change recommendations without retraining.

Fed in-process by the events API right after each durable write, by the events other server
processes took (InteractionsStore.follow), and at start-up by the recent ones
(InteractionsStore.recent). Keyed by dataset id, then by user id (or session id for anonymous
events). Action interactions are kept the same way, their ACTION_ID in the item's place and
their type as action filters name it ("Not Taken" -> "not_taken").
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Iterable
from typing import Any

from openpersonalize.data.fields import action_event_type

MAX_PER_USER = 200
# Latest interactions per dataset, for what trends (bounded: a few seconds of peak traffic).
MAX_RECENT = 500_000


class LiveEvents:
    def __init__(self, max_per_user: int = MAX_PER_USER) -> None:
        self.max_per_user = max_per_user
        # dataset id -> user or session id -> (written at, item id, event type in lower case)
        self._by_dataset: dict[str, dict[str, deque[tuple[float, str, str]]]] = defaultdict(dict)
        # dataset id -> (written at, event TIMESTAMP, item id), oldest first
        self._recent: dict[str, deque[tuple[float, int, str]]] = defaultdict(lambda: deque(maxlen=MAX_RECENT))
        self._latest: dict[str, float] = {}  # dataset id -> newest event TIMESTAMP
        self._lock = threading.Lock()

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        with self._lock:
            for r in records:
                kind = r.get("_type")
                if kind == "INTERACTIONS" and r.get("ITEM_ID"):
                    item = r["ITEM_ID"]
                    event_type = str(r.get("EVENT_TYPE") or r.get("_event_type") or "").lower()
                    timestamp = int(r.get("TIMESTAMP") or 0)
                    if timestamp > self._latest.get(r["_ds"], 0.0):
                        self._latest[r["_ds"]] = float(timestamp)
                    self._recent[r["_ds"]].append((float(r.get("_at", 0.0)), timestamp, item))
                elif kind == "ACTION_INTERACTIONS" and r.get("ACTION_ID"):
                    item = r["ACTION_ID"]
                    event_type = action_event_type(str(r.get("EVENT_TYPE") or ""))
                else:
                    continue
                users = self._by_dataset[r["_ds"]]
                for key in {k for k in (r.get("USER_ID"), r.get("_session")) if k}:
                    queue = users.get(key)
                    if queue is None:
                        queue = users[key] = deque(maxlen=self.max_per_user)
                    queue.append((float(r.get("_at", 0.0)), item, event_type))

    def items_since(
        self, dataset_id: str, user: str, after: float, event_types: frozenset[str] | None = None
    ) -> list[str]:
        """Item ids the user (or session) interacted with after ``after`` (epoch seconds), oldest
        first; only by these event types (lower case) when given."""
        with self._lock:
            queue = self._by_dataset.get(dataset_id, {}).get(user)
            return [
                item
                for at, item, kind in queue or ()
                if at > after and (event_types is None or kind in event_types)
            ]

    def events_since(self, dataset_id: str, after: float) -> list[tuple[int, str]]:
        """(TIMESTAMP, item id) of every interaction written after ``after``, oldest first."""
        with self._lock:
            recent = self._recent.get(dataset_id)
            return [(timestamp, item) for at, timestamp, item in recent or () if at > after]

    def latest(self, dataset_id: str) -> float:
        """The newest live interaction's TIMESTAMP (0 when none came)."""
        return self._latest.get(dataset_id, 0.0)
