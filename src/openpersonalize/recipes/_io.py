"""Model files: ``arrays.npz`` (plain numeric/unicode arrays, never pickled) + ``manifest.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"


def save_model_files(directory: Path, manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        if array.dtype == object:
            raise TypeError(f"array {name!r} has dtype object; it would need pickle")
    np.savez(directory / ARRAYS, **arrays)  # type: ignore[arg-type]
    # The manifest goes last: a directory with a manifest holds a complete model.
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"no model manifest at {path}")
    manifest = json.loads(path.read_text())
    if not isinstance(manifest, dict) or "recipe" not in manifest:
        raise ValueError(f"{path} is not a model manifest")
    return manifest


def load_arrays(directory: Path) -> dict[str, np.ndarray]:
    with np.load(directory / ARRAYS, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def ids_to_array(ids: np.ndarray) -> np.ndarray:
    """ITEM_IDs (an object array of str) as a fixed-width unicode array npz can hold."""
    return np.array([str(i) for i in ids], dtype=str) if len(ids) else np.array([], dtype="<U1")


def ids_from_array(array: np.ndarray) -> np.ndarray:
    return np.array(array.tolist(), dtype=object)


def csr_to_arrays(prefix: str, matrix: sp.csr_matrix) -> dict[str, np.ndarray]:
    return {
        f"{prefix}_data": matrix.data,
        f"{prefix}_indices": matrix.indices,
        f"{prefix}_indptr": matrix.indptr,
        f"{prefix}_shape": np.array(matrix.shape, dtype=np.int64),
    }


def csr_from_arrays(prefix: str, arrays: dict[str, np.ndarray]) -> sp.csr_matrix:
    shape = tuple(int(x) for x in arrays[f"{prefix}_shape"])
    return sp.csr_matrix(
        (arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"], arrays[f"{prefix}_indptr"]), shape=shape
    )
