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
from openpersonalize.data.item_features import CatalogueFeatures, ItemFeaturizer
from openpersonalize.data.text_embedding import TextEncoder
from openpersonalize.data.typed_histories import TypedHistories
from openpersonalize.recipes.base import Model
from openpersonalize.recipes.registry import load_model
from openpersonalize.serving.cold_items import ColdItems
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
    _live: tuple[float, np.ndarray, np.ndarray] | None = None  # (read at, items, TIMESTAMPs)
    _trend: np.ndarray | None = None
    _counts: dict[int, int] | None = None
    # Items without interactions, scored from their metadata (None: the model has no item features).
    cold_items: ColdItems | None = None
    item_ids: np.ndarray = field(default_factory=lambda: np.empty(0, object))

    def __post_init__(self) -> None:
        self.item_ids = self.model.item_ids
        self.item_index = {item: i for i, item in enumerate(self.item_ids.tolist())}

    @property
    def n_items(self) -> int:
        """The model's items plus the cold items that arrived after training."""
        return len(self.item_ids)

    def grow(self, new_ids: list[str]) -> None:
        """Append items that arrived after training (their scores come from ``cold_items``)."""
        if not new_ids:
            return
        start = len(self.item_ids)
        self.item_index.update({item: start + i for i, item in enumerate(new_ids)})
        self.item_ids = np.concatenate([self.item_ids, np.array(new_ids, dtype=object)])
        self._cold_scores, self._cold, self._cold_background, self._background = None, {}, None, None

    def scores_of(self, model_scores: np.ndarray) -> np.ndarray:
        """The model's scores over every item (cold ones from their metadata)."""
        if self.cold_items is None or not len(self.cold_items.positions):
            return model_scores
        return self.cold_items.extend(model_scores)[: self.n_items]

    def cold_scores(self) -> np.ndarray:
        """Every item's score for a user with no history (the same for all of them)."""
        if self._cold_scores is None or len(self._cold_scores) != self.n_items:
            self._cold_scores = self.scores_of(self.model.user_scores(np.empty(0, np.int32)))
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
        if lift is not None and len(lift) < len(scores):  # cold items: no lift learned for them
            lift = np.concatenate([lift, np.zeros(len(scores) - len(lift), lift.dtype)])
        return scores if lift is None else adjust(scores, lift)

    def live_since_training(
        self, events: Callable[[], list[tuple[int, str]]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(item indices, TIMESTAMPs) of the live ``events`` since training that the vocabulary
        knows, re-read at most every TREND_SECONDS (what trends and exploration count)."""
        now = time.monotonic()
        if self._live is None or now - self._live[0] >= TREND_SECONDS:
            pairs = [(t, self.item_index[i]) for t, i in events() if i in self.item_index]
            items = np.array([i for _, i in pairs], np.int64)
            times = np.array([t for t, _ in pairs], np.int64)
            self._live, self._trend, self._counts = (now, items, times), None, None
        return self._live[1], self._live[2]

    def trends(self, events: Callable[[], list[tuple[int, str]]]) -> np.ndarray:
        """A trending model's scores with the live events since training."""
        items, times = self.live_since_training(events)
        if self._trend is None:
            self._trend = self.model.trend_scores(items, times)  # type: ignore[attr-defined]
        return self._trend

    def live_counts(self, events: Callable[[], list[tuple[int, str]]]) -> dict[int, int]:
        """Interactions per item since training."""
        items, _ = self.live_since_training(events)
        if self._counts is None:
            found, counts = np.unique(items, return_counts=True)
            self._counts = dict(zip(found.tolist(), counts.tolist(), strict=True))
        return self._counts

    def trained_on(self, index: int) -> bool:
        """Whether the item had interactions in the training data (not only an Items row)."""
        popularity = self.histories.popularity
        return bool(index < len(popularity) and popularity[index] > 0)

    def background(self) -> Background:
        """The model's scores for items a history does not reach (for sparse scoring)."""
        if self._background is None:
            scores = getattr(self.model, "background_scores", None)
            base = scores() if scores is not None else np.zeros(len(self.model.item_ids), np.float32)
            self._background = Background.of(self.scores_of(base))
        return self._background

    def indices(self, item_ids: list[str]) -> np.ndarray:
        known = [self.item_index[i] for i in item_ids if i in self.item_index]
        return np.asarray(known, dtype=np.int32)


class ModelCache:
    """Loaded models, least recently used dropped first once they outgrow ``budget_bytes``
    (a dense EASE model of 20k items alone is 1.6 GB); the newest always stays."""

    def __init__(
        self,
        objects: ObjectStore,
        cache_dir: Path,
        budget_bytes: int = 4 << 30,
        encoder_dir: Path | None = None,
    ) -> None:
        self.objects = objects
        self.cache_dir = cache_dir
        self.encoder_dir = encoder_dir or cache_dir.parent / "encoders"
        self.budget_bytes = budget_bytes
        self._loaded: OrderedDict[str, Deployed] = OrderedDict()
        self._lock = threading.Lock()

    def loaded_bytes(self) -> int:
        with self._lock:
            return sum(d.size_bytes for d in self._loaded.values())

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

    def _cold_items(self, directory: Path, histories: Histories, model: Model) -> ColdItems | None:
        featurizer, catalogue = ItemFeaturizer.load(directory), CatalogueFeatures.load(directory)
        if featurizer is None or catalogue is None:
            return None
        encoder = TextEncoder.shared(self.encoder_dir) if featurizer.textual else None
        if encoder is not None:
            encoder.warm()  # a new item's text is embedded at its first request: load it now
        # A model that scores its own items without interactions leaves only later ones to us.
        covered = getattr(model, "covers_cold_items", False)
        cold = ColdItems(
            featurizer,
            catalogue.features,
            np.ones(len(histories.popularity), bool) if covered else histories.popularity > 0,
            encoder.encode if encoder is not None else None,
            catalogue.latest_interaction,
        )
        known = np.flatnonzero(np.isfinite(catalogue.created))
        cold.set_created(dict(zip(known.tolist(), catalogue.created[known].tolist(), strict=True)))
        return cold

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
        deployed.cold_items = self._cold_items(directory, deployed.histories, deployed.model)
        # The artifact files are uncompressed arrays: their size is close to the memory they take.
        deployed.size_bytes = sum(f.stat().st_size for f in directory.iterdir() if f.is_file())
        return deployed
