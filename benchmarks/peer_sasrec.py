"""The SASRec baseline peer of `quality.py`: the original model and loss (Kang & McAuley, 2018).

Written here, apart from our recipe's transformer (`recipes/_sasrec.py`), so the comparison is
with SASRec as published: item + learned position embeddings, ``blocks`` pre-LayerNorm causal
self-attention blocks with a point-wise feed-forward, and the binary cross-entropy of each next
item against one uniformly sampled negative per position; Adam (lr 1e-3, betas 0.9/0.98).
Early stopping on each training sequence's last item (the paper evaluates every 20 epochs; here
every ``eval_every`` epochs, with ``patience`` and a wall-clock budget).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from openpersonalize.data.snapshot import Snapshot

PAPER_DEFAULTS: dict[str, Any] = {"hidden": 50, "blocks": 2, "dropout": 0.5, "lr": 1e-3, "maxlen": 50}
BATCH = 128
MAX_EPOCHS = 200
EVAL_EVERY = 5
PATIENCE = 3
EVAL_USERS = 3000
TIME_BUDGET = 300.0  # seconds per fit


def _padded(sequences: list[np.ndarray], maxlen: int) -> np.ndarray:
    """Each sequence's newest ``maxlen`` items, left-padded with 0 (items are 1-based here)."""
    out = np.zeros((len(sequences), maxlen), dtype=np.int64)
    for row, seq in enumerate(sequences):
        tail = seq[-maxlen:]
        if len(tail):
            out[row, maxlen - len(tail) :] = tail + 1
    return out


def _network(n_items: int, params: dict[str, Any]) -> Any:
    import torch
    from torch import nn

    hidden, maxlen, dropout = int(params["hidden"]), int(params["maxlen"]), float(params["dropout"])

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(hidden, eps=1e-8), nn.LayerNorm(hidden, eps=1e-8)
            self.attention = nn.MultiheadAttention(hidden, 1, dropout=dropout, batch_first=True)
            self.ff = nn.Sequential(
                nn.Linear(hidden, hidden),
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Linear(hidden, hidden),
                nn.Dropout(dropout),
            )

        def forward(self, x: Any, causal: Any, pad: Any) -> Any:
            q = self.ln1(x)
            x = q + self.attention(q, x, x, attn_mask=causal, need_weights=False)[0]
            x = x + self.ff(self.ln2(x))
            return x * pad

    class Sasrec(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.items = nn.Embedding(n_items + 1, hidden, padding_idx=0)
            self.positions = nn.Embedding(maxlen, hidden)
            self.drop = nn.Dropout(dropout)
            self.blocks = nn.ModuleList(Block() for _ in range(int(params["blocks"])))
            self.ln = nn.LayerNorm(hidden, eps=1e-8)
            causal = torch.triu(torch.ones(maxlen, maxlen, dtype=torch.bool), diagonal=1)
            self.register_buffer("causal", causal)

        def forward(self, seq: Any) -> Any:
            pad = (seq > 0).unsqueeze(-1).float()
            x = self.items(seq) * hidden**0.5 + self.positions.weight.unsqueeze(0)
            x = self.drop(x) * pad
            for block in self.blocks:
                x = block(x, self.causal, pad)
            return self.ln(x)

    return Sasrec()


def fit(train: Snapshot, params: dict[str, Any], *, seed: int = 0, log: Any = None) -> Any:
    """Train on ``train`` (sequences in time order); returns a quality.py scorer."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    params = {**PAPER_DEFAULTS, **params}
    maxlen, n_items = int(params["maxlen"]), train.n_items
    order = np.argsort(train.users, kind="stable")
    counts = np.bincount(train.users, minlength=train.n_users)
    sequences = np.split(train.items[order].astype(np.int64), np.cumsum(counts)[:-1])
    # Early stopping: each user's newest training item is held out while training.
    fitting = [s[:-1] for s in sequences]
    watched = np.flatnonzero(counts >= 3)
    watched = rng.choice(watched, min(EVAL_USERS, len(watched)), replace=False) if len(watched) else watched
    users = np.flatnonzero(np.array([len(s) >= 2 for s in fitting]))
    inputs = _padded([fitting[u][:-1] for u in users], maxlen)
    targets = _padded([fitting[u][1:] for u in users], maxlen)
    model = _network(n_items, params)
    optimizer = torch.optim.Adam(model.parameters(), lr=float(params["lr"]), betas=(0.9, 0.98))
    loss_of = torch.nn.BCEWithLogitsLoss(reduction="sum")

    def scores(histories: list[np.ndarray]) -> np.ndarray:
        model.eval()
        with torch.no_grad():
            last = model(torch.from_numpy(_padded(histories, maxlen)))[:, -1, :]
            return (last @ model.items.weight[1:].T).numpy()

    def validation_ndcg() -> float:
        total = 0.0
        for start in range(0, len(watched), 512):
            chunk = watched[start : start + 512]
            s = scores([fitting[u] for u in chunk])
            for row, u in enumerate(chunk):
                s[row, fitting[u]] = -np.inf
            target = np.array([sequences[u][-1] for u in chunk])
            rank = (s > s[np.arange(len(chunk)), target][:, None]).sum(axis=1)
            total += float(np.where(rank < 10, 1.0 / np.log2(rank + 2.0), 0.0).sum())
        return total / max(len(watched), 1)

    best, best_state, stale, started = -1.0, None, 0, time.perf_counter()
    for epoch in range(1, MAX_EPOCHS + 1):
        model.train()
        for start in range(0, len(users), BATCH):
            rows = slice(start, start + BATCH)
            seq, pos = torch.from_numpy(inputs[rows]), torch.from_numpy(targets[rows])
            neg = torch.from_numpy(rng.integers(1, n_items + 1, size=pos.shape))
            h = model(seq)
            mask = pos > 0
            pos_logit = (h * model.items(pos)).sum(-1)[mask]
            neg_logit = (h * model.items(neg)).sum(-1)[mask]
            loss = loss_of(pos_logit, torch.ones_like(pos_logit)) + loss_of(
                neg_logit, torch.zeros_like(neg_logit)
            )
            optimizer.zero_grad()
            (loss / mask.sum().clamp(min=1)).backward()
            optimizer.step()
        shuffle = rng.permutation(len(users))
        inputs, targets, users = inputs[shuffle], targets[shuffle], users[shuffle]
        out_of_time = time.perf_counter() - started > TIME_BUDGET  # read here: quality.py sets it
        if epoch % EVAL_EVERY == 0 or out_of_time:
            ndcg = validation_ndcg()
            if log is not None:
                log(f"    SASRec epoch {epoch}: validation NDCG@10 {ndcg:.4f}")
            if ndcg > best:
                best, stale = ndcg, 0
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
            if stale >= PATIENCE or out_of_time:
                break
    if best_state is not None:
        model.load_state_dict(best_state)

    def score(users: np.ndarray, histories: list[np.ndarray], rows: sp.csr_matrix) -> np.ndarray:
        return scores(histories)

    return score
