"""How much each item is favoured in each context (a request's ``context``, spec §15), saved next
to a model.

Context fields are the Interactions schema's own string columns (DEVICE, LOCATION, ...). For a
context value v and an item i the lift is the smoothed log ratio

    log P(i | v) - log P(i)

from the training interactions: about 0 when the data shows no link between the two (a rare
value, or one spread like everything else), positive where the item is chosen more in that
context, negative where less. Serving adds the lifts of the request's context to the model's
scores (naive Bayes: the user's taste and the context combine as independent evidence), in units
of the spread of the model's scores for that request.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openpersonalize.data.fields import ParsedSchema

FILE = "context_lift.npz"
MAX_VALUES = 1_000  # per field: the most frequent ones
SMOOTHING = 20.0  # pseudo-events per value, spread like the whole catalogue: rare values lift little
NOT_CONTEXT = {
    "USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE", "IMPRESSION",
    "RECOMMENDATION_ID", "EVENT_ATTRIBUTION_SOURCE", "ACTION_ID",
}  # fmt: skip


def context_fields(schema: ParsedSchema) -> list[str]:
    return [
        f.name for f in schema.fields if f.name not in NOT_CONTEXT and f.type == "string" and not f.textual
    ]


class ContextLift:
    def __init__(self, keys: np.ndarray, lifts: np.ndarray) -> None:
        self.keys = keys  # "FIELD=value" per row of lifts
        self.lifts = lifts  # float32, (len(keys), n_items)
        self._row = {key: i for i, key in enumerate(keys.tolist())}

    @classmethod
    def from_table(
        cls, interactions: pa.Table, item_ids: np.ndarray, fields: list[str]
    ) -> ContextLift | None:
        """From the training interactions, over a model's items; None without context data."""
        item = pc.index_in(interactions.column("ITEM_ID"), value_set=pa.array(item_ids.tolist(), pa.string()))
        table = interactions.append_column("__item", item).filter(pc.is_valid(item))
        n_items = len(item_ids)
        items = table.column("__item").to_numpy().astype(np.int64)
        overall = np.bincount(items, minlength=n_items).astype(np.float64) + 1.0
        prior = overall / overall.sum()
        keys: list[str] = []
        rows: list[np.ndarray] = []
        for name in fields:
            if name not in table.column_names:
                continue
            values = pc.dictionary_encode(table.column(name)).combine_chunks()
            codes = pc.fill_null(values.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
            counts = np.bincount(codes[codes >= 0], minlength=len(values.dictionary))
            if len(counts) < 2:
                continue  # one value everywhere says nothing
            for code in np.argsort(-counts, kind="stable")[:MAX_VALUES]:
                chosen = items[codes == code]
                if not len(chosen):
                    continue
                n_v = np.bincount(chosen, minlength=n_items).astype(np.float64)
                given = (n_v + SMOOTHING * prior) / (len(chosen) + SMOOTHING)
                keys.append(f"{name}={values.dictionary[code].as_py()}")
                rows.append(np.log(given / prior).astype(np.float32))
        if not rows:
            return None
        return cls(np.array(keys, dtype=object), np.vstack(rows))

    def lift(self, context: Mapping[str, str]) -> np.ndarray | None:
        """The summed lifts of the request's context (None when none of it is known)."""
        found = [self._row[f"{k}={v}"] for k, v in context.items() if f"{k}={v}" in self._row]
        if not found:
            return None
        return self.lifts[found].sum(axis=0) if len(found) > 1 else self.lifts[found[0]]

    def save(self, directory: Path) -> None:
        np.savez(directory / FILE, keys=np.array(self.keys.tolist(), dtype=str), lifts=self.lifts)

    @classmethod
    def load(cls, directory: Path) -> ContextLift | None:
        path = directory / FILE
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as data:
            return cls(data["keys"].astype(object), data["lifts"])


def adjust(scores: np.ndarray, lift: np.ndarray) -> np.ndarray:
    """Scores moved by a context's lifts, in units of the scores' own spread."""
    finite = np.isfinite(scores)
    spread = float(scores[finite].std()) if finite.any() else 0.0
    return scores + (spread if spread > 0 else 1.0) * lift
