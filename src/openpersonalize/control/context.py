"""What a control-plane handler gets: the stores, the settings and the caller's scope."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from openpersonalize.control.scoped_store import ScopedStore
from openpersonalize.scope import Scope
from openpersonalize.settings import Settings
from openpersonalize.store.interactions import InteractionsStore
from openpersonalize.store.metadata import MetadataStore
from openpersonalize.store.metadata.series import AttributionSeries
from openpersonalize.store.objects import ObjectStore


@dataclass
class Context:
    settings: Settings
    store: MetadataStore
    objects: ObjectStore
    interactions: InteractionsStore
    series: AttributionSeries  # metric attribution's time series
    clock: Callable[[], float] = field(default=time.time)

    def now(self) -> float:
        return round(self.clock(), 3)

    def scoped(self, scope: Scope, action: str) -> Context:
        """This context as one caller of ``action`` sees it: its own account and region only."""
        return dataclasses.replace(self, store=cast(MetadataStore, ScopedStore(self.store, scope, action)))


@dataclass(frozen=True)
class Call:
    """One decoded, validated request."""

    params: dict[str, Any]
    scope: Scope
