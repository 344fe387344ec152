"""Promotions: a share of the list for items a promotion's filter selects (spec §15).

The promotion takes ``ceil(k × percent / 100)`` slots for the best items its filter leaves; the
rest go to the best items the request filter leaves, never the same item twice. Promoted items
are placed at random positions among the others, in their own order of score. Without enough
promoted items the others fill the list; without enough others the list is shorter.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from openpersonalize.serving.candidates import Candidates


class Pick(NamedTuple):
    item: int  # the model's item index
    score: float
    promoted: bool = False
    explored: bool = False  # a cold item in an exploration slot


def pick(candidates: Candidates, k: int, allowed: np.ndarray | None) -> list[Pick]:
    chosen, scores = candidates.top(k, allowed)
    return [Pick(index, score) for index, score in zip(chosen.tolist(), scores, strict=True)]


def pick_with_promotion(
    candidates: Candidates,
    k: int,
    allowed: np.ndarray | None,
    promoted_allowed: np.ndarray,
    percent: int,
    rng: np.random.Generator,
) -> list[Pick]:
    slots = min(k, math.ceil(k * percent / 100))
    promoted = [Pick(p.item, p.score, promoted=True) for p in pick(candidates, slots, promoted_allowed)]
    others_allowed = np.ones(len(promoted_allowed), dtype=bool) if allowed is None else allowed.copy()
    others_allowed[[p.item for p in promoted]] = False
    others = pick(candidates, k - len(promoted), others_allowed)
    return place_at_random(promoted, others, rng)


def place_at_random(placed: list[Pick], others: list[Pick], rng: np.random.Generator) -> list[Pick]:
    """``placed`` at random positions among ``others``; each list keeps its own order."""
    total = len(placed) + len(others)
    positions = set(rng.choice(total, size=len(placed), replace=False).tolist()) if total else set()
    placed_left, others_left = iter(placed), iter(others)
    return [next(placed_left) if at in positions else next(others_left) for at in range(total)]
