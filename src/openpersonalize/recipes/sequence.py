"""A sequence-aware transformer (SASRec) model, served with numpy so the serving process never loads torch.

Backs aws-user-personalization-v2 and aws-personalized-ranking-v2: the next-item scores after the
user's latest ``maxlen`` events, so order matters and a new event changes the next answer without
retraining. Training (torch) lives in ``_sasrec``; this module only reads its dataclasses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from openpersonalize.data.snapshot import Snapshot
from openpersonalize.recipes._featurize import interaction_matrix, tie_breaker, unique_user_popularity
from openpersonalize.recipes._io import (
    ids_from_array,
    ids_to_array,
    load_arrays,
    read_manifest,
    save_model_files,
)
from openpersonalize.recipes._sasrec import LN_EPS, SasrecConfig, SasrecWeights
from openpersonalize.recipes.base import manifest

USER_PERSONALIZATION_V2 = "aws-user-personalization-v2"
# Users whose last event is held out to stop training early (at most this many, ~10% of users).
VALIDATION_USERS = 2_000
# Full softmax costs n_items per training position: it is used up to this catalogue size (on Beauty's
# 12k items it beat 1,024 sampled items clearly: NDCG@10 0.0503 vs 0.0446 at ~1.4x the time per epoch);
# larger catalogues use a softmax over the target and SAMPLED_NEGATIVES uniformly sampled items.
FULL_SOFTMAX_MAX_ITEMS = 20_000
SAMPLED_NEGATIVES = 1_024
# Training positions per optimiser step: small batches learn much more per epoch on CPU (ML-1M:
# batch 16 reached in 3 epochs what batch 128 had not in 5) at nearly the same cost per epoch.
POSITIONS_PER_STEP = 3_200


def default_config(sequences: list[np.ndarray], n_items: int) -> SasrecConfig:
    """The configuration for data we know nothing about, scaled by its shape: maxlen covers ~90% of
    the users' histories (20..200); batches hold ~POSITIONS_PER_STEP positions (16..128 users);
    short, sparse histories (Amazon-like, median < 20 events) want heavy dropout (0.5), long dense
    ones (MovieLens-like) 0.2. Measured in benchmarks/sequence_quality.py."""
    lengths = np.array([len(s) for s in sequences]) if sequences else np.zeros(1)
    maxlen = int(min(200, max(20, 10 * math.ceil(float(np.quantile(lengths, 0.9)) / 10))))
    return SasrecConfig(
        maxlen=maxlen,
        dropout=0.5 if float(np.median(lengths)) < 20 else 0.2,
        batch_size=int(min(128, max(16, POSITIONS_PER_STEP // maxlen))),
        loss="ce" if n_items <= FULL_SOFTMAX_MAX_ITEMS else "sce",
        negatives=SAMPLED_NEGATIVES,
    )


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(-1, keepdims=True)
    return centred / np.sqrt(var + np.float32(LN_EPS)) * w + b


def last_states(weights: SasrecWeights, histories: list[np.ndarray]) -> np.ndarray:
    """(n, hidden) transformer outputs after the newest event of each history (its latest maxlen
    events; item indices, oldest first). Mirrors ``_sasrec._hidden_states`` in eval mode; histories
    are left-padded to a common length and padding is masked out of attention."""
    w = weights
    maxlen, d = w.maxlen, w.item_emb.shape[1]
    rows = [np.asarray(h, dtype=np.int64)[-maxlen:] for h in histories]
    n, length = len(rows), max(1, max((len(r) for r in rows), default=1))
    tokens = np.zeros((n, length), dtype=np.int64)
    present = np.zeros((n, length), dtype=bool)
    for i, r in enumerate(rows):
        if len(r):
            tokens[i, length - len(r) :] = r
            present[i, length - len(r) :] = True
    x = w.item_emb[tokens] * np.float32(math.sqrt(d)) + w.pos_emb[maxlen - length :]
    keep = present[..., None].astype(np.float32)
    x *= keep
    allowed = (np.tri(length, dtype=bool)[None] & present[:, None, :]) | np.eye(length, dtype=bool)[None]
    bias = np.where(allowed, np.float32(0.0), np.float32(-np.inf))[:, None]  # (n, 1, T, T)
    heads, head = w.heads, d // w.heads
    scale = np.float32(1.0 / math.sqrt(head))
    layers = w.wq.shape[0]
    for i in range(layers):
        h = _layer_norm(x, w.ln1_w[i], w.ln1_b[i])
        # Only the newest position's output is read, so the last layer computes just its query.
        queries = length if i < layers - 1 else 1

        def split(t: np.ndarray) -> np.ndarray:
            return t.reshape(n, -1, heads, head).transpose(0, 2, 1, 3)

        q = split(h[:, length - queries :] @ w.wq[i] + w.bq[i])
        k = split(h @ w.wk[i] + w.bk[i])
        v = split(h @ w.wv[i] + w.bv[i])
        logits = q @ k.transpose(0, 1, 3, 2) * scale + bias[:, :, length - queries :]
        logits -= logits.max(-1, keepdims=True)
        attention = np.exp(logits)
        attention /= attention.sum(-1, keepdims=True)
        a = (attention @ v).transpose(0, 2, 1, 3).reshape(n, queries, d) @ w.wo[i] + w.bo[i]
        x = x[:, length - queries :] + a
        h = _layer_norm(x, w.ln2_w[i], w.ln2_b[i])
        x = (x + np.maximum(h @ w.w1[i] + w.b1[i], 0.0) @ w.w2[i] + w.b2[i]) * keep[:, length - queries :]
    return _layer_norm(x[:, -1], w.lnf_w, w.lnf_b).astype(np.float32)


class SequenceModel:
    """Scores = h . E_i + b_i, h = the transformer's output after the latest events of the history.

    An empty history (or one with no known item) gets popularity (distinct users per item),
    squashed into [0, 1) like the other models' fallback.
    """

    def __init__(
        self,
        recipe: str,
        item_ids: np.ndarray,
        weights: SasrecWeights,
        popularity: np.ndarray,
        *,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.recipe = recipe
        self.item_ids = item_ids
        self.weights = weights
        self.popularity = np.asarray(popularity, dtype=np.float32)
        self.params = dict(params or {})
        self._fallback = tie_breaker(self.popularity)
        self._item_emb_t = np.ascontiguousarray(weights.item_emb.T)  # (hidden, n_items): faster h @ E^T

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def _known(self, history: np.ndarray) -> np.ndarray:
        items = np.asarray(history, dtype=np.int64)
        items = items[(items >= 0) & (items < self.n_items)]  # e.g. -1: an item this model never saw
        return items[-self.weights.maxlen :]

    def user_scores(self, history: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        # Event weights are ignored: the network reads the order of events, not their strength.
        items = self._known(history)
        if items.size == 0:
            return self._fallback.copy()
        state = last_states(self.weights, [items])[0]
        return state @ self._item_emb_t + self.weights.item_bias

    def user_scores_batch(self, histories: list[np.ndarray], chunk: int = 512) -> np.ndarray:
        """``user_scores`` for many histories at once, (n, n_items) float32: offline evaluation."""
        out = np.empty((len(histories), self.n_items), dtype=np.float32)
        known = [self._known(h) for h in histories]
        for start in range(0, len(known), chunk):
            part = known[start : start + chunk]
            states = last_states(self.weights, part)
            block = states @ self._item_emb_t + self.weights.item_bias
            for i, items in enumerate(part):
                if items.size == 0:
                    block[i] = self._fallback
            out[start : start + len(part)] = block
        return out

    def item_scores(self, item: int) -> np.ndarray:
        """What follows ``item`` as a one-event history; the item itself is ranked last."""
        scores = self.user_scores(np.array([item], dtype=np.int64))
        if 0 <= item < self.n_items:
            scores[item] = scores.min() - 1.0
        return scores

    def save(self, directory: Path) -> None:
        arrays = {"item_ids": ids_to_array(self.item_ids), "popularity": self.popularity}
        arrays.update({f"sasrec_{name}": array for name, array in self.weights.arrays().items()})
        info = manifest(self.recipe, params=self.params, n_items=self.n_items, heads=self.weights.heads)
        save_model_files(directory, info, arrays)

    @classmethod
    def load(cls, directory: Path) -> SequenceModel:
        info = read_manifest(directory)
        arrays = load_arrays(directory)
        prefix = "sasrec_"
        network = {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}
        return cls(
            info["recipe"],
            ids_from_array(arrays["item_ids"]),
            SasrecWeights.from_arrays(int(info["heads"]), network),
            arrays["popularity"],
            params=info.get("params", {}),
        )


def user_sequences(snapshot: Snapshot) -> list[np.ndarray]:
    """Each user's items, oldest first (the snapshot is sorted by time; a stable sort keeps that)."""
    order = np.argsort(snapshot.users, kind="stable")
    bounds = np.searchsorted(snapshot.users[order], np.arange(snapshot.n_users + 1))
    items = snapshot.items[order].astype(np.int64)
    return [items[bounds[u] : bounds[u + 1]] for u in range(snapshot.n_users)]


def fit_sequence(
    snapshot: Snapshot,
    config: SasrecConfig | None = None,
    *,
    seed: int,
    progress: Callable[[float], None] | None = None,
    recipe: str = USER_PERSONALIZATION_V2,
    threads: int | None = None,
) -> SequenceModel:
    """Train on a snapshot (``config`` None: ``default_config``). The last event of a sample of users
    (with >= 3 events) is held out to stop early; the rest of their sequence still trains."""
    from openpersonalize.recipes._sasrec import train_sasrec

    sequences = user_sequences(snapshot)
    config = config or default_config(sequences, snapshot.n_items)
    rng = np.random.default_rng(seed)
    eligible = np.flatnonzero(np.array([len(s) >= 3 for s in sequences], dtype=bool))
    n_val = min(VALIDATION_USERS, len(eligible) // 10)
    validation = None
    train = list(sequences)
    if n_val >= 50:
        chosen = np.sort(rng.choice(eligible, n_val, replace=False))
        validation = ([sequences[u][:-1] for u in chosen], np.array([sequences[u][-1] for u in chosen]))
        for u in chosen:
            train[u] = sequences[u][:-1]
    weights = train_sasrec(
        train, snapshot.n_items, config, seed=seed, progress=progress, validation=validation, threads=threads
    )
    popularity = unique_user_popularity(interaction_matrix(snapshot))
    return SequenceModel(recipe, snapshot.item_ids, weights, popularity, params=asdict(config))
