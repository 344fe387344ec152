"""Recommendations this process served, by recommendationId: PutEvents resolves implicit
impressions from them (spec §12.3), metric attribution the campaign an event came from.

Bounded in memory (the newest ``capacity`` answers); a client echoes an id within a session.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

CAPACITY = 200_000


@dataclass(frozen=True)
class Recommendation:
    source_arn: str  # the campaign (or recommender) that answered
    item_ids: tuple[str, ...]


class Served:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._by_id: OrderedDict[str, Recommendation] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, recommendation_id: str, source_arn: str, item_ids: list[str]) -> None:
        with self._lock:
            self._by_id[recommendation_id] = Recommendation(source_arn, tuple(item_ids))
            if len(self._by_id) > self.capacity:
                self._by_id.popitem(last=False)

    def shown(self, recommendation_id: str) -> tuple[str, tuple[str, ...]] | None:
        """(the campaign that answered, the items it showed) for an id this process gave."""
        with self._lock:
            found = self._by_id.get(recommendation_id)
        return None if found is None else (found.source_arn, found.item_ids)
