"""Item metadata as vectors, so items without interactions can be placed among those with.

Blocks, each L2-normalised, then weighted and the whole row normalised (cosine = dot product):
- categorical strings (``"categorical": true``; ``|`` separates values) and booleans: hashed
  into ``HASH_DIMS`` buckets (no vocabulary to store, unseen values still land somewhere);
- numbers: z-scores (mean and spread learned at training), clipped to ±3;
- ``textual`` strings: all-MiniLM-L6-v2 sentence embeddings (``text_embedding.py``).

The featurizer is fitted at training and saved with the model (``item_features.json``), so
serving turns a new PutItems record into the same space.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from openpersonalize.data.fields import ParsedSchema
from openpersonalize.data.text_embedding import DIMENSIONS as TEXT_DIMS

HASH_DIMS = 256
WEIGHTS = {"categorical": 1.0, "numeric": 0.5, "textual": 1.0}
SKIP = frozenset({"ITEM_ID", "CREATION_TIMESTAMP"})
NUMERIC_TYPES = frozenset({"int", "long", "float", "double"})
FILE = "item_features.json"
MATRIX = "item_features.npz"

# texts -> (n, 384) float32 rows; the text encoder, or a stand-in in tests
Encode = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class ItemFeaturizer:
    categorical: tuple[str, ...] = ()
    numeric: dict[str, tuple[float, float]] = field(default_factory=dict)  # column -> (mean, std)
    textual: tuple[str, ...] = ()

    @property
    def dims(self) -> int:
        return (HASH_DIMS if self.categorical else 0) + len(self.numeric) + (TEXT_DIMS if self.textual else 0)

    @classmethod
    def fit(cls, schema: ParsedSchema, table: pa.Table) -> ItemFeaturizer | None:
        """The featurizer for an Items dataset, or None when it has no usable metadata."""
        categorical, textual, numeric = [], [], {}
        for f in schema.fields:
            if f.name in SKIP or f.name not in table.column_names:
                continue
            if f.textual:
                textual.append(f.name)
            elif f.categorical or f.type == "boolean":
                categorical.append(f.name)
            elif f.type in NUMERIC_TYPES:
                values = np.asarray(table.column(f.name).to_numpy(zero_copy_only=False), np.float64)
                values = values[np.isfinite(values)]
                if values.size:
                    numeric[f.name] = (float(values.mean()), float(values.std()) or 1.0)
        featurizer = cls(tuple(categorical), numeric, tuple(textual))
        return featurizer if featurizer.dims else None

    def transform(self, rows: Sequence[Mapping[str, Any] | None], encode: Encode | None) -> np.ndarray:
        """One unit-length float32 row per record (zero for None or a record with no values)."""
        blocks = []
        if self.categorical:
            block = np.zeros((len(rows), HASH_DIMS), np.float32)
            for r, row in enumerate(rows):
                for column in self.categorical:
                    for token in _tokens(row.get(column) if row else None):
                        block[r, zlib.crc32(f"{column}={token}".encode()) % HASH_DIMS] = 1.0
            blocks.append(_unit(block) * WEIGHTS["categorical"])
        if self.numeric:
            block = np.zeros((len(rows), len(self.numeric)), np.float32)
            for c, (column, (mean, std)) in enumerate(self.numeric.items()):
                for r, row in enumerate(rows):
                    value = number(row.get(column) if row else None)
                    if value is not None:
                        block[r, c] = np.clip((value - mean) / std, -3.0, 3.0)
            blocks.append(_unit(block) * WEIGHTS["numeric"])
        if self.textual:
            texts = self.texts(rows)
            if encode is None:
                raise ValueError("textual item fields need a text encoder")
            blocks.append(_unit(np.asarray(encode(texts), np.float32)) * WEIGHTS["textual"])
        return _unit(np.concatenate(blocks, axis=1)) if blocks else np.zeros((len(rows), 0), np.float32)

    def texts(self, rows: Sequence[Mapping[str, Any] | None]) -> list[str]:
        """Each record's textual fields as one text (empty for None)."""
        return [" ".join(str(row.get(c) or "") for c in self.textual).strip() if row else "" for row in rows]

    def save(self, directory: Path) -> None:
        document = {"categorical": self.categorical, "numeric": self.numeric, "textual": self.textual}
        (directory / FILE).write_text(json.dumps(document, sort_keys=True))

    @classmethod
    def load(cls, directory: Path) -> ItemFeaturizer | None:
        path = directory / FILE
        if not path.is_file():
            return None
        d = json.loads(path.read_text())
        numeric = {k: (float(v[0]), float(v[1])) for k, v in d["numeric"].items()}
        return cls(tuple(d["categorical"]), numeric, tuple(d["textual"]))


@dataclass(frozen=True)
class CatalogueFeatures:
    """What training saves for serving's cold items: every model item's vector, creation time
    (NaN where unknown) and the newest interaction's TIMESTAMP."""

    features: np.ndarray
    created: np.ndarray
    latest_interaction: float
    text: np.ndarray | None = None  # the text embeddings alone (not saved; Semantic-Similarity)

    def save(self, directory: Path) -> None:
        np.savez(
            directory / MATRIX,
            features=self.features.astype(np.float16),  # half the memory; cosines barely move
            created=self.created.astype(np.float64),
            latest_interaction=np.array(self.latest_interaction, np.float64),
        )

    @classmethod
    def load(cls, directory: Path) -> CatalogueFeatures | None:
        path = directory / MATRIX
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as data:
            return cls(np.asarray(data["features"]), data["created"], float(data["latest_interaction"]))


def catalogue_features(
    schema: ParsedSchema,
    items_table: pa.Table,
    item_ids: Sequence[str],
    latest_interaction: float,
    encode: Encode | None,
) -> tuple[ItemFeaturizer, CatalogueFeatures] | None:
    """The featurizer fitted on an Items dataset and the vectors of the model's items."""
    featurizer = ItemFeaturizer.fit(schema, items_table)
    if featurizer is None:
        return None
    rows = rows_by_id(items_table)
    ordered = [rows.get(str(i)) for i in item_ids]
    created = np.array(
        [number(r.get("CREATION_TIMESTAMP")) if r else None for r in ordered], dtype=np.float64
    )
    text = None
    if featurizer.textual and encode is not None:
        text = np.asarray(encode(featurizer.texts(ordered)), np.float32)
    features = featurizer.transform(ordered, (lambda texts: text) if text is not None else None)
    return featurizer, CatalogueFeatures(features, created, latest_interaction, text)


def rows_by_id(table: pa.Table, id_column: str = "ITEM_ID") -> dict[str, dict[str, Any]]:
    """Each item's last row (a later row replaces an earlier one, as imports do)."""
    return {str(row[id_column]): row for row in table.to_pylist()}


def _tokens(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, bool):
        return [str(value).lower()]
    return [t.strip().lower() for t in str(value).split("|") if t.strip()]


def number(value: Any) -> float | None:
    """``value`` as a finite number, or None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _unit(block: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(block, axis=1, keepdims=True)
    return np.divide(block, norms, out=np.zeros_like(block), where=norms > 0)
