"""A small interactions dataset with visible structure: users in 4 taste groups, items in 4 groups."""

from __future__ import annotations

import random
from pathlib import Path

GROUPS = 4
ITEMS_PER_GROUP = 30
USERS_PER_GROUP = 20


def item(group: int, i: int) -> str:
    return f"g{group}-item{i}"


def user(group: int, u: int) -> str:
    return f"g{group}-user{u}"


def group_of(item_id: str) -> int:
    return int(item_id.split("-")[0][1:])


def write_clustered_csv(path: Path, seed: int = 3) -> Path:
    """~2,900 interactions: each user mostly (90%) interacts with items of their own group."""
    rng = random.Random(seed)
    lines = ["USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,DEVICE,TIMESTAMP"]
    t = 1_700_000_000
    for g in range(GROUPS):
        for u in range(USERS_PER_GROUP):
            for _ in range(36):
                own = rng.random() < 0.9
                target = g if own else rng.randrange(GROUPS)
                # Skewed popularity inside a group: low item numbers are more popular.
                i = min(int(rng.expovariate(1 / 8)), ITEMS_PER_GROUP - 1)
                t += rng.randrange(1, 60)
                event = "purchase" if rng.random() < 0.2 else "click"
                lines.append(f"{user(g, u)},{item(target, i)},{event},,web,{t}")
    path.write_text("\n".join(lines) + "\n")
    return path
