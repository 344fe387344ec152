"""Exploration: a share of a recommendation list for cold items (spec §7, §14).

``campaignConfig.itemExplorationConfig``: ``explorationWeight`` (0–1, default 0.3) sets the most
slots exploration may take, ``ceil(k × weight)``; ``explorationItemAgeCutOff`` (days, default 30)
keeps items created longer ago than that before the latest interaction out of it. The best cold
items by their metadata score each take a slot with the chance ``ColdItems.chances`` gives (it
fades as the item is shown and used); they replace the lowest-scored unpromoted picks and are
placed at random positions, in their own order of score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from openpersonalize.recipes.exploration import Exploration
from openpersonalize.serving.candidates import Candidates, fit
from openpersonalize.serving.promotions import Pick, place_at_random
from openpersonalize.serving.scoring import softmax_at


def explore(
    picks: list[Pick],
    candidates: Candidates,
    k: int,
    allowed: np.ndarray | None,
    exploration: Exploration,
    now: float,
    interactions: Mapping[int, int],
    rng: np.random.Generator,
) -> list[Pick]:
    cold = candidates.deployed.cold_items
    slots = min(k, math.ceil(k * exploration.weight))
    if cold is None or not slots:
        return picks
    scores = candidates.scores()
    pool = cold.explorable(now, exploration.cut_off_days)
    pool = pool[pool < len(scores)]
    if allowed is not None:
        pool = pool[fit(allowed, len(scores))[pool]]
    listed = {p.item for p in picks}  # cold items already listed on their merit stay as they are
    pool = np.array([i for i in pool.tolist() if i not in listed], dtype=np.int64)
    if not len(pool):
        return picks
    best = pool[np.argsort(-scores[pool], kind="stable")[:slots]]
    chosen = best[rng.random(len(best)) < cold.chances(best, interactions)]
    if not len(chosen):
        return picks
    cold.record_shown(chosen.tolist())
    probabilities = softmax_at(scores, chosen)
    explored = [Pick(int(i), p, explored=True) for i, p in zip(chosen.tolist(), probabilities, strict=True)]
    others = _drop_lowest(picks, len(picks) + len(explored) - k, set(cold.positions.tolist()))
    return place_at_random(explored, others, rng)


def _drop_lowest(picks: list[Pick], n: int, cold: set[int]) -> list[Pick]:
    """The picks without the ``n`` lowest-scored plain ones (promoted items and cold items keep
    their slots: exploration wants the latter shown)."""
    if n <= 0:
        return picks
    droppable = sorted(
        (i for i, p in enumerate(picks) if not p.promoted and p.item not in cold),
        key=lambda i: picks[i].score,
    )
    gone = set(droppable[:n])
    return [p for i, p in enumerate(picks) if i not in gone]
