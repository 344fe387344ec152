"""Offline quality: our recipes against peer models, full ranking, every model tuned the same way.

Every protocol splits one data set into train and test, then carves a validation part out of
train with the same kind of split. Each tuned model gets the same budget (``--trials`` optuna
trials, TPE with a fixed seed, the model's own defaults as the first trial), is chosen by NDCG@10
on validation, retrained on train + validation with the chosen hyperparameters and scored once on
test. Our recipes are also reported at their defaults (no tuning): that is what users get.

Metrics rank the full catalogue (never sampled negatives); for the holdout protocols every item
the user has in train is removed from every model's ranking (in ``evaluate``, one place).
NDCG@10 = DCG@10 / ideal DCG@10, gain 1/log2(1 + rank), the ideal over min(10, |relevant|) items;
Recall@20 = hits in the top 20 / min(20, |relevant|); HR@10 = share of users with a hit in the
top 10; all averaged over test users with at least one relevant (held-out, unseen) item.

    PYTHONPATH=src .venv/bin/python benchmarks/quality.py [--data DIR] [--quick] [--only PROTOCOL]

Writes the tables to benchmarks/results/quality.md as well (quality-<protocol>.md with --only,
a -quick suffix with --quick). ``--trials N`` sets the budget; ``--recency-floor 0.5,...`` adds
what-if rows of aws-user-personalization with another recency floor (not tuned).

A protocol is one ``Protocol`` entry in ``PROTOCOLS``: a data folder, a loader giving a Snapshot
and a split giving a boolean test mask (``per_user_holdout``, ``leave_last_out``), plus whether
training items are excluded from the rankings and whether HR@10 is reported.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import common
import numpy as np
import peer_sasrec
import pyarrow as pa
import pyarrow.csv as pcsv
import scipy.sparse as sp

from openpersonalize.data.snapshot import Snapshot, build_snapshot
from openpersonalize.evaluation.metrics import hit_rate_at, ranking_metrics, top_k
from openpersonalize.recipes.registry import get_recipe
from openpersonalize.recipes.user_personalization import RECENCY_FLOOR

THREADS = 2  # the benchmark machine's cores; implicit's thread pools
DEFAULT_TRIALS = 16
QUICK_TRIALS = 3
SPLIT_SEED = 0
TUNING_SEED = 0
MODEL_SEED = 0
RESULTS = Path(__file__).resolve().parent / "results"

# ---------------------------------------------------------------------------------------------
# Scoring and metrics

# A fitted model: (user indices, their histories oldest first, their rows of the training matrix)
# -> a (users x items) score matrix, higher is better.
Scorer = Callable[[np.ndarray, list[np.ndarray], sp.csr_matrix], np.ndarray]

METRIC_DEFINITIONS = (
    "NDCG@10 = DCG@10 / ideal DCG@10 with gain 1/log2(1 + rank), the ideal over min(10, |relevant|) "
    "items; Recall@20 = hits in the top 20 / min(20, |relevant|); HR@10 = share of users with a hit "
    "in the top 10. Full ranking over the whole catalogue (no sampled negatives), averaged over test "
    "users with at least one relevant item."
)


@dataclass
class Metrics:
    ndcg10: float
    recall20: float
    hr10: float
    n_users: int


def user_histories(train: Snapshot) -> list[np.ndarray]:
    """Per user index: the items of their training interactions, oldest first."""
    order = np.argsort(train.users, kind="stable")  # the snapshot is sorted by time
    counts = np.bincount(train.users, minlength=train.n_users)
    return np.split(train.items[order].astype(np.int64), np.cumsum(counts)[:-1])


def evaluate(
    scorer: Scorer, train: Snapshot, test: Snapshot, *, exclude_seen: bool = True, batch: int = 256
) -> Metrics:
    """Rank the full catalogue for every test user with ``scorer`` and score the top 20.

    This is the one place where a user's training items are removed from the ranking (for every
    model alike) and from the relevant set (an item they cannot be recommended cannot be a hit).
    """
    matrix = train.matrix()
    histories = user_histories(train)
    test_order = np.argsort(test.users, kind="stable")
    test_counts = np.bincount(test.users, minlength=test.n_users)
    relevant_by_user = np.split(test.items[test_order].astype(np.int64), np.cumsum(test_counts)[:-1])
    users, relevant = [], []
    for user in np.flatnonzero(test_counts):
        wanted = np.unique(relevant_by_user[user])
        if exclude_seen:
            wanted = np.setdiff1d(wanted, histories[user], assume_unique=False)
        if wanted.size:
            users.append(int(user))
            relevant.append(wanted)
    if not users:
        return Metrics(0.0, 0.0, 0.0, 0)
    test_users = np.array(users, dtype=np.int64)
    ranked: list[np.ndarray] = []
    for start in range(0, len(test_users), batch):
        chunk = test_users[start : start + batch]
        rows = matrix[chunk]
        scores = np.array(scorer(chunk, [histories[u] for u in chunk], rows), dtype=np.float64)
        if scores.shape != (len(chunk), train.n_items):
            raise ValueError(f"scorer returned {scores.shape}, expected {(len(chunk), train.n_items)}")
        if exclude_seen:
            seen_rows, seen_items = rows.nonzero()
            scores[seen_rows, seen_items] = -np.inf
        ranked.extend(top_k(scores, 20))
    ndcg10 = ranking_metrics(ranked, relevant, catalog_size=train.n_items)[
        "normalized_discounted_cumulative_gain_at_10"
    ]
    recalls = [
        np.isin(top[:20], wanted).sum() / min(20, len(wanted))
        for top, wanted in zip(ranked, relevant, strict=True)
    ]
    return Metrics(ndcg10, float(np.mean(recalls)), hit_rate_at(ranked, relevant, 10), len(users))


# ---------------------------------------------------------------------------------------------
# Models: ours (through the recipe registry) and peers


@dataclass(frozen=True)
class ModelSpec:
    name: str
    fit: Callable[[Snapshot, dict[str, Any]], Scorer]
    # None: not tuned, ``defaults`` are used. Otherwise draws one configuration for an optuna trial.
    space: Callable[[Any], dict[str, Any]] | None = None
    defaults: dict[str, Any] = field(default_factory=dict)  # also the first trial when tuned
    ours: bool = False
    max_trials: int | None = None  # a smaller budget for slow models (said in the table)
    sequential_only: bool = False  # run only on the sequential (leave-one-out) protocols


def recipe_fit(
    recipe: str, *, recency_floor: float | None = None
) -> Callable[[Snapshot, dict[str, Any]], Scorer]:
    """Our recipe through the registry, scored through ``Model.user_scores``. ``recency_floor``
    (what-if rows only) overrides the fitted model's recency floor, a constant of the recipe that
    no hyperparameter reaches, to measure a candidate default without editing the recipe."""

    def fit(train: Snapshot, params: dict[str, Any]) -> Scorer:
        strings = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
        model = get_recipe(recipe).fit(train, strings)
        if recency_floor is not None:
            model.recency_floor = recency_floor  # type: ignore[attr-defined]

        def score(users: np.ndarray, histories: list[np.ndarray], rows: sp.csr_matrix) -> np.ndarray:
            return np.stack([model.user_scores(h) for h in histories])

        return score

    return fit


def recency_floor_what_if(floor: float) -> ModelSpec:
    """aws-user-personalization at its defaults but with another recency floor (not tuned)."""
    return ModelSpec(
        f"aws-user-personalization (defaults, recency floor {floor:g}; what-if)",
        recipe_fit("aws-user-personalization", recency_floor=floor),
        ours=True,
    )


def popularity_fit(train: Snapshot, params: dict[str, Any]) -> Scorer:
    counts = np.asarray(train.matrix().sum(axis=0), dtype=np.float64).ravel()  # distinct users per item

    def score(users: np.ndarray, histories: list[np.ndarray], rows: sp.csr_matrix) -> np.ndarray:
        return np.broadcast_to(counts, (len(users), len(counts)))

    return score


def ease_fit(train: Snapshot, params: dict[str, Any], *, woodbury: bool | None = None) -> Scorer:
    """EASE (Steck 2019): B = I - P diag(1/diag P), P = (XᵀX + λI)⁻¹, in float64.

    With fewer users than items, P comes from the Woodbury identity
    P = (I - Xᵀ(XXᵀ + λI)⁻¹X) / λ and is never materialised: XB = X - (XP) diag(1/diag P).
    """
    l2 = float(params["l2"])
    x = train.matrix().astype(np.float64)
    n_users, n_items = x.shape
    if woodbury is None:
        woodbury = n_users < n_items
    if not woodbury:
        gram = (x.T @ x).toarray()
        gram[np.diag_indices_from(gram)] += l2
        p = np.linalg.inv(gram)
        b = p / -np.diag(p)[np.newaxis, :]
        np.fill_diagonal(b, 0.0)

        def dense(users: np.ndarray, histories: list[np.ndarray], rows: sp.csr_matrix) -> np.ndarray:
            return np.asarray(rows @ b)

        return dense

    kernel = (x @ x.T).toarray()
    kernel[np.diag_indices_from(kernel)] += l2
    solved = np.linalg.solve(kernel, x.toarray())  # (XXᵀ + λI)⁻¹X, users x items
    diag_p = (1.0 - np.asarray(x.multiply(solved).sum(axis=0)).ravel()) / l2
    xt = x.T.tocsr()

    def low_rank(users: np.ndarray, histories: list[np.ndarray], rows: sp.csr_matrix) -> np.ndarray:
        r = rows.astype(np.float64)
        rp = (r.toarray() - np.asarray((r @ xt) @ solved)) / l2  # rows of XP
        return r.toarray() - rp / diag_p[np.newaxis, :]

    return low_rank


def _blas_single() -> Any:
    from threadpoolctl import threadpool_limits

    # implicit parallelises over users itself and warns when BLAS threads compete with it.
    return threadpool_limits(1, "blas")


def factor_scorer(user_factors: np.ndarray, item_factors: np.ndarray) -> Scorer:
    def score(users: np.ndarray, histories: list[np.ndarray], rows: sp.csr_matrix) -> np.ndarray:
        return user_factors[users] @ item_factors.T

    return score


def ials_fit(train: Snapshot, params: dict[str, Any]) -> Scorer:
    from implicit.cpu.als import AlternatingLeastSquares

    with _blas_single():
        model = AlternatingLeastSquares(
            factors=int(params["factors"]),
            regularization=float(params["regularization"]),
            alpha=float(params["alpha"]),
            iterations=int(params["iterations"]),
            num_threads=THREADS,
            random_state=MODEL_SEED,
        )
        model.fit(train.matrix(), show_progress=False)
    return factor_scorer(np.asarray(model.user_factors), np.asarray(model.item_factors))


def bpr_fit(train: Snapshot, params: dict[str, Any]) -> Scorer:
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    with _blas_single():
        model = BayesianPersonalizedRanking(
            factors=int(params["factors"]),
            learning_rate=float(params["learning_rate"]),
            regularization=float(params["regularization"]),
            iterations=int(params["iterations"]),
            num_threads=THREADS,
            random_state=MODEL_SEED,
        )
        model.fit(train.matrix(), show_progress=False)
    # The last item factor is the item bias (the user side holds a 1 there).
    return factor_scorer(np.asarray(model.user_factors), np.asarray(model.item_factors))


def item_knn_fit(train: Snapshot, params: dict[str, Any]) -> Scorer:
    from implicit.nearest_neighbours import CosineRecommender
    from implicit.utils import ParameterWarning

    model = CosineRecommender(K=int(params["K"]), num_threads=THREADS)
    with warnings.catch_warnings():
        # CosineRecommender hands its own normalised COO matrix on and then warns about it.
        warnings.simplefilter("ignore", category=ParameterWarning)
        model.fit(train.matrix(), show_progress=False)
    similarity = sp.csr_matrix(model.similarity, dtype=np.float64)
    similarity.setdiag(0.0)  # an item is not its own neighbour
    similarity.eliminate_zeros()

    def score(users: np.ndarray, histories: list[np.ndarray], rows: sp.csr_matrix) -> np.ndarray:
        return np.asarray((rows @ similarity).toarray())

    return score


def _sims_space(trial: Any) -> dict[str, Any]:
    return {
        "popularity_discount_factor": trial.suggest_float("popularity_discount_factor", 0.0, 1.0),
        "min_cointeraction_count": trial.suggest_int("min_cointeraction_count", 0, 10),
        "max_item_interaction_count_percentile": trial.suggest_float(
            "max_item_interaction_count_percentile", 0.9, 1.0
        ),
    }


OUR_DEFAULTS_NAME = "aws-user-personalization (defaults)"
V2_DEFAULTS_NAME = "aws-user-personalization-v2 (defaults)"

MODELS: list[ModelSpec] = [
    ModelSpec(OUR_DEFAULTS_NAME, recipe_fit("aws-user-personalization"), ours=True),
    ModelSpec(
        "aws-user-personalization (tuned)",
        recipe_fit("aws-user-personalization"),
        space=lambda t: {
            "ease_l2": t.suggest_float("ease_l2", 10.0, 5000.0, log=True),
            "recency_mask": t.suggest_categorical("recency_mask", [True, False]),
        },
        defaults={"ease_l2": 300.0, "recency_mask": True},
        ours=True,
    ),
    ModelSpec(V2_DEFAULTS_NAME, recipe_fit("aws-user-personalization-v2"), ours=True),
    ModelSpec("aws-sims (defaults)", recipe_fit("aws-sims"), ours=True),
    ModelSpec(
        "aws-sims (tuned)",
        recipe_fit("aws-sims"),
        space=_sims_space,
        defaults={
            "popularity_discount_factor": 0.5,
            "min_cointeraction_count": 3,
            "max_item_interaction_count_percentile": 0.9,
        },
        ours=True,
    ),
    ModelSpec("aws-popularity-count", recipe_fit("aws-popularity-count"), ours=True),
    ModelSpec("popularity", popularity_fit),
    ModelSpec(
        "EASE",
        ease_fit,
        space=lambda t: {"l2": t.suggest_float("l2", 1.0, 10000.0, log=True)},
        defaults={"l2": 500.0},
    ),
    ModelSpec(
        "iALS (implicit)",
        ials_fit,
        space=lambda t: {
            "factors": t.suggest_categorical("factors", [16, 32, 64, 128, 256]),
            "regularization": t.suggest_float("regularization", 1e-2, 100.0, log=True),
            "alpha": t.suggest_float("alpha", 0.1, 100.0, log=True),
            "iterations": t.suggest_int("iterations", 5, 30),
        },
        defaults={"factors": 128, "regularization": 0.01, "alpha": 1.0, "iterations": 15},
    ),
    ModelSpec(
        "BPR (implicit)",
        bpr_fit,
        space=lambda t: {
            "factors": t.suggest_categorical("factors", [32, 64, 128, 256]),
            "learning_rate": t.suggest_float("learning_rate", 1e-3, 0.2, log=True),
            "regularization": t.suggest_float("regularization", 1e-5, 0.1, log=True),
            "iterations": t.suggest_int("iterations", 20, 200),
        },
        defaults={"factors": 128, "learning_rate": 0.01, "regularization": 0.01, "iterations": 100},
    ),
    ModelSpec(
        "SASRec (paper: BCE, one negative)",
        lambda train, params: peer_sasrec.fit(train, params, seed=MODEL_SEED),
        space=lambda t: {
            "hidden": t.suggest_categorical("hidden", [50, 64]),
            "dropout": t.suggest_categorical("dropout", [0.2, 0.5]),
            "lr": t.suggest_categorical("lr", [1e-3, 2e-3]),
        },
        defaults={"hidden": 50, "dropout": 0.5, "lr": 1e-3},
        max_trials=4,
        sequential_only=True,
    ),
    ModelSpec(
        "item-kNN cosine (implicit)",
        item_knn_fit,
        space=lambda t: {"K": t.suggest_int("K", 5, 2000, log=True)},
        defaults={"K": 20},
    ),
]


# ---------------------------------------------------------------------------------------------
# Data sets and protocols


def dedupe_pairs(snapshot: Snapshot) -> Snapshot:
    """Keep each (user, item) pair's first interaction: implicit positives, no repeats."""
    codes = snapshot.users.astype(np.int64) * snapshot.n_items + snapshot.items
    keep = np.zeros(snapshot.n_interactions, dtype=bool)
    keep[np.unique(codes, return_index=True)[1]] = True  # first = oldest (sorted by time)
    return snapshot.subset(keep)


def snapshot_from_columns(
    users: Sequence[Any] | np.ndarray, items: Sequence[Any] | np.ndarray, timestamps: np.ndarray
) -> Snapshot:
    table = pa.table(
        {
            "USER_ID": pa.array([str(u) for u in users]),
            "ITEM_ID": pa.array([str(i) for i in items]),
            "TIMESTAMP": pa.array(np.asarray(timestamps, dtype=np.int64)),
        }
    )
    return dedupe_pairs(build_snapshot(table))


def load_ml100k(folder: Path) -> Snapshot:
    """u.data: user item rating timestamp, tab-separated; every rating is a positive."""
    ratings = np.loadtxt(folder / "u.data", dtype=np.int64)
    return snapshot_from_columns(ratings[:, 0], ratings[:, 1], ratings[:, 3])


def load_personalize_csv(folder: Path, name: str = "interactions.csv") -> Snapshot:
    """A Personalize Interactions CSV (USER_ID, ITEM_ID, TIMESTAMP[, EVENT_TYPE]); every event
    type is a positive and a (user, item) pair counts once, at its first event."""
    table = pcsv.read_csv(
        folder / name,
        convert_options=pcsv.ConvertOptions(
            column_types={"USER_ID": pa.string(), "ITEM_ID": pa.string(), "TIMESTAMP": pa.int64()}
        ),
    )
    return dedupe_pairs(build_snapshot(table.select(["USER_ID", "ITEM_ID", "TIMESTAMP"])))


def load_sequences(folder: Path, name: str = "Beauty.txt") -> Snapshot:
    """S3-Rec-style sequences, one line per user ``user item1 item2 ...`` (oldest first); the
    position is the time. Repeats are kept, as the published leave-one-out protocol keeps them."""
    users, items, times = [], [], []
    for line in (folder / name).read_text().splitlines():
        user, *sequence = line.split()
        users += [user] * len(sequence)
        items += sequence
        times += range(len(sequence))
    table = pa.table(
        {"USER_ID": pa.array(users), "ITEM_ID": pa.array(items), "TIMESTAMP": pa.array(times, pa.int64())}
    )
    return build_snapshot(table)


VALIDATION_USER = "val-"  # ML-1M: the 512 users the gSASRec split scores


def load_ml1m_gsasrec(folder: Path) -> Snapshot:
    """The gSASRec ML-1M split: train/input.txt (a line per user, oldest first), and for the 512
    validation users val/input.txt (their line plus one item, which finds the user) and
    val/output.txt (their next item, the one to predict). Validation users' ids start with
    ``VALIDATION_USER``; the position is the time."""
    lines = (folder / "train" / "input.txt").read_text().split("\n")
    train = [line.split() for line in lines if line.strip()]
    by_line = {tuple(seq): n for n, seq in enumerate(train)}
    sequences: dict[str, list[str]] = {f"u{n}": seq for n, seq in enumerate(train)}
    inputs = (folder / "val" / "input.txt").read_text().split("\n")
    outputs = (folder / "val" / "output.txt").read_text().split()
    for line, target in zip([x for x in inputs if x.strip()], outputs, strict=True):
        seq = line.split()
        n = by_line[tuple(seq[:-1])]
        del sequences[f"u{n}"]
        sequences[f"{VALIDATION_USER}{n}"] = [*seq, target]
    users = [u for u, seq in sequences.items() for _ in seq]
    items = [i for seq in sequences.values() for i in seq]
    times = [t for seq in sequences.values() for t in range(len(seq))]
    table = pa.table(
        {"USER_ID": pa.array(users), "ITEM_ID": pa.array(items), "TIMESTAMP": pa.array(times, pa.int64())}
    )
    return build_snapshot(table)


def validation_users_last(snapshot: Snapshot) -> np.ndarray:
    """Boolean test mask: the newest interaction of each ML-1M validation user. Applied again to
    train it gives their item before (the tuning carve-out)."""
    chosen = np.array([str(u).startswith(VALIDATION_USER) for u in snapshot.user_ids.tolist()])
    return leave_last_out(snapshot) & chosen[snapshot.users]


def per_user_holdout(
    snapshot: Snapshot, *, fraction: float, by_time: bool, seed: int = SPLIT_SEED
) -> np.ndarray:
    """Boolean test mask: round(fraction · n) of each user's n interactions, at random (seeded) or
    the newest ones (``by_time``). Users with too few interactions keep everything in train."""
    rng = np.random.default_rng(seed)
    order = np.argsort(snapshot.users, kind="stable")  # chronological within a user
    counts = np.bincount(snapshot.users, minlength=snapshot.n_users)
    is_test = np.zeros(snapshot.n_interactions, dtype=bool)
    for rows in np.split(order, np.cumsum(counts)[:-1]):
        n_test = round(fraction * len(rows))
        if n_test == 0 or n_test >= len(rows):
            continue
        chosen = rows[len(rows) - n_test :] if by_time else rng.choice(rows, n_test, replace=False)
        is_test[chosen] = True
    return is_test


def leave_last_out(snapshot: Snapshot) -> np.ndarray:
    """Boolean test mask: each user's newest interaction (users with at least 2). Applied again to
    train it gives the usual leave-one-out validation item (the second newest)."""
    order = np.argsort(snapshot.users, kind="stable")
    counts = np.bincount(snapshot.users, minlength=snapshot.n_users)
    ends = np.cumsum(counts)
    is_test = np.zeros(snapshot.n_interactions, dtype=bool)
    is_test[order[ends[counts >= 2] - 1]] = True
    return is_test


@dataclass(frozen=True)
class Protocol:
    name: str
    folder: str  # under the shared data directory
    load: Callable[[Path], Snapshot]
    split: Callable[[Snapshot], np.ndarray]  # test mask; applied again to train for validation
    description: str
    exclude_seen: bool = True  # remove the user's training items from every ranking
    hit_rate: bool = False  # report HR@10 (leave-one-out protocols)
    required: tuple[str, ...] = ()  # files that must exist in the folder


PROTOCOLS: list[Protocol] = [
    Protocol(
        "ml-100k-random",
        "ml-100k",
        load_ml100k,
        partial(per_user_holdout, fraction=0.2, by_time=False),
        "MovieLens 100K, every rating a positive; per user 20% of the ratings at random are test "
        f"(seed {SPLIT_SEED}); validation = the same split of the training part",
        required=("u.data",),
    ),
    Protocol(
        "ml-100k-time",
        "ml-100k",
        load_ml100k,
        partial(per_user_holdout, fraction=0.2, by_time=True),
        "MovieLens 100K, every rating a positive; per user the newest 20% are test; "
        "validation = the newest 20% of each user's training part",
        required=("u.data",),
    ),
    Protocol(
        "poc-movielens-time",
        "personalize-poc-movielens",
        load_personalize_csv,
        partial(per_user_holdout, fraction=0.2, by_time=True),
        "Personalize POC MovieLens interactions.csv (click and watch events, a (user, item) pair "
        "once at its first event); per user the newest 20% are test; validation = the newest 20% "
        "of each user's training part",
        required=("interactions.csv",),
    ),
    Protocol(
        "beauty-leave-one-out",
        "amazon-s3rec-seq",
        load_sequences,
        leave_last_out,
        "Amazon Beauty (S3-Rec sequences): each user's last item is test, the one before it "
        "validation; full ranking, history excluded (published: ICLRec HR@10 0.0744 / NDCG@10 0.0403)",
        hit_rate=True,
        required=("Beauty.txt",),
    ),
    Protocol(
        "ml1m-gsasrec-validation",
        "ml-1m-sasrec-gsasrec-split",
        load_ml1m_gsasrec,
        validation_users_last,
        "MovieLens 1M, the gSASRec split: train on every user's sequence, score the 512 validation "
        "users' next item (val/output.txt); tuning on those users' item before; full ranking, history "
        "excluded (published NDCG@10: gSASRec 0.197, SASRec 0.143)",
        hit_rate=True,
        required=("train/input.txt", "val/input.txt", "val/output.txt"),
    ),
]


# ---------------------------------------------------------------------------------------------
# Tuning and running


@dataclass
class Row:
    model: str
    metrics: Metrics
    params: dict[str, Any]
    fit_seconds: float
    tune_seconds: float
    validation_ndcg10: float | None
    ours: bool
    trials: int | None = None  # the tuning budget, when it was not the protocol's


@dataclass
class Result:
    protocol: Protocol
    snapshot: Snapshot
    n_train: int
    n_test: int
    trials: int
    rows: list[Row]
    seconds: float


def _params_key(params: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(params.items()))


def tune(
    spec: ModelSpec, train: Snapshot, validation: Snapshot, *, trials: int, exclude_seen: bool
) -> tuple[dict[str, Any], float]:
    """The configuration with the best validation NDCG@10 after ``trials`` optuna trials (TPE,
    fixed seed; the first trial is the model's defaults). Repeated configurations are not refit."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=TUNING_SEED, n_startup_trials=max(1, min(10, trials // 2)))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.enqueue_trial(spec.defaults)
    assert spec.space is not None
    space = spec.space
    cache: dict[tuple[tuple[str, Any], ...], float] = {}

    def objective(trial: Any) -> float:
        params = space(trial)
        key = _params_key(params)
        if key not in cache:
            cache[key] = evaluate(
                spec.fit(train, params), train, validation, exclude_seen=exclude_seen
            ).ndcg10
        trial.set_user_attr("params", params)
        return cache[key]

    study.optimize(objective, n_trials=trials)
    return dict(study.best_trial.user_attrs["params"]), float(study.best_value)


def run_protocol(
    protocol: Protocol,
    snapshot: Snapshot,
    models: Sequence[ModelSpec] = MODELS,
    *,
    trials: int = DEFAULT_TRIALS,
    log: Callable[[str], None] = lambda _: None,
) -> Result:
    """Split, tune every model on the validation carve-out, refit on train + validation, test."""
    started = time.perf_counter()
    is_test = protocol.split(snapshot)
    train, test = snapshot.subset(~is_test), snapshot.subset(is_test)
    is_validation = protocol.split(train)
    inner, validation = train.subset(~is_validation), train.subset(is_validation)
    rows = []
    for spec in models:
        if spec.sequential_only and not protocol.hit_rate:
            continue
        tune_started = time.perf_counter()
        params, validation_ndcg = dict(spec.defaults), None
        if spec.space is not None:
            budget = min(trials, spec.max_trials or trials)
            params, validation_ndcg = tune(
                spec, inner, validation, trials=budget, exclude_seen=protocol.exclude_seen
            )
        tune_seconds = time.perf_counter() - tune_started
        fit_started = time.perf_counter()
        scorer = spec.fit(train, params)
        fit_seconds = time.perf_counter() - fit_started
        metrics = evaluate(scorer, train, test, exclude_seen=protocol.exclude_seen)
        budget = spec.max_trials if spec.space is not None and (spec.max_trials or trials) < trials else None
        rows.append(
            Row(spec.name, metrics, params, fit_seconds, tune_seconds, validation_ndcg, spec.ours, budget)
        )
        log(
            f"  {spec.name}: NDCG@10 {metrics.ndcg10:.4f}, Recall@20 {metrics.recall20:.4f}"
            f" ({_format_params(params)}; fit {fit_seconds:.2f}s, tuning {tune_seconds:.1f}s)"
        )
    return Result(
        protocol,
        snapshot,
        train.n_interactions,
        test.n_interactions,
        trials,
        rows,
        time.perf_counter() - started,
    )


# ---------------------------------------------------------------------------------------------
# Output


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _format_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_format_value(v)}" for k, v in params.items()) or "defaults"


def best_peer(result: Result, metric: str) -> Row | None:
    peers = [row for row in result.rows if not row.ours]
    return max(peers, key=lambda row: getattr(row.metrics, metric)) if peers else None


def markdown(result: Result) -> str:
    protocol = result.protocol
    snapshot = result.snapshot
    n_test_users = result.rows[0].metrics.n_users if result.rows else 0
    lines = [
        f"### {protocol.name}",
        "",
        f"{protocol.description}. {snapshot.n_users:,} users, {snapshot.n_items:,} items, "
        f"{snapshot.n_interactions:,} interactions ({result.n_train:,} train incl. validation, "
        f"{result.n_test:,} test), {n_test_users:,} test users; "
        f"{'training items excluded from every ranking; ' if protocol.exclude_seen else ''}"
        f"tuned models: {result.trials} trials each; {result.seconds:.0f} s for the protocol.",
        "",
    ]
    headers = ["model", "NDCG@10", "Recall@20", *(["HR@10"] if protocol.hit_rate else [])]
    headers += ["hyperparameters", "validation NDCG@10", "fit s", "tuning s"]
    lines.append("| " + " | ".join(headers) + " |")
    lines.append(
        "|"
        + "|".join(
            ["---", "---:", "---:", *(["---:"] if protocol.hit_rate else []), "---", "---:", "---:", "---:"]
        )
        + "|"
    )
    for row in result.rows:
        cells = [
            (f"**{row.model}**" if row.model == OUR_DEFAULTS_NAME else row.model)
            + (f" ({row.trials} trials)" if row.trials else ""),
            f"{row.metrics.ndcg10:.4f}",
            f"{row.metrics.recall20:.4f}",
            *([f"{row.metrics.hr10:.4f}"] if protocol.hit_rate else []),
            _format_params(row.params) if row.params else "defaults",
            "" if row.validation_ndcg10 is None else f"{row.validation_ndcg10:.4f}",
            f"{row.fit_seconds:.2f}",
            "" if row.validation_ndcg10 is None else f"{row.tune_seconds:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    compared = [OUR_DEFAULTS_NAME] + ([V2_DEFAULTS_NAME] if protocol.hit_rate else [])
    for ours in (row for row in result.rows if row.model in compared):
        ratios = []
        for metric, label in (
            ("ndcg10", "NDCG@10"),
            ("recall20", "Recall@20"),
            *((("hr10", "HR@10"),) if protocol.hit_rate else ()),
        ):
            peer = best_peer(result, metric)
            if peer is not None and getattr(peer.metrics, metric) > 0:
                ratio = getattr(ours.metrics, metric) / getattr(peer.metrics, metric)
                ratios.append(f"{label} {ratio:.3f}× ({peer.model})")
        if ratios:
            lines += ["", f"{ours.model} / best peer: " + "; ".join(ratios) + "."]
    return "\n".join(lines) + "\n"


def document(results: Sequence[Result], command: str, total_seconds: float, load: float) -> str:
    head = [
        "## Offline quality against peers",
        "",
        f"`{command}` — {datetime.date.today().isoformat()}, {common.machine()}, "
        f"load average {load:.1f} at the start, {total_seconds / 60:.1f} min in all.",
        "",
        METRIC_DEFINITIONS,
        "Tuned models: optuna TPE (seed 0), the model's defaults as the first trial, the best "
        "validation NDCG@10 chosen, then retrained on train + validation and scored once on test; "
        "“fit s” is that final fit. BPR's threads update in parallel, so its numbers vary slightly "
        "between runs.",
        "",
    ]
    return "\n".join(head) + "\n" + "\n".join(markdown(result) for result in results)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="the shared data folder")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_TRIALS} trials per tuned model")
    parser.add_argument(
        "--only", default="", help="run only this protocol: " + ", ".join(p.name for p in PROTOCOLS)
    )
    parser.add_argument(
        "--trials", type=int, default=None, help=f"trials per tuned model (default {DEFAULT_TRIALS})"
    )
    parser.add_argument("--out", type=Path, default=None, help="markdown file to write")
    parser.add_argument(
        "--recency-floor",
        default="",
        help="comma-separated what-if recency floors: extra rows of aws-user-personalization at its "
        f"defaults with the model's recency floor replaced (the recipe uses {RECENCY_FLOOR:g})",
    )
    parser.add_argument(
        "--sasrec-seconds",
        type=float,
        default=peer_sasrec.TIME_BUDGET,
        help="wall-clock budget of each SASRec peer fit (the paper trains ~200 epochs)",
    )
    parser.add_argument(
        "--models",
        default="",
        help="comma-separated words: run only the models whose names contain one (e.g. 'kNN,SASRec')",
    )
    args = parser.parse_args(argv)
    peer_sasrec.TIME_BUDGET = args.sasrec_seconds
    data = args.data or common.shared_data_dir()
    trials = args.trials or (QUICK_TRIALS if args.quick else DEFAULT_TRIALS)
    protocols = [p for p in PROTOCOLS if not args.only or p.name == args.only]
    if not protocols:
        parser.error(f"no protocol named {args.only!r}; known: {', '.join(p.name for p in PROTOCOLS)}")
    models = [*MODELS]
    models[1:1] = [recency_floor_what_if(float(f)) for f in args.recency_floor.split(",") if f.strip()]
    wanted = [w.strip().lower() for w in args.models.split(",") if w.strip()]
    if wanted:
        models = [m for m in models if any(w in m.name.lower() for w in wanted)]
        if not models:
            parser.error(f"no model matches --models {args.models!r}")
    load = os.getloadavg()[0]
    print(f"machine: {common.machine()}; load average {load:.1f}; data {data}")
    started = time.perf_counter()
    results = []
    snapshots: dict[str, Snapshot] = {}
    for protocol in protocols:
        folder = data / protocol.folder
        missing = [name for name in protocol.required if not (folder / name).exists()]
        if not folder.is_dir() or missing:
            print(f"\n{protocol.name}: skipped, {folder / (missing[0] if missing else '')} not found")
            continue
        if protocol.folder not in snapshots:
            snapshots[protocol.folder] = protocol.load(folder)
        print(f"\n{protocol.name}:", flush=True)
        result = run_protocol(
            protocol,
            snapshots[protocol.folder],
            models,
            trials=trials,
            log=lambda line: print(line, flush=True),
        )
        results.append(result)
        print("\n" + markdown(result), flush=True)
    total = time.perf_counter() - started
    if not results:
        print("no data set found; nothing written")
        return
    suffix = (f"-{args.only}" if args.only else "") + ("-quick" if args.quick else "")
    suffix += "-some-models" if wanted else ""
    out = args.out or RESULTS / f"quality{suffix}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    command = "PYTHONPATH=src .venv/bin/python benchmarks/quality.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    out.write_text(document(results, command.strip(), total, load))
    print(f"total {total:.0f} s; written to {out}")


if __name__ == "__main__":
    main()
