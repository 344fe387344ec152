"""Item and user metadata as filters read it at request time, kept current by PutItems/PutUsers.

A dataset's rows are read once (through the interactions store, like a training would), then
every acknowledged PutItems / PutUsers record of this or another server process lands in an
overlay that wins over the loaded rows: a metadata change filters the very next request. Past
`REBUILD_AT` overlay records the rows are read again in the background (the overlay then holds
only what came meanwhile).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from openpersonalize.data.dataset_reader import read_dataset
from openpersonalize.data.schema import parse_schema
from openpersonalize.serving.live import LiveEvents
from openpersonalize.serving.models import Deployed
from openpersonalize.store.interactions import InteractionsStore
from openpersonalize.store.metadata import MetadataStore, Resource

REBUILD_AT = 2_000
# Item masks and numbers over a model's items kept per dataset (they cost a pass over the catalogue
# and the overlay; most requests ask for the same few columns and values).
MASK_CACHE_BYTES = 64 << 20
ID_COLUMNS = {"ITEMS": "ITEM_ID", "USERS": "USER_ID", "ACTIONS": "ACTION_ID"}


class Vocabulary(Protocol):
    """What a filter's mask is over: a model's items (Deployed), or its actions."""

    @property
    def version_arn(self) -> str: ...
    @property
    def n_items(self) -> int: ...
    @property
    def item_index(self) -> Mapping[str, int]: ...


class Attributes:
    """One Items, Users or Actions dataset: loaded rows, plus the records written since."""

    def __init__(self, id_column: str, categorical: frozenset[str], columns: tuple[str, ...] = ()) -> None:
        self.id_column = id_column
        self.categorical = categorical  # multi-valued ("a|b") columns
        self.columns = columns  # the schema's, in its order
        self.loaded = False
        self.overlay: dict[str, dict[str, Any]] = {}
        self._table = pa.table({id_column: pa.array([], pa.string())})
        self._position: dict[str, int] = {}
        self._inverted: dict[str, dict[str, np.ndarray]] = {}
        self._numbers: dict[str, np.ndarray] = {}
        self._aligned: dict[str, np.ndarray] = {}  # solution version ARN -> model index per row
        # (version ARN, column, values) -> read-only array over the model's items; a new dict at
        # every change, so a mask computed from older rows or overlay lands in a dict nobody reads.
        self._masks: dict[tuple[str, str, frozenset[str] | None], np.ndarray] = {}
        self._lock = threading.Lock()
        self.generation = 0  # changes with every load and record: cold items sync on it

    def load(self, table: pa.Table) -> None:
        with self._lock:
            self.generation += 1
            self._table = table
            self._position = {key: i for i, key in enumerate(table.column(self.id_column).to_pylist())}
            self._inverted, self._numbers, self._aligned, self._masks = {}, {}, {}, {}
            self.loaded = True

    def apply(self, record: dict[str, Any]) -> None:
        key = record.get(self.id_column)
        if key is not None:
            with self._lock:
                self.generation += 1
                self.overlay[str(key)] = record
                self._masks = {}

    @property
    def stale(self) -> bool:
        return len(self.overlay) > REBUILD_AT

    @property
    def size(self) -> int:
        return self._table.num_rows

    def keys(self) -> list[str]:
        """Every row's key, loaded or written since."""
        with self._lock:
            return [*self._position, *(k for k in self.overlay if k not in self._position)]

    def position(self, key: str) -> int | None:
        return self._position.get(key)

    def row(self, key: str) -> Mapping[str, Any] | None:
        newer = self.overlay.get(key)
        if newer is not None:
            return newer
        position = self._position.get(key)
        return None if position is None else self._table.slice(position, 1).to_pylist()[0]

    def metadata(self, keys: list[str], columns: tuple[str, ...]) -> list[dict[str, str]]:
        """Each key's values of ``columns`` as strings (spec §15 ``metadata``); nulls left out."""
        return [{c: str(v) for c, v in row.items()} for row in self.values(keys, columns)]

    def values(self, keys: list[str], columns: tuple[str, ...]) -> list[dict[str, Any]]:
        """Each key's values of ``columns`` as stored (numbers stay numbers); nulls left out."""
        stored = [c for c in columns if c in self._table.column_names]
        with self._lock:
            overlay = {key: self.overlay[key] for key in keys if key in self.overlay}
        positions = [self._position.get(key) for key in keys]
        found = [p for key, p in zip(keys, positions, strict=True) if p is not None and key not in overlay]
        rows = dict(zip(found, self._table.select(stored).take(found).to_pylist(), strict=True))
        out = []
        for key, position in zip(keys, positions, strict=True):
            row = overlay.get(key) or (rows.get(position) if position is not None else None) or {}
            out.append({c: row[c] for c in columns if row.get(c) is not None})
        return out

    def aligned(self, deployed: Vocabulary) -> np.ndarray:
        """Each loaded row's index among the model's items (-1 where the model lacks the item; of
        rows with the same key only the last counts). Once per loaded rows and model: aligning
        100,000 items takes tens of milliseconds, far more than the rest of a filtered request."""
        key = f"{deployed.version_arn}#{deployed.n_items}"  # the vocabulary grows with cold items
        hit = self._aligned.get(key)
        if hit is None:
            with self._lock:  # the rows, their keys and the cache of one load
                cache, table, position = self._aligned, self._table, self._position
            index = deployed.item_index
            rows = np.fromiter(position.values(), np.int64, len(position))
            items = np.fromiter((index.get(key, -1) for key in position), np.int64, len(position))
            hit = np.full(table.num_rows, -1, dtype=np.int64)
            hit[rows] = items
            cache[key] = hit
        return hit

    def over_model(
        self, key: tuple[str, str, frozenset[str] | None], compute: Callable[[], np.ndarray]
    ) -> np.ndarray:
        """``compute()``, an array over a model's items read from these rows and the overlay, kept
        (read-only) until the rows load again or a record lands; the oldest go past the budget."""
        kept = self._masks  # before compute() reads the overlay: see __init__
        hit = kept.get(key)
        if hit is None:
            hit = compute()
            hit.flags.writeable = False
            with self._lock:
                while kept and (len(kept) + 1) * hit.nbytes > MASK_CACHE_BYTES:
                    del kept[next(iter(kept))]
                kept[key] = hit
        return hit

    def positions_matching(self, column: str, values: frozenset[str]) -> np.ndarray:
        """Positions (in the loaded rows) whose value, or any categorical value, is in ``values``."""
        index = self._inverted.get(column)
        if index is None:
            index = self._inverted[column] = self._invert(column)
        found = [index[v] for v in values if v in index]
        return np.unique(np.concatenate(found)) if found else np.empty(0, np.int64)

    def numbers(self, column: str) -> np.ndarray:
        cached = self._numbers.get(column)
        if cached is None:
            if column not in self._table.column_names:
                cached = np.full(self.size, np.nan)
            else:
                cached = self._table.column(column).cast(pa.float64()).to_numpy(zero_copy_only=False)
            self._numbers[column] = cached
        return cached

    def matches(self, row: Mapping[str, Any], column: str, values: frozenset[str]) -> bool:
        value = row.get(column)
        if value is None:
            return False
        parts = str(value).split("|") if column in self.categorical else [str(value)]
        return any(part in values for part in parts)

    def _invert(self, column: str) -> dict[str, np.ndarray]:
        if column not in self._table.column_names:
            return {}
        positions: dict[str, list[int]] = {}
        for i, value in enumerate(self._table.column(column).to_pylist()):
            if value is None:
                continue
            for part in str(value).split("|") if column in self.categorical else [str(value)]:
                positions.setdefault(part, []).append(i)
        return {value: np.asarray(found, dtype=np.int64) for value, found in positions.items()}


class AttributeStore:
    """The Items and Users attributes of every dataset a filter has needed so far."""

    def __init__(self, store: MetadataStore, interactions: InteractionsStore) -> None:
        self.store = store
        self.interactions = interactions
        self._by_dataset: dict[str, Attributes] = {}
        self._lock = threading.Lock()

    def of(self, dataset: Resource) -> Attributes:
        """The dataset's attributes, read now if they are not loaded yet (or grew stale)."""
        dataset_id = dataset.attrs["_id"]
        with self._lock:
            attributes = self._by_dataset.get(dataset_id)
            if attributes is None:
                schema = self.store.get(dataset.attrs["schemaArn"])
                parsed = parse_schema(schema.attrs["schema"]) if schema is not None else None
                categorical = (
                    frozenset(f.name for f in parsed.fields if f.categorical) if parsed else frozenset()
                )
                # Registered before the read: records written meanwhile land in its overlay.
                attributes = self._by_dataset[dataset_id] = Attributes(
                    ID_COLUMNS[dataset.attrs["datasetType"]], categorical, parsed.names if parsed else ()
                )
        if not attributes.loaded or attributes.stale:
            started_overlay = dict(attributes.overlay)
            attributes.load(read_dataset(self.store, self.interactions, dataset.arn))
            with attributes._lock:  # what came during the read stays; what the read holds goes
                for key, record in started_overlay.items():
                    if attributes.overlay.get(key) is record:
                        del attributes.overlay[key]
        return attributes

    def ready(self, dataset_id: str) -> bool:
        attributes = self._by_dataset.get(dataset_id)
        return attributes is not None and attributes.loaded and not attributes.stale

    def ready_for(self, dataset: Resource | None) -> bool:
        return dataset is None or self.ready(str(dataset.attrs["_id"]))

    def generation(self, dataset: Resource) -> int | None:
        """The dataset's change counter, or None when its rows are not loaded (or grew stale)."""
        attributes = self._by_dataset.get(str(dataset.attrs["_id"]))
        if attributes is None or not attributes.loaded or attributes.stale:
            return None
        return attributes.generation

    def observe(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            if record.get("_type") in ID_COLUMNS:
                attributes = self._by_dataset.get(record.get("_ds", ""))
                if attributes is not None:
                    attributes.apply(record)


class CatalogueView:
    """Item (or action) attributes over one model's items (filters.evaluate.Catalogue)."""

    def __init__(self, attributes: Attributes | None, deployed: Vocabulary) -> None:
        self.attributes = attributes
        self.deployed = deployed
        self.n_items = deployed.n_items
        self._model_of_position = (
            np.empty(0, np.int64) if attributes is None else attributes.aligned(deployed)
        )

    def matching(self, column: str, values: frozenset[str]) -> np.ndarray:
        if self.attributes is None:
            return np.zeros(self.n_items, dtype=bool)
        key = (f"{self.deployed.version_arn}#{self.n_items}", column, values)
        return self.attributes.over_model(key, lambda: self._matching(column, values))

    def numbers(self, column: str) -> np.ndarray:
        if self.attributes is None:
            return np.full(self.n_items, np.nan)
        key = (f"{self.deployed.version_arn}#{self.n_items}", column, None)
        return self.attributes.over_model(key, lambda: self._numbers(column))

    def _matching(self, column: str, values: frozenset[str]) -> np.ndarray:
        assert self.attributes is not None
        mask = np.zeros(self.n_items, dtype=bool)
        found = self._model_of_position[self.attributes.positions_matching(column, values)]
        mask[found[found >= 0]] = True
        for item, row in list(self.attributes.overlay.items()):
            index = self.deployed.item_index.get(item)
            if index is not None:
                mask[index] = self.attributes.matches(row, column, values)
        return mask

    def _numbers(self, column: str) -> np.ndarray:
        assert self.attributes is not None
        result = np.full(self.n_items, np.nan)
        known = self._model_of_position >= 0
        result[self._model_of_position[known]] = self.attributes.numbers(column)[known]
        for item, row in list(self.attributes.overlay.items()):
            index = self.deployed.item_index.get(item)
            if index is not None:
                value = row.get(column)
                result[index] = np.nan if value is None else float(value)
        return result

    def item_row(self, item_id: str) -> Mapping[str, Any] | None:
        return None if self.attributes is None else self.attributes.row(item_id)


class PeopleView:
    """What filters read of the request's user (filters.evaluate.People)."""

    def __init__(
        self, deployed: Deployed, live: LiveEvents, dataset_id: str | None, users: Attributes | None
    ) -> None:
        self.deployed = deployed
        self.live = live
        self.dataset_id = dataset_id
        self.users = users

    def interacted(self, user_id: str, event_types: frozenset[str] | None) -> np.ndarray:
        deployed = self.deployed
        if deployed.typed_histories is not None:
            trained = deployed.typed_histories.items_of(user_id, event_types)
        else:  # a model trained before typed histories: its training history, whatever the types
            trained = deployed.histories.of(user_id)
        if self.dataset_id is None:
            return trained
        live = self.live.items_since(self.dataset_id, user_id, deployed.trained_at, event_types)
        return np.concatenate([trained, deployed.indices(live)]).astype(np.int64)

    def user_row(self, user_id: str) -> Mapping[str, Any] | None:
        return None if self.users is None else self.users.row(user_id)
