"""Trained models loaded in the serving process, fetched from the object store on first use."""

from __future__ import annotations

import gc
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from openpersonalize.data.context_lift import ContextLift, adjust
from openpersonalize.data.histories import Histories
from openpersonalize.data.typed_histories import TypedHistories
from openpersonalize.recipes.base import Model
from openpersonalize.recipes.registry import load_model
from openpersonalize.serving.scoring import Background, softmax_at, top_k
from openpersonalize.store.objects import ObjectStore

# How stale a trending list may be (the live events it counts are re-read after this).
TREND_SECONDS = 2.0


@dataclass
class Deployed:
    """A solution version ready to answer requests."""

    version_arn: str
    model: Model
    histories: Histories
    trained_at: float
    typed_histories: TypedHistories | None = None  # for Interactions filters
    context: ContextLift | None = None  # for requests with a context
    item_index: dict[str, int] = field(default_factory=dict)
    size_bytes: int = 0
    _background: Background | None = None
    _cold_scores: np.ndarray | None = None
    _cold: dict[int, tuple[np.ndarray, list[float]]] = field(default_factory=dict)
    _cold_background: Background | None = None
    _trend: tuple[float, np.ndarray] | None = None

    def __post_init__(self) -> None:
        self.item_index = {item: i for i, item in enumerate(self.model.item_ids.tolist())}

    def cold_scores(self) -> np.ndarray:
        """Every item's score for a user with no history (the same for all of them)."""
        if self._cold_scores is None:
            self._cold_scores = self.model.user_scores(np.empty(0, np.int32))
        return self._cold_scores

    def cold_start(self, k: int) -> tuple[np.ndarray, list[float]]:
        """The unfiltered top k for a user with no history, computed once per k."""
        hit = self._cold.get(k)
        if hit is None:
            scores = self.cold_scores()
            top = top_k(scores, k)
            hit = self._cold[k] = (top, softmax_at(scores, top))
        return hit

    def cold_background(self) -> Background:
        """The scores for users with no history, ordered once: a filtered cold answer reads only
        as much of the order as it needs."""
        if self._cold_background is None:
            self._cold_background = Background.of(self.cold_scores())
        return self._cold_background

    def in_context(self, scores: np.ndarray, context: Mapping[str, str]) -> np.ndarray:
        """Raw scores moved by what the request's context favours (the same without a context
        this model learned)."""
        lift = self.context.lift(context) if self.context is not None and context else None
        return scores if lift is None else adjust(scores, lift)

    def trends(self, events: Callable[[], list[tuple[int, str]]]) -> np.ndarray:
        """A trending model's scores with the live ``events`` (TIMESTAMP, item id) since training,
        recomputed at most every TREND_SECONDS."""
        now = time.monotonic()
        if self._trend is None or now - self._trend[0] >= TREND_SECONDS:
            pairs = [(t, self.item_index[i]) for t, i in events() if i in self.item_index]
            times = np.array([t for t, _ in pairs], np.int64)
            items = np.array([i for _, i in pairs], np.int32)
            self._trend = (now, self.model.trend_scores(items, times))  # type: ignore[attr-defined]
        return self._trend[1]

    def trained_on(self, index: int) -> bool:
        """Whether the item had interactions in the training data (not only an Items row)."""
        return bool(self.histories.popularity[index] > 0)

    def background(self) -> Background:
        """The model's scores for items a history does not reach (for sparse scoring)."""
        if self._background is None:
            scores = getattr(self.model, "background_scores", None)
            base = scores() if scores is not None else np.zeros(len(self.model.item_ids), np.float32)
            self._background = Background.of(base)
        return self._background

    def indices(self, item_ids: list[str]) -> np.ndarray:
        known = [self.item_index[i] for i in item_ids if i in self.item_index]
        return np.asarray(known, dtype=np.int32)


class ModelCache:
    """Loaded models, least recently used dropped first once they outgrow ``budget_bytes``
    (a dense EASE model of 20k items alone is 1.6 GB); the newest always stays."""

    def __init__(self, objects: ObjectStore, cache_dir: Path, budget_bytes: int = 4 << 30) -> None:
        self.objects = objects
        self.cache_dir = cache_dir
        self.budget_bytes = budget_bytes
        self._loaded: OrderedDict[str, Deployed] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version_arn: str, prefix: str, trained_at: float) -> Deployed:
        with self._lock:
            hit = self._loaded.get(version_arn)
            if hit is not None:
                self._loaded.move_to_end(version_arn)
                return hit
        deployed = self._load(version_arn, prefix, trained_at)
        gc.freeze()  # a model's many long-lived objects: out of every later full collection
        with self._lock:
            self._loaded[version_arn] = deployed
            while (
                len(self._loaded) > 1 and sum(d.size_bytes for d in self._loaded.values()) > self.budget_bytes
            ):
                self._loaded.popitem(last=False)
        return deployed

    def _load(self, version_arn: str, prefix: str, trained_at: float) -> Deployed:
        directory = self.cache_dir / prefix.strip("/").replace("/", "_")
        directory.mkdir(parents=True, exist_ok=True)
        for key in self.objects.list(prefix):
            target = directory / key[len(prefix) :]
            if not target.exists():
                self.objects.get_file(key, target)
        deployed = Deployed(
            version_arn,
            load_model(directory),
            Histories.load(directory),
            trained_at,
            TypedHistories.load(directory),
            ContextLift.load(directory),
        )
        # The artifact files are uncompressed arrays: their size is close to the memory they take.
        deployed.size_bytes = sum(f.stat().st_size for f in directory.iterdir() if f.is_file())
        return deployed
