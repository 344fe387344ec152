"""A training snapshot: interactions as integer-coded arrays plus id vocabularies.

Built from a dataset group's Interactions (and optional Items/Users) data; recipes train on it
and evaluation splits it. Users and items are numbered 0..n-1 in first-seen order of the
sorted-by-time interactions, so the same data always gives the same snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from openpersonalize.data.fields import ParsedSchema


@dataclass
class Snapshot:
    user_ids: np.ndarray  # object array: index -> USER_ID
    item_ids: np.ndarray  # object array: index -> ITEM_ID
    users: np.ndarray  # int32, one per interaction, sorted by (timestamp, original order)
    items: np.ndarray  # int32
    timestamps: np.ndarray  # int64 epoch seconds
    event_types: np.ndarray  # object array of EVENT_TYPE strings ("" when the schema has none)
    weights: np.ndarray  # float32 per interaction (1.0 unless events are weighted)
    items_table: pa.Table | None = None  # Items dataset rows (ITEM_ID + metadata), if any
    users_table: pa.Table | None = None
    # Per interaction, the items shown with it ("a|b|c", explicit or from its recommendationId).
    impressions: np.ndarray | None = None
    # Per item, its Items metadata as a unit vector (data/item_features.py), when there is any.
    item_vectors: np.ndarray | None = None
    item_text_vectors: np.ndarray | None = None  # their textual fields' embeddings alone
    items_schema: ParsedSchema | None = None
    # Next-Best-Action: the Actions rows and the action interactions (their ids are in the item
    # vocabulary under a prefix, see recipes/next_best_action.py).
    actions_table: pa.Table | None = None
    action_interactions: pa.Table | None = None
    _user_index: dict[str, int] = field(default_factory=dict, repr=False)
    _item_index: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_interactions(self) -> int:
        return len(self.users)

    def user_index(self) -> dict[str, int]:
        if not self._user_index:
            self._user_index = {u: i for i, u in enumerate(self.user_ids)}
        return self._user_index

    def item_index(self) -> dict[str, int]:
        if not self._item_index:
            self._item_index = {it: i for i, it in enumerate(self.item_ids)}
        return self._item_index

    def matrix(self, *, binary: bool = True) -> sp.csr_matrix:
        """users x items; repeated interactions add up unless ``binary``."""
        data = np.ones(self.n_interactions, np.float32) if binary else self.weights
        m = sp.csr_matrix(
            (data, (self.users, self.items)), shape=(self.n_users, self.n_items), dtype=np.float32
        )
        m.sum_duplicates()
        if binary:
            m.data[:] = 1.0
        return m

    def subset(self, mask: np.ndarray) -> Snapshot:
        """The same vocabularies with only the interactions where ``mask`` is true."""
        return Snapshot(
            self.user_ids,
            self.item_ids,
            self.users[mask],
            self.items[mask],
            self.timestamps[mask],
            self.event_types[mask],
            self.weights[mask],
            self.items_table,
            self.users_table,
            None if self.impressions is None else self.impressions[mask],
            self.item_vectors,
            self.item_text_vectors,
            self.items_schema,
            self.actions_table,
            self.action_interactions,
        )


def build_snapshot(
    interactions: pa.Table,
    *,
    items_table: pa.Table | None = None,
    users_table: pa.Table | None = None,
    event_type: str | None = None,
    event_value_threshold: float | None = None,
    event_types_any_case: tuple[str, ...] = (),
) -> Snapshot:
    """Select training events (eventType, or any of ``event_types_any_case`` whatever their case,
    as recommenders' use cases take them; eventValueThreshold) and encode them."""
    table = interactions
    if event_type:
        table = table.filter(pc.equal(table.column("EVENT_TYPE"), event_type))
    if event_types_any_case and "EVENT_TYPE" in table.column_names:
        lowered = pc.utf8_lower(table.column("EVENT_TYPE"))
        wanted_types = pa.array([t.lower() for t in event_types_any_case], pa.string())
        table = table.filter(pc.fill_null(pc.is_in(lowered, value_set=wanted_types), False))
    if event_value_threshold is not None and "EVENT_VALUE" in table.column_names:
        table = table.filter(pc.greater_equal(table.column("EVENT_VALUE"), event_value_threshold))
    if "USER_ID" in table.column_names:
        table = table.filter(pc.is_valid(table.column("USER_ID")))  # anonymous events: sessions only
    wanted = ("USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP", "IMPRESSION")
    table = table.select([c for c in wanted if c in table.column_names])
    times = table.column("TIMESTAMP").to_numpy().astype(np.int64)
    if len(times) > 1 and not (times[1:] >= times[:-1]).all():  # exports often come in time order
        order = np.argsort(times, kind="stable")
        table, times = table.take(pa.array(order)), times[order]
    users, user_ids = _encode(table.column("USER_ID"))
    items, item_ids = _encode(table.column("ITEM_ID"))
    if items_table is not None:
        # Items known only from the Items dataset get ids too (cold items can be recommended).
        known = set(item_ids)
        extra = [i for i in dict.fromkeys(items_table.column("ITEM_ID").to_pylist()) if i not in known]
        item_ids = np.concatenate([item_ids, np.array(extra, dtype=object)])
    n = table.num_rows
    if "EVENT_TYPE" in table.column_names:  # a few distinct strings, shared by every row
        codes, names = _encode(pc.fill_null(table.column("EVENT_TYPE"), ""))
        event_types = names[codes]
    else:
        event_types = np.full(n, "", dtype=object)
    return Snapshot(
        user_ids=user_ids,
        item_ids=item_ids,
        users=users,
        items=items,
        timestamps=times,
        event_types=event_types,
        weights=np.ones(n, np.float32),
        items_table=items_table,
        users_table=users_table,
        impressions=(
            np.array(table.column("IMPRESSION").to_pylist(), dtype=object)
            if "IMPRESSION" in table.column_names
            else None
        ),
    )


def _encode(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Dictionary-encode in first-seen order: (codes int32, vocabulary object array)."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    vocab = np.array(encoded.dictionary.to_pylist(), dtype=object)
    return codes, vocab
