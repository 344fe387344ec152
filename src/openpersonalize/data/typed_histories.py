"""Each user's most recent interactions per event type, saved next to a model for filters.

`Interactions.EVENT_TYPE` filters ("EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")")
look at what the user did, whatever events the model was trained on, so this comes from the
whole Interactions dataset. Like Personalize, only the 100 most recent interactions per user per
event type count (spec §9.2). Event types are kept in lower case: their match is
case-insensitive.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PER_TYPE = 100
FILE = "typed_histories.npz"


class TypedHistories:
    def __init__(
        self,
        user_ids: np.ndarray,
        indptr: np.ndarray,
        items: np.ndarray,
        types: np.ndarray,
        type_names: np.ndarray,
    ) -> None:
        self.user_ids = user_ids
        self.indptr = indptr
        self.items = items  # model item indices
        self.types = types  # codes into type_names
        self.type_names = type_names
        self._index = {u: i for i, u in enumerate(user_ids.tolist())}
        self._codes = {name: code for code, name in enumerate(type_names.tolist())}

    @classmethod
    def from_table(
        cls, interactions: pa.Table, item_ids: np.ndarray, per_type: int = PER_TYPE
    ) -> TypedHistories:
        """From an Interactions table, over a model's item vocabulary (other items can't be recommended)."""
        table = interactions.filter(pc.is_valid(interactions.column("USER_ID")))
        item = pc.index_in(table.column("ITEM_ID"), value_set=pa.array(item_ids.tolist(), pa.string()))
        table = table.append_column("__item", item).filter(pc.is_valid(item))
        if "EVENT_TYPE" in table.column_names:
            kinds = pc.utf8_lower(pc.fill_null(table.column("EVENT_TYPE"), ""))
        else:
            kinds = pa.chunked_array([pa.array([""] * table.num_rows, pa.string())])
        users = pc.dictionary_encode(table.column("USER_ID")).combine_chunks()
        types = pc.dictionary_encode(kinds).combine_chunks()
        user_codes = users.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        type_codes = types.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        times = table.column("TIMESTAMP").to_numpy().astype(np.int64)
        items = table.column("__item").to_numpy().astype(np.int32)
        # Newest first within each (user, type), then keep the first `per_type` of each group.
        order = np.lexsort((-times, type_codes, user_codes))
        user_codes, type_codes, items = user_codes[order], type_codes[order], items[order]
        starts = np.flatnonzero(np.r_[True, (np.diff(user_codes) != 0) | (np.diff(type_codes) != 0)])
        group_sizes = np.diff(np.r_[starts, len(items)])
        rank = np.arange(len(items)) - np.repeat(starts, group_sizes)
        keep = rank < per_type
        user_codes, type_codes, items = user_codes[keep], type_codes[keep], items[keep]
        counts = np.bincount(user_codes, minlength=len(users.dictionary))
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(
            np.array(users.dictionary.to_pylist(), dtype=object),
            indptr,
            items,
            type_codes.astype(np.int32),
            np.array(types.dictionary.to_pylist(), dtype=object),
        )

    def items_of(self, user_id: str, event_types: frozenset[str] | None = None) -> np.ndarray:
        """Model item indices the user interacted with (by these lower-case types, or any)."""
        index = self._index.get(user_id)
        if index is None:
            return np.empty(0, np.int32)
        start, stop = self.indptr[index], self.indptr[index + 1]
        items = self.items[start:stop]
        if event_types is None:
            return items
        codes = [self._codes[t] for t in event_types if t in self._codes]
        return items[np.isin(self.types[start:stop], codes)]

    def users_with(self, event_types: frozenset[str] | None, *, other_than: bool = False) -> list[str]:
        """Users with an event of these lower-case types (None = any), or with ``other_than``, an
        event of some other type: a UserID filter's Interactions condition."""
        codes = np.array([self._codes[t] for t in event_types or () if t in self._codes], np.int32)
        hit = np.ones(len(self.types), bool) if event_types is None else np.isin(self.types, codes)
        if other_than:
            hit = ~hit
        owners = np.repeat(np.arange(len(self.user_ids)), np.diff(self.indptr))
        return self.user_ids[np.unique(owners[hit])].tolist()

    def save(self, directory: Path) -> None:
        np.savez(
            directory / FILE,
            user_ids=np.array(self.user_ids.tolist(), dtype=str),
            indptr=self.indptr,
            items=self.items,
            types=self.types,
            type_names=np.array(self.type_names.tolist(), dtype=str),
        )

    @classmethod
    def load(cls, directory: Path) -> TypedHistories | None:
        path = directory / FILE
        if not path.exists():  # a model trained before filters existed
            return None
        with np.load(path, allow_pickle=False) as data:
            return cls(
                data["user_ids"].astype(object),
                data["indptr"],
                data["items"],
                data["types"],
                data["type_names"].astype(object),
            )
