"""What a control-plane handler gets: the stores, the settings and the caller's scope."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from openpersonalize.control.arns import Scope
from openpersonalize.settings import Settings
from openpersonalize.store.metadata import MetadataStore
from openpersonalize.store.objects import ObjectStore


@dataclass
class Context:
    settings: Settings
    store: MetadataStore
    objects: ObjectStore
    clock: Callable[[], float] = field(default=time.time)

    def now(self) -> float:
        return round(self.clock(), 3)


@dataclass(frozen=True)
class Call:
    """One decoded, validated request."""

    params: dict[str, Any]
    scope: Scope
