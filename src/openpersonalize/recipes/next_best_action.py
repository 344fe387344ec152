"""aws-next-best-action: the actions a user is most likely to take, with propensity scores.

Actions live in the item vocabulary under a prefix (``ACTION_PREFIX``), next to the items, so
one item model (User-Personalization's EASE / item-kNN) learns from item interactions and TAKEN
action interactions together which actions a history leads to; serving's live histories then
work unchanged. A user's propensity for action ``a``:

    p(u, a) = sigmoid(logit(r_a) + (s_ua − mean_a) / std_a)

``r_a`` = TAKEN / (TAKEN + NOT_TAKEN + VIEWED) over the ``action_optimization_period``; ``s_ua``
the history's item-model score; mean and spread over all users. As AWS documents, an action's
score is 0.0 until it has at least 50 TAKEN and 50 NOT_TAKEN/VIEWED interactions within six
weeks of the latest action interaction; equal scores go to the higher ``VALUE``. Expired actions
(``EXPIRATION_TIMESTAMP``) and actions a user took within their ``REPEAT_FREQUENCY`` days are
not recommended. See docs/recipes/aws-next-best-action.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Self

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from openpersonalize.data.item_features import number
from openpersonalize.data.snapshot import Snapshot
from openpersonalize.errors import DataError
from openpersonalize.recipes._io import csr_from_arrays, csr_to_arrays, ids_from_array, ids_to_array
from openpersonalize.recipes._item_item import ItemItemModel
from openpersonalize.recipes.base import CatalogueRecipe, Progress
from openpersonalize.recipes.catalog import BY_NAME
from openpersonalize.recipes.user_personalization import UserPersonalizationRecipe

# Marks an action in the item vocabulary ("␞" is no character an id would use).
ACTION_PREFIX = "\u241eaction:"
MIN_EVENTS = 50  # TAKEN, and NOT_TAKEN/VIEWED, before an action gets a propensity (AWS)
WINDOW_DAYS = 42  # ... within six weeks of the latest action interaction
DAY = 86_400
ACTIONS_FILE = "actions.npz"
POSITIVE = "TAKEN"
EXPOSED = ("NOT_TAKEN", "VIEWED")


def action_key(action_id: str) -> str:
    return ACTION_PREFIX + action_id


def combine(interactions: pa.Table, action_interactions: pa.Table | None) -> pa.Table:
    """Item interactions plus TAKEN action interactions (as prefixed items), for the item model."""
    columns = ["USER_ID", "ITEM_ID", "TIMESTAMP"]
    parts = [interactions.select(columns)]
    if action_interactions is not None and action_interactions.num_rows:
        taken = action_interactions.filter(
            pc.equal(pc.utf8_upper(action_interactions.column("EVENT_TYPE")), POSITIVE)
        )
        ids = pc.binary_join_element_wise(pa.scalar(ACTION_PREFIX), taken.column("ACTION_ID"), "")
        parts.append(
            pa.table(
                {
                    "USER_ID": taken.column("USER_ID"),
                    "ITEM_ID": ids,
                    "TIMESTAMP": taken.column("TIMESTAMP").cast(pa.int64()),
                }
            )
        )
    return pa.concat_tables([p.cast(parts[0].schema) for p in parts])


class NextBestActionModel(ItemItemModel):
    """The item model over items and actions, plus what serving needs about the actions."""

    action_positions: np.ndarray = np.empty(0, np.int64)  # their places in the vocabulary
    base_rate: np.ndarray = np.empty(0, np.float32)
    mean: np.ndarray = np.empty(0, np.float32)
    spread: np.ndarray = np.empty(0, np.float32)
    eligible: np.ndarray = np.empty(0, bool)
    value: np.ndarray = np.empty(0, np.float64)
    expires: np.ndarray = np.empty(0, np.float64)  # epoch seconds, inf = never
    repeat_days: np.ndarray = np.empty(0, np.float64)  # 0 = any time
    taken_at: sp.csr_matrix = sp.csr_matrix((0, 0))  # user x action: last TAKEN time (+1)
    user_ids: np.ndarray = np.empty(0, object)

    @property
    def action_ids(self) -> list[str]:
        return [str(self.item_ids[p])[len(ACTION_PREFIX) :] for p in self.action_positions.tolist()]

    def propensities(self, history: np.ndarray) -> np.ndarray:
        """Per action (in ``action_positions`` order): the chance this history's user takes it."""
        raw = ItemItemModel.user_scores(self, history)[self.action_positions]
        z = (raw - self.mean) / self.spread
        logit = np.log(self.base_rate / (1.0 - self.base_rate)) + z
        return np.where(self.eligible, 1.0 / (1.0 + np.exp(-logit)), 0.0).astype(np.float32)

    def user_scores(self, history: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Over the whole vocabulary: propensities at the actions, 0 for items."""
        scores = np.zeros(self.n_items, np.float32)
        scores[self.action_positions] = self.propensities(history)
        return scores

    def available(self, user_id: str | None, now: float) -> np.ndarray:
        """Per action: not expired, and not taken by this user within its repeat frequency."""
        ok = self.expires > now
        index = {u: i for i, u in enumerate(self.user_ids.tolist())}.get(user_id) if user_id else None
        if index is not None:
            row = self.taken_at.getrow(index)
            last = np.zeros(len(self.action_positions))
            last[row.indices] = row.data - 1.0
            ok &= ~((last > 0) & (self.repeat_days > 0) & (now - last < self.repeat_days * DAY))
        return ok

    def save(self, directory: Path) -> None:
        super().save(directory)
        np.savez(
            directory / ACTIONS_FILE,
            action_positions=self.action_positions,
            base_rate=self.base_rate,
            mean=self.mean,
            spread=self.spread,
            eligible=self.eligible,
            value=self.value,
            expires=self.expires,
            repeat_days=self.repeat_days,
            user_ids=ids_to_array(self.user_ids),
            **csr_to_arrays("taken_at", self.taken_at),  # type: ignore[arg-type]
        )

    @classmethod
    def load(cls, directory: Path) -> Self:
        model = super().load(directory)
        with np.load(directory / ACTIONS_FILE, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        for name in (
            "action_positions",
            "base_rate",
            "mean",
            "spread",
            "eligible",
            "value",
            "expires",
            "repeat_days",
        ):
            setattr(model, name, arrays[name])
        model.user_ids = ids_from_array(arrays["user_ids"])
        model.taken_at = csr_from_arrays("taken_at", arrays)
        return model


class NextBestActionRecipe(CatalogueRecipe):
    def fit(
        self,
        snapshot: Snapshot,
        params: Mapping[str, object],
        *,
        seed: int = 42,
        progress: Progress | None = None,
    ) -> NextBestActionModel:
        period_days = int(self.values(params)["action_optimization_period"])
        actions, events = snapshot.actions_table, snapshot.action_interactions
        if actions is None or not actions.num_rows:
            raise DataError(
                "Create failed. aws-next-best-action needs an Actions dataset with at least one action."
            )
        base = UserPersonalizationRecipe(BY_NAME["aws-user-personalization"]).fit(
            snapshot, {}, seed=seed, progress=progress
        )
        index = snapshot.item_index()
        action_ids = list(dict.fromkeys(str(a) for a in actions.column("ACTION_ID").to_pylist()))
        positions = np.array([index[action_key(a)] for a in action_ids], dtype=np.int64)
        model = NextBestActionModel(
            self.name, base.item_ids, base.weights, base.popularity,
            history_window=base.history_window, half_life=base.half_life,
            recency_floor=base.recency_floor, params={"action_optimization_period": period_days},
        )  # fmt: skip
        model.action_positions = positions
        model.user_ids = snapshot.user_ids
        rows = {str(r["ACTION_ID"]): r for r in actions.to_pylist()}
        model.value = np.array([_number(rows[a].get("VALUE"), 0.0) for a in action_ids])
        model.expires = np.array([_number(rows[a].get("EXPIRATION_TIMESTAMP"), np.inf) for a in action_ids])
        model.repeat_days = np.array([_number(rows[a].get("REPEAT_FREQUENCY"), 0.0) for a in action_ids])
        _learn_rates(model, snapshot, action_ids, events, period_days)
        return model

    def load(self, directory: Path) -> NextBestActionModel:
        return NextBestActionModel.load(directory)


def _learn_rates(
    model: NextBestActionModel,
    snapshot: Snapshot,
    action_ids: list[str],
    events: pa.Table | None,
    period: int,
) -> None:
    n = len(action_ids)
    taken, exposed = np.zeros(n), np.zeros(n)
    recent_taken, recent_exposed = np.zeros(n), np.zeros(n)
    slot = {a: i for i, a in enumerate(action_ids)}
    users = snapshot.user_index()
    last_taken: dict[tuple[int, int], float] = {}
    if events is not None and events.num_rows:
        latest = float(pc.max(events.column("TIMESTAMP")).as_py())
        for row in events.select(["USER_ID", "ACTION_ID", "EVENT_TYPE", "TIMESTAMP"]).to_pylist():
            i = slot.get(str(row["ACTION_ID"]))
            if i is None:
                continue
            kind, when = str(row["EVENT_TYPE"]).upper(), float(row["TIMESTAMP"])
            in_period = when >= latest - period * DAY
            in_window = when >= latest - WINDOW_DAYS * DAY
            if kind == POSITIVE:
                taken[i] += in_period
                recent_taken[i] += in_window
                u = users.get(str(row["USER_ID"]))
                if u is not None:
                    last_taken[(u, i)] = max(last_taken.get((u, i), 0.0), when)
            elif kind in EXPOSED:
                exposed[i] += in_period
                recent_exposed[i] += in_window
    model.eligible = (recent_taken >= MIN_EVENTS) & (recent_exposed >= MIN_EVENTS)
    model.base_rate = ((taken + 0.5) / (taken + exposed + 1.0)).astype(np.float32)
    keys = list(last_taken)
    model.taken_at = sp.csr_matrix(
        (
            [last_taken[k] + 1.0 for k in keys],
            ([k[0] for k in keys], [k[1] for k in keys]),
        ),
        shape=(snapshot.n_users, n),
    )
    # Each action's score spread over the users, to put a history's score on the same scale.
    histories = snapshot.matrix()
    raw = np.asarray(histories @ _columns(model, model.action_positions), dtype=np.float32)
    model.mean = raw.mean(axis=0) if len(raw) else np.zeros(n, np.float32)
    spread = raw.std(axis=0) if len(raw) else np.ones(n, np.float32)
    model.spread = np.where(spread > 0, spread, 1.0).astype(np.float32)


def _columns(model: ItemItemModel, positions: np.ndarray) -> np.ndarray:
    columns = model.weights[:, positions]
    return columns if isinstance(columns, np.ndarray) else columns.toarray()


def _number(value: object, default: float) -> float:
    found = number(value)
    return default if found is None else found
