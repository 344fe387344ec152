"""aws-next-best-action: the actions a user is most likely to take, with propensity scores.

Actions live in the item vocabulary under a prefix (``ACTION_PREFIX``), next to the items, so
one item model (User-Personalization's EASE / item-kNN) learns from item interactions and TAKEN
action interactions together which actions a history leads to; serving's live histories then
work unchanged. A user's propensity for action ``a`` is a logistic regression per action:

    p(u, a) = sigmoid(α_a + β_a · z_ua + γ_a · o_ua)

- ``z_ua = (s_ua − mean_a) / std_a``: ``s_ua`` is the item model's score of the action from the
  user's history (mean and spread over all users; 0 without a history): what users like them do.
- ``o_ua = logit((t + k·r_a) / (t + e + k)) − logit(r_a)``: the user's own record with the
  action, ``t`` TAKEN and ``e`` NOT_TAKEN / VIEWED (the model's and every PutActionInteractions
  since), shrunk towards the action's base rate ``r_a`` (TAKEN / all, ``k`` = OWN_PRIOR); 0
  without one.
- α, β, γ are fitted on the action's interactions (each with its own outcome left out of
  ``o``), with ridges on β and γ: what a history says about an action is learned, and the base
  rate wins where it says little. α is then moved to the ``action_optimization_period``'s rate.

As AWS documents, an action's score is 0.0 until it has at least 50 TAKEN and 50
NOT_TAKEN/VIEWED interactions within six weeks of the latest action interaction; equal scores go
to the higher ``VALUE``. Expired actions
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

from openpersonalize.data.fields import ACTION_EXPOSED, ACTION_TAKEN, action_event_type
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
NEWTON_STEPS = 12
ALPHA_PRIOR = 1e-3  # pulls α towards logit(base rate) only for actions without interactions
SLOPE_RIDGE = 1.0  # keeps β and γ small where few interactions say little
OWN_PRIOR = 5.0  # a user's own record counts as much as this many events at the base rate
# Action_Interactions event types as bits of ``NextBestActionModel.kinds`` (what filters read);
# any other type sets OTHER_KIND, which only "*" matches.
KIND_BITS = {"taken": 1, "not_taken": 2, "viewed": 4}
OTHER_KIND = 8


def action_key(action_id: str) -> str:
    return ACTION_PREFIX + action_id


def combine(interactions: pa.Table, action_interactions: pa.Table | None) -> pa.Table:
    """Item interactions plus TAKEN action interactions (as prefixed items), for the item model."""
    columns = ["USER_ID", "ITEM_ID", "TIMESTAMP"]
    parts = [interactions.select(columns)]
    if action_interactions is not None and action_interactions.num_rows:
        taken = action_interactions.filter(
            pc.equal(
                pc.utf8_lower(pc.utf8_trim_whitespace(action_interactions.column("EVENT_TYPE"))), ACTION_TAKEN
            )
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
    intercept: np.ndarray = np.empty(0, np.float32)  # α per action
    slope: np.ndarray = np.empty(0, np.float32)  # β per action
    own_slope: np.ndarray = np.empty(0, np.float32)  # γ per action
    taken_count: sp.csr_matrix = sp.csr_matrix((0, 0))  # user x action: TAKEN events
    exposed_count: sp.csr_matrix = sp.csr_matrix((0, 0))  # user x action: NOT_TAKEN / VIEWED
    eligible: np.ndarray = np.empty(0, bool)
    value: np.ndarray = np.empty(0, np.float64)
    expires: np.ndarray = np.empty(0, np.float64)  # epoch seconds, inf = never
    repeat_days: np.ndarray = np.empty(0, np.float64)  # 0 = any time
    taken_at: sp.csr_matrix = sp.csr_matrix((0, 0))  # user x action: last TAKEN time (+1)
    kinds: sp.csr_matrix = sp.csr_matrix((0, 0))  # user x action: KIND_BITS of its events, or'ed
    user_ids: np.ndarray = np.empty(0, object)
    _user_index: dict[str, int] | None = None
    _action_index: dict[str, int] | None = None
    _action_columns: np.ndarray | sp.csr_matrix | None = None

    @property
    def action_ids(self) -> list[str]:
        return [str(self.item_ids[p])[len(ACTION_PREFIX) :] for p in self.action_positions.tolist()]

    @property
    def action_index(self) -> dict[str, int]:
        """ACTION_ID -> its place in ``action_ids`` (and in every per-action array)."""
        if self._action_index is None:
            self._action_index = {a: i for i, a in enumerate(self.action_ids)}
        return self._action_index

    def user_position(self, user_id: str | None) -> int | None:
        if self._user_index is None:
            self._user_index = {str(u): i for i, u in enumerate(self.user_ids.tolist())}
        return self._user_index.get(user_id) if user_id else None

    def actions_of(self, user_id: str, event_types: frozenset[str] | None) -> np.ndarray:
        """Places of the actions the user had training events for, of these types (None = any)."""
        index = self.user_position(user_id)
        if index is None or index >= self.kinds.shape[0]:
            return np.empty(0, np.int64)
        row = self.kinds.getrow(index)
        if event_types is None:
            return row.indices.astype(np.int64)
        bits = sum(KIND_BITS.get(t, 0) for t in event_types)
        return row.indices[(row.data.astype(np.int64) & bits) > 0].astype(np.int64)

    def propensities(
        self, history: np.ndarray, taken: np.ndarray | None = None, exposed: np.ndarray | None = None
    ) -> np.ndarray:
        """Per action (in ``action_positions`` order): the chance this history's user takes it;
        ``taken`` / ``exposed``: the user's own action events per action (``own_counts``)."""
        seen = np.unique(history[(history >= 0) & (history < self.n_items)])
        z = np.zeros(len(self.action_positions), np.float64)
        if len(seen):  # as in training: the sum of the history items' weights towards each action
            raw = np.asarray(self.action_columns[seen].sum(axis=0), dtype=np.float64).ravel()
            z = (raw - self.mean) / self.spread
        own = np.zeros_like(z) if taken is None or exposed is None else _own(taken, exposed, self.base_rate)
        logit = self.intercept + self.slope * z + self.own_slope * own
        return np.where(self.eligible, _sigmoid(logit), 0.0).astype(np.float32)

    @property
    def action_columns(self) -> np.ndarray | sp.csr_matrix:
        """The item model's weights towards each action (items x actions), sliced once: a
        request then reads its history's rows of these, not of the whole matrix."""
        if self._action_columns is None:
            columns = self.weights[:, self.action_positions]
            self._action_columns = columns if isinstance(columns, np.ndarray) else sp.csr_matrix(columns)
        return self._action_columns

    def own_counts(self, user_id: str | None) -> tuple[np.ndarray, np.ndarray]:
        """The user's TAKEN and NOT_TAKEN / VIEWED events per action in the training data."""
        n = len(self.action_positions)
        index = self.user_position(user_id)
        if index is None or index >= self.taken_count.shape[0]:
            return np.zeros(n), np.zeros(n)
        return (
            self.taken_count.getrow(index).toarray().ravel().astype(np.float64),
            self.exposed_count.getrow(index).toarray().ravel().astype(np.float64),
        )

    def user_scores(self, history: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Over the whole vocabulary: propensities at the actions, 0 for items."""
        scores = np.zeros(self.n_items, np.float32)
        scores[self.action_positions] = self.propensities(history)
        return scores

    def available(self, user_id: str | None, now: float) -> np.ndarray:
        """Per action: not expired, and not taken by this user within its repeat frequency."""
        ok = self.expires > now
        index = self.user_position(user_id)
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
            intercept=self.intercept,
            slope=self.slope,
            own_slope=self.own_slope,
            **csr_to_arrays("taken_count", self.taken_count),  # type: ignore[arg-type]
            **csr_to_arrays("exposed_count", self.exposed_count),  # type: ignore[arg-type]
            eligible=self.eligible,
            value=self.value,
            expires=self.expires,
            repeat_days=self.repeat_days,
            user_ids=ids_to_array(self.user_ids),
            **csr_to_arrays("taken_at", self.taken_at),  # type: ignore[arg-type]
            **csr_to_arrays("kinds", self.kinds),  # type: ignore[arg-type]
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
        if "own_slope" in arrays:
            model.intercept, model.slope, model.own_slope = (
                arrays["intercept"],
                arrays["slope"],
                arrays["own_slope"],
            )
            model.taken_count = csr_from_arrays("taken_count", arrays)
            model.exposed_count = csr_from_arrays("exposed_count", arrays)
        else:  # saved before the fitted propensities: the base rate moved by the z-score
            model.intercept = np.log(model.base_rate / (1.0 - model.base_rate)).astype(np.float32)
            model.slope = np.ones_like(model.base_rate)
            model.own_slope = np.zeros_like(model.base_rate)
        model.user_ids = ids_from_array(arrays["user_ids"])
        model.taken_at = csr_from_arrays("taken_at", arrays)
        if "kinds_shape" in arrays:  # models saved before action filters have none
            model.kinds = csr_from_arrays("kinds", arrays)
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
    kinds: dict[tuple[int, int], int] = {}
    samples: list[tuple[int, int, bool]] = []  # (user, action, taken): records and the fit's data
    if events is not None and events.num_rows:
        latest = float(pc.max(events.column("TIMESTAMP")).as_py())
        for row in events.select(["USER_ID", "ACTION_ID", "EVENT_TYPE", "TIMESTAMP"]).to_pylist():
            i = slot.get(str(row["ACTION_ID"]))
            if i is None:
                continue
            kind, when = action_event_type(str(row["EVENT_TYPE"])), float(row["TIMESTAMP"])
            u = users.get(str(row["USER_ID"]))
            if u is not None:
                bit = KIND_BITS.get(kind, OTHER_KIND)
                kinds[(u, i)] = kinds.get((u, i), 0) | bit
            in_period = when >= latest - period * DAY
            in_window = when >= latest - WINDOW_DAYS * DAY
            if u is not None and (kind == ACTION_TAKEN or kind in ACTION_EXPOSED):
                samples.append((u, i, kind == ACTION_TAKEN))
            if kind == ACTION_TAKEN:
                taken[i] += in_period
                recent_taken[i] += in_window
                if u is not None:
                    last_taken[(u, i)] = max(last_taken.get((u, i), 0.0), when)
            elif kind in ACTION_EXPOSED:
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
    pairs = list(kinds)
    model.kinds = sp.csr_matrix(
        (
            np.array([kinds[k] for k in pairs], dtype=np.int8),
            ([k[0] for k in pairs], [k[1] for k in pairs]),
        ),
        shape=(snapshot.n_users, n),
    )
    # Each action's score spread over the users, to put a history's score on the same scale.
    histories = snapshot.matrix()
    product = histories @ model.action_columns
    raw = np.asarray(product.toarray() if sp.issparse(product) else product, dtype=np.float32)
    model.mean = raw.mean(axis=0) if len(raw) else np.zeros(n, np.float32)
    spread = raw.std(axis=0) if len(raw) else np.ones(n, np.float32)
    model.spread = np.where(spread > 0, spread, 1.0).astype(np.float32)
    who, actions, labels = (
        (np.array(column) for column in zip(*samples, strict=True))
        if samples
        else (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, bool))
    )
    shape = (snapshot.n_users, n)
    taken_pairs = sp.csr_matrix((labels.astype(np.float32), (who, actions)), shape=shape)
    exposed_pairs = sp.csr_matrix(((~labels).astype(np.float32), (who, actions)), shape=shape)
    model.taken_count, model.exposed_count = taken_pairs, exposed_pairs
    z = (raw[who, actions] - model.mean[actions]) / model.spread[actions]
    # Each interaction's own outcome is left out of the user's record it is explained by.
    t = np.asarray(taken_pairs[who, actions]).ravel() - labels
    e = np.asarray(exposed_pairs[who, actions]).ravel() - ~labels
    own = _own(t, e, model.base_rate[actions])
    # Every interaction teaches how a history predicts an action; the period sets its level.
    overall = (np.bincount(actions, labels, n) + 0.5) / (np.bincount(actions, minlength=n) + 1.0)
    intercept, model.slope, model.own_slope = _fit_propensities(
        overall, actions, np.stack([z, own], axis=1), labels
    )
    lately = (taken + exposed) > 0
    shift = np.log(model.base_rate / (1 - model.base_rate)) - np.log(overall / (1 - overall))
    model.intercept = (intercept + np.where(lately, shift, 0.0)).astype(np.float32)


def _own(taken: np.ndarray, exposed: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """The user's own take rate, shrunk towards ``rate``, as a logit difference (0 without events)."""
    shrunk = (taken + OWN_PRIOR * rate) / (taken + exposed + OWN_PRIOR)
    return np.log(shrunk / (1.0 - shrunk)) - np.log(rate / (1.0 - rate))


def _fit_propensities(
    base_rate: np.ndarray, actions: np.ndarray, features: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per action, the weights of ``sigmoid(w0 + w · features)`` by Newton's method on the log
    loss of its interactions, every action at once; priors: w0 near logit(base rate), w near 0."""
    n, k = len(base_rate), features.shape[1] + 1
    prior = np.zeros((n, k))
    prior[:, 0] = np.log(base_rate / (1.0 - base_rate))
    ridge = np.array([ALPHA_PRIOR] + [SLOPE_RIDGE] * (k - 1))
    weights = prior.copy()
    x = np.concatenate([np.ones((len(actions), 1)), features.astype(np.float64)], axis=1)
    y = labels.astype(np.float64)
    for _ in range(NEWTON_STEPS if len(actions) else 0):
        p = _sigmoid((weights[actions] * x).sum(axis=1))
        r, w = p - y, np.maximum(p * (1.0 - p), 1e-9)
        gradient = ridge * (weights - prior)
        hessian = np.zeros((n, k, k)) + np.diag(ridge)
        for i in range(k):
            gradient[:, i] += np.bincount(actions, r * x[:, i], n)
            for j in range(i, k):
                hessian[:, i, j] += np.bincount(actions, w * x[:, i] * x[:, j], n)
                hessian[:, j, i] = hessian[:, i, j]
        weights -= np.linalg.solve(hessian, gradient[:, :, None])[:, :, 0]
    return (
        weights[:, 0].astype(np.float32),
        weights[:, 1].astype(np.float32),
        weights[:, 2].astype(np.float32),
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30.0, 30.0)))


def _number(value: object, default: float) -> float:
    found = number(value)
    return default if found is None else found
