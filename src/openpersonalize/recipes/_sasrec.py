"""SASRec (self-attentive sequential recommendation) trained with torch; the only module that imports it.

The network: tied item embeddings (scaled by sqrt(hidden)) + learned positional embeddings, ``layers``
pre-LayerNorm transformer blocks (causal self-attention, ReLU feed-forward), a final LayerNorm; the
score of item i after a sequence is ``h_last . E_i + b_i``. Trained on every position of every user's
latest ``maxlen + 1`` events with a softmax cross-entropy — over all items ("ce", SASRec+ of Klenitskiy
& Vasilev 2023) or over the target and ~1k sampled items ("sce", the cost-bounded variant used for
larger catalogues) — both far stronger than the original one-negative BCE. gSASRec's generalised BCE
("gbce", Petrov & Macdonald 2023) is available, but with negatives shared by a batch it learned far
more slowly than "sce" on Beauty (val NDCG@10 0.0016 vs 0.0175 after 8 epochs).

The parameters are plain functions of a dict of tensors (no nn.Module), so the trained weights map
one-to-one onto :class:`SasrecWeights`, which ``sequence.py`` runs in numpy without torch. torch is
imported inside the functions, so importing this module (for the dataclasses) does not load it.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

LN_EPS = 1e-6
# Names of the per-layer parameters, stacked along a leading layer axis in SasrecWeights.
LAYER_PARAMS: tuple[str, ...] = ("ln1_w", "ln1_b", "wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo")
LAYER_PARAMS += ("ln2_w", "ln2_b", "w1", "b1", "w2", "b2")


@dataclass(frozen=True)
class SasrecConfig:
    hidden: int = 64
    layers: int = 2
    heads: int = 1
    maxlen: int = 50
    dropout: float = 0.5
    # Most epochs; 0 = a budget from the data size (``epoch_budget``). With validation data, training
    # stops after ``patience`` evaluations without a better validation NDCG@10 and keeps the best.
    epochs: int = 0
    batch_size: int = 128
    lr: float = 1e-3
    # "ce": softmax over all items; "sce": softmax over the target + ``negatives`` uniformly sampled
    # items (shared by a batch); "gbce": gSASRec's generalised BCE over the same sampled negatives.
    loss: str = "ce"
    negatives: int = 256
    gbce_t: float = 0.75  # gbce only: calibration (0 = plain BCE, 1 = fully calibrated)
    patience: int = 5
    eval_every: int = 1  # epochs between validation evaluations
    weight_decay: float = 0.0
    # Wall-clock seconds after which training stops, within an epoch too (0 = no limit); the best
    # evaluation is kept.
    time_budget: float = 0.0


@dataclass
class SasrecWeights:
    """Trained parameters as float32 numpy arrays. Linear layers are (in, out): y = x @ w + b."""

    heads: int
    item_emb: np.ndarray  # (n_items, hidden): input and output embeddings (tied)
    item_bias: np.ndarray  # (n_items,)
    pos_emb: np.ndarray  # (maxlen, hidden): row maxlen-1 is the newest event
    ln1_w: np.ndarray  # (layers, hidden); likewise ln1_b, bq, bk, bv, bo, ln2_w, ln2_b, b2
    ln1_b: np.ndarray
    wq: np.ndarray  # (layers, hidden, hidden); likewise wk, wv, wo
    bq: np.ndarray
    wk: np.ndarray
    bk: np.ndarray
    wv: np.ndarray
    bv: np.ndarray
    wo: np.ndarray
    bo: np.ndarray
    ln2_w: np.ndarray
    ln2_b: np.ndarray
    w1: np.ndarray  # (layers, hidden, hidden)
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    lnf_w: np.ndarray  # (hidden,)
    lnf_b: np.ndarray

    @property
    def maxlen(self) -> int:
        return int(self.pos_emb.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.item_emb.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "heads"}

    @classmethod
    def from_arrays(cls, heads: int, arrays: dict[str, np.ndarray]) -> SasrecWeights:
        names = [f.name for f in fields(cls) if f.name != "heads"]
        return cls(heads, **{n: np.ascontiguousarray(arrays[n], dtype=np.float32) for n in names})


@dataclass
class TrainingReport:
    epochs: int = 0
    best_epoch: int = 0
    best_ndcg: float = float("nan")
    seconds: float = 0.0
    history: list[tuple[int, float, float]] | None = None  # (epoch, mean loss, validation NDCG@10)


def epoch_budget(n_sequences: int, n_tokens: int, batch_size: int) -> int:
    """Most epochs when the config leaves it open: ~20k optimiser steps (beyond where the benchmark
    runs peaked), at least 10 and at most 200 epochs."""
    steps_per_epoch = max(1, math.ceil(n_sequences / batch_size))
    return int(min(200, max(10, round(20_000 / steps_per_epoch))))


# -- the network (torch) ---------------------------------------------------------------------------


def _init_params(n_items: int, config: SasrecConfig, generator: torch.Generator) -> dict[str, torch.Tensor]:
    import torch

    d, n_layers = config.hidden, config.layers

    def xavier(*shape: int) -> torch.Tensor:
        fan_in, fan_out = shape[-2], shape[-1]
        std = math.sqrt(2.0 / (fan_in + fan_out))
        return torch.randn(*shape, generator=generator) * std

    params = {
        # Row 0 is the padding token; item i is row i + 1.
        "item_emb": xavier(n_items + 1, d),
        "item_bias": torch.zeros(n_items),
        "pos_emb": xavier(config.maxlen, d),
        "lnf_w": torch.ones(d),
        "lnf_b": torch.zeros(d),
    }
    for name in LAYER_PARAMS:
        if name.startswith("ln"):
            params[name] = torch.ones(n_layers, d) if name.endswith("_w") else torch.zeros(n_layers, d)
        elif name.startswith("w"):
            params[name] = xavier(n_layers, d, d)
        else:
            params[name] = torch.zeros(n_layers, d)
    with torch.no_grad():
        params["item_emb"][0] = 0.0
    return {k: v.requires_grad_() for k, v in params.items()}


def _hidden_states(
    params: dict[str, torch.Tensor], tokens: torch.Tensor, heads: int, dropout: float, training: bool
) -> torch.Tensor:
    """(batch, T, hidden) outputs for left-padded ``tokens`` (0 = padding, item i = i + 1)."""
    import torch
    import torch.nn.functional as F

    batch, length = tokens.shape
    d = params["item_emb"].shape[1]
    maxlen = params["pos_emb"].shape[0]
    present = tokens > 0
    keep = present.unsqueeze(-1).to(params["item_emb"].dtype)
    x = F.embedding(tokens, params["item_emb"]) * math.sqrt(d) + params["pos_emb"][maxlen - length :]
    x = F.dropout(x, dropout, training) * keep
    causal = torch.ones(length, length, dtype=torch.bool).tril()
    # A position sees itself and the earlier real events; padding rows see only themselves (no NaN).
    allowed = (causal & present.unsqueeze(1)) | torch.eye(length, dtype=torch.bool)
    allowed = allowed.unsqueeze(1)
    head = d // heads
    for i in range(params["wq"].shape[0]):
        h = F.layer_norm(x, (d,), params["ln1_w"][i], params["ln1_b"][i], LN_EPS)

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, heads, head).transpose(1, 2)

        q = split(h @ params["wq"][i] + params["bq"][i])
        k = split(h @ params["wk"][i] + params["bk"][i])
        v = split(h @ params["wv"][i] + params["bv"][i])
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=dropout if training else 0.0)
        a = a.transpose(1, 2).reshape(batch, length, d) @ params["wo"][i] + params["bo"][i]
        x = x + F.dropout(a, dropout, training)
        h = F.layer_norm(x, (d,), params["ln2_w"][i], params["ln2_b"][i], LN_EPS)
        f = F.dropout(torch.relu(h @ params["w1"][i] + params["b1"][i]), dropout, training)
        x = (x + F.dropout(f @ params["w2"][i] + params["b2"][i], dropout, training)) * keep
    return F.layer_norm(x, (d,), params["lnf_w"], params["lnf_b"], LN_EPS)


def _loss(
    params: dict[str, torch.Tensor],
    states: torch.Tensor,
    targets: torch.Tensor,
    config: SasrecConfig,
    generator: torch.Generator,
) -> torch.Tensor:
    """Mean loss over the (n, hidden) ``states`` whose next items are ``targets`` (item indices)."""
    import torch
    import torch.nn.functional as F

    items = params["item_emb"][1:]
    if config.loss == "ce":
        logits = states @ items.T + params["item_bias"]
        return F.cross_entropy(logits, targets)
    n_items = items.shape[0]
    negatives = torch.randint(0, n_items, (config.negatives,), generator=generator)
    positive = (states * items[targets]).sum(-1) + params["item_bias"][targets]
    negative = states @ items[negatives].T + params["item_bias"][negatives]
    # A sampled negative equal to the target is not a negative.
    negative = negative.masked_fill(negatives.unsqueeze(0) == targets.unsqueeze(1), -1e9)
    if config.loss == "sce":
        logits = torch.cat([positive.unsqueeze(1), negative], 1)
        return F.cross_entropy(logits, torch.zeros_like(targets))
    alpha = config.negatives / max(1, n_items - 1)
    beta = alpha * (config.gbce_t * (1.0 - 1.0 / alpha) + 1.0 / alpha)
    return (-beta * F.logsigmoid(positive) - F.logsigmoid(-negative).sum(-1)).mean()


# -- training --------------------------------------------------------------------------------------


def _windows(sequences: list[np.ndarray], maxlen: int) -> list[np.ndarray]:
    """Each user's latest maxlen + 1 events as tokens (item + 1); users with < 2 events teach nothing."""
    return [s[-(maxlen + 1) :].astype(np.int64) + 1 for s in sequences if len(s) >= 2]


def _batches(windows: list[np.ndarray], batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Shuffled batches of similar lengths (sorted within pools of 50 batches): less padding."""
    order = rng.permutation(len(windows))
    lengths = np.array([len(w) for w in windows])
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    for b in rng.permutation(len(batches)):
        yield batches[b]


def _pad_left(rows: list[np.ndarray], length: int) -> np.ndarray:
    out = np.zeros((len(rows), length), dtype=np.int64)
    for r, row in enumerate(rows):
        row = row[-length:]
        if len(row):
            out[r, length - len(row) :] = row
    return out


@contextlib.contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """``threads`` intra-op threads, and denormals flushed to zero: Adam's second moments of rarely
    updated embeddings decay into denormals, which made each optimiser step ~100x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
        torch.set_num_threads(before)


def train_sasrec(
    sequences: list[np.ndarray],
    n_items: int,
    config: SasrecConfig,
    *,
    seed: int,
    progress: Callable[[float], None] | None = None,
    validation: tuple[list[np.ndarray], np.ndarray] | None = None,
    threads: int | None = None,
    report: TrainingReport | None = None,
    log: Callable[[str], None] | None = None,
) -> SasrecWeights:
    """Train on ``sequences`` (item indices 0..n_items-1, oldest first, one array per user).

    ``validation`` = (histories, next items): evaluated every ``eval_every`` epochs by NDCG@10 over
    all items; the best epoch's weights are returned. Deterministic for a given seed and thread count.
    """
    import torch

    from openpersonalize.recipes.threads import default_training_threads

    if config.hidden % config.heads:
        raise ValueError(f"hidden ({config.hidden}) must be a multiple of heads ({config.heads})")
    if config.loss not in ("ce", "sce", "gbce"):
        raise ValueError(f"unknown loss {config.loss!r}")
    started = time.monotonic()
    report = report if report is not None else TrainingReport()
    report.history = []
    windows = _windows(sequences, config.maxlen)
    n_tokens = sum(len(w) - 1 for w in windows)
    max_epochs = config.epochs or epoch_budget(len(windows), n_tokens, config.batch_size)
    rng = np.random.default_rng(seed)
    with torch.random.fork_rng(devices=[]), _torch_threads(threads or default_training_threads()):
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        params = _init_params(n_items, config, generator)
        optimiser = torch.optim.Adam(
            list(params.values()), lr=config.lr, betas=(0.9, 0.98), weight_decay=config.weight_decay
        )
        best: dict[str, torch.Tensor] | None = None
        best_ndcg, stale, epoch = -1.0, 0, 0
        for epoch in range(1, max_epochs + 1):
            total, count = 0.0, 0
            for batch in _batches(windows, config.batch_size, rng):
                if config.time_budget > 0 and time.monotonic() - started >= config.time_budget:
                    break  # out of time within an epoch: validate what it learnt so far

                rows = [windows[i] for i in batch]
                tokens = torch.from_numpy(_pad_left(rows, max(len(r) for r in rows)))
                inputs, targets = tokens[:, :-1], tokens[:, 1:]
                states = _hidden_states(params, inputs, config.heads, config.dropout, training=True)
                mask = targets > 0
                loss = _loss(params, states[mask], targets[mask] - 1, config, generator)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                with torch.no_grad():
                    params["item_emb"][0] = 0.0
                total += loss.item() * len(batch)
                count += len(batch)
            ndcg = float("nan")
            if validation is not None and (epoch % config.eval_every == 0 or epoch == max_epochs):
                ndcg = _validation_ndcg(params, validation, config)
                if ndcg > best_ndcg:
                    best_ndcg, stale, report.best_epoch = ndcg, 0, epoch
                    best = {k: v.detach().clone() for k, v in params.items()}
                else:
                    stale += 1
            report.history.append((epoch, total / max(1, count), ndcg))
            if log is not None:
                log(
                    f"epoch {epoch}: loss {total / max(1, count):.4f} val NDCG@10 {ndcg:.4f} "
                    f"({time.monotonic() - started:.0f}s)"
                )
            elapsed = time.monotonic() - started
            out_of_time = config.time_budget > 0 and elapsed >= config.time_budget
            if progress is not None:
                budget_used = elapsed / config.time_budget if config.time_budget > 0 else 0.0
                progress(min(1.0, max(epoch / max_epochs, budget_used)))
            if out_of_time or (validation is not None and stale >= config.patience):
                break
        if best is not None:
            params = best
        weights = _to_numpy(params, config.heads)
    if progress is not None:
        progress(1.0)
    report.epochs, report.best_ndcg = epoch, best_ndcg
    report.seconds = time.monotonic() - started
    return weights


def _last_states(
    params: dict[str, torch.Tensor], histories: list[np.ndarray], heads: int, batch: int = 512
) -> torch.Tensor:
    """(n, hidden) eval-mode outputs at the newest event of each history (the latest maxlen events)."""
    import torch

    maxlen = params["pos_emb"].shape[0]
    out = []
    with torch.no_grad():
        for start in range(0, len(histories), batch):
            rows = [np.asarray(h, dtype=np.int64)[-maxlen:] + 1 for h in histories[start : start + batch]]
            tokens = torch.from_numpy(_pad_left(rows, max(1, max(len(r) for r in rows))))
            out.append(_hidden_states(params, tokens, heads, 0.0, training=False)[:, -1])
    return torch.cat(out)


def _validation_ndcg(
    params: dict[str, torch.Tensor], validation: tuple[list[np.ndarray], np.ndarray], config: SasrecConfig
) -> float:
    """NDCG@10 of the next items over all items (one relevant item: 1 / log2(rank + 1))."""
    import torch

    histories, targets = validation
    target = torch.from_numpy(np.asarray(targets, dtype=np.int64))
    states = _last_states(params, histories, config.heads)
    with torch.no_grad():
        items, bias = params["item_emb"][1:], params["item_bias"]
        gains = []
        for start in range(0, len(states), 1024):
            scores = states[start : start + 1024] @ items.T + bias
            t = target[start : start + 1024]
            rank = (scores > scores.gather(1, t.unsqueeze(1))).sum(1)
            gains.append(torch.where(rank < 10, 1.0 / torch.log2(rank + 2.0), 0.0))
    return float(torch.cat(gains).mean()) if gains else 0.0


def _to_numpy(params: dict[str, torch.Tensor], heads: int) -> SasrecWeights:
    arrays = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in params.items()}
    arrays["item_emb"] = arrays["item_emb"][1:]
    return SasrecWeights.from_arrays(heads, arrays)


def torch_last_states(weights: SasrecWeights, histories: list[np.ndarray]) -> np.ndarray:
    """The torch forward (eval mode) at the newest event of each history: checks the numpy forward."""
    import torch

    arrays: dict[str, Any] = weights.arrays()
    arrays["item_emb"] = np.vstack([np.zeros((1, weights.item_emb.shape[1]), np.float32), weights.item_emb])
    params = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
    return _last_states(params, histories, weights.heads).numpy()
