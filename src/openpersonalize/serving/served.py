"""Recommendations this process served, by recommendationId: PutEvents resolves implicit
impressions from them (spec §12.3), metric attribution the campaign an event came from.

Bounded in memory (the newest ``capacity`` answers); a client echoes an id within a session.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

CAPACITY = 200_000
SEPARATOR = "\x1f"  # item ids are joined: a string per answer, which the garbage collector skips


class Served:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        # recommendationId -> (the campaign or recommender that answered, its item ids joined)
        self._by_id: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, recommendation_id: str, source_arn: str, item_ids: list[str]) -> None:
        with self._lock:
            self._by_id[recommendation_id] = (source_arn, SEPARATOR.join(item_ids))
            if len(self._by_id) > self.capacity:
                self._by_id.popitem(last=False)

    def shown(self, recommendation_id: str) -> tuple[str, tuple[str, ...]] | None:
        """(the campaign that answered, the items it showed) for an id this process gave."""
        with self._lock:
            found = self._by_id.get(recommendation_id)
        if found is None:
            return None
        return found[0], tuple(found[1].split(SEPARATOR)) if found[1] else ()
