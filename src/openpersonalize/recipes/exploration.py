"""``itemExplorationConfig`` (campaigns, recommenders, batch inference): read and checked once.

``explorationWeight`` (0–1, default 0.3): the most of a list exploration may take.
``explorationItemAgeCutOff`` (days, default 30): how old, before the latest interaction, an
item may be and still be explored. Values are strings on the wire, as AWS takes them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openpersonalize.errors import InvalidInput

DEFAULT_WEIGHT, DEFAULT_CUT_OFF_DAYS = 0.3, 30.0


@dataclass(frozen=True)
class Exploration:
    weight: float = DEFAULT_WEIGHT
    cut_off_days: float = DEFAULT_CUT_OFF_DAYS

    @classmethod
    def of(
        cls, config: Mapping[str, Any] | None, where: str = "campaignConfig.itemExplorationConfig"
    ) -> Exploration:
        """Read and check an itemExplorationConfig (values are strings, as AWS takes them)."""
        config = config or {}
        unknown = [key for key in config if key not in ("explorationWeight", "explorationItemAgeCutOff")]
        if unknown:
            raise InvalidInput(f"{where}: unknown key '{unknown[0]}'.")
        weight = _number(config, "explorationWeight", DEFAULT_WEIGHT, where)
        if not 0.0 <= weight <= 1.0:
            raise InvalidInput(
                f"{where}.explorationWeight must be between 0 and 1; got {config['explorationWeight']}."
            )
        cut_off = _number(config, "explorationItemAgeCutOff", DEFAULT_CUT_OFF_DAYS, where)
        if cut_off <= 0:
            raise InvalidInput(
                f"{where}.explorationItemAgeCutOff must be a positive number of days; "
                f"got {config['explorationItemAgeCutOff']}."
            )
        return cls(weight, cut_off)


def _number(config: Mapping[str, Any], name: str, default: float, where: str) -> float:
    raw = config.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise InvalidInput(f"{where}.{name} must be a number; got '{raw}'.") from None
    if not math.isfinite(value):
        raise InvalidInput(f"{where}.{name} must be a finite number; got '{raw}'.")
    return value
