"""benchmarks/quality.py on a tiny synthetic data set: every model gets a row with sane metrics,
the metric code agrees with hand-computed values, and a model that sees the answers beats
popularity."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import quality  # noqa: E402

from openpersonalize.data.snapshot import Snapshot, build_snapshot  # noqa: E402
from openpersonalize.recipes.user_personalization import RECENCY_FLOOR  # noqa: E402


def clustered(n_users: int = 80, n_items: int = 48, n_clusters: int = 4, seed: int = 3) -> Snapshot:
    """Users in clusters; each interacts with most of its cluster's items and a few random ones,
    so item co-occurrence predicts the held-out items far better than popularity."""
    rng = np.random.default_rng(seed)
    per_cluster = n_items // n_clusters
    users, items = [], []
    for user in range(n_users):
        cluster = user % n_clusters
        own = rng.choice(np.arange(cluster * per_cluster, (cluster + 1) * per_cluster), 8, replace=False)
        other = rng.choice(n_items, 2, replace=False)
        for item in np.unique(np.r_[own, other]):
            users.append(f"u{user}")
            items.append(f"i{item}")
    # One very popular item outside any cluster structure, so popularity has a clear favourite.
    for user in range(0, n_users, 2):
        users.append(f"u{user}")
        items.append("hit")
    timestamps = rng.permutation(len(users)).astype(np.int64) + 1_000_000
    return quality.snapshot_from_columns(users, items, timestamps)


def oracle(full: Snapshot) -> quality.ModelSpec:
    """Scores every (user, item) of the full data set 1: after the training items are excluded,
    exactly the held-out items lead."""
    answers = full.matrix()

    def fit(train: Snapshot, params: dict[str, Any]) -> quality.Scorer:
        return lambda users, histories, rows: answers[users].toarray()

    return quality.ModelSpec("oracle", fit)


PROTOCOL = quality.Protocol(
    "synthetic-random",
    "synthetic",
    lambda folder: clustered(),
    partial(quality.per_user_holdout, fraction=0.2, by_time=False),
    "synthetic clusters",
)


def test_every_model_gets_a_row_and_the_oracle_beats_popularity() -> None:
    snapshot = clustered()
    same_floor = quality.recency_floor_what_if(RECENCY_FLOOR)
    models = [*quality.MODELS, same_floor, quality.recency_floor_what_if(0.9), oracle(snapshot)]
    result = quality.run_protocol(PROTOCOL, snapshot, models, trials=2)
    rows = {row.model: row for row in result.rows}
    assert list(rows) == [spec.name for spec in models if not spec.sequential_only]
    for row in result.rows:
        for value in (row.metrics.ndcg10, row.metrics.recall20, row.metrics.hr10):
            assert 0.0 <= value <= 1.0, (row.model, row.metrics)
        assert row.metrics.n_users == result.rows[0].metrics.n_users > 40
    assert rows["oracle"].metrics.ndcg10 == pytest.approx(1.0)
    assert rows["oracle"].metrics.recall20 == pytest.approx(1.0)
    popularity = rows["popularity"].metrics
    assert popularity.ndcg10 < 0.5
    assert rows["oracle"].metrics.ndcg10 > popularity.ndcg10 + 0.3
    # On clustered data item co-occurrence must beat popularity clearly, ours included.
    assert rows["EASE"].metrics.ndcg10 > popularity.ndcg10 + 0.1
    assert rows[quality.OUR_DEFAULTS_NAME].metrics.ndcg10 > popularity.ndcg10 + 0.1
    assert rows["popularity"].metrics == rows["aws-popularity-count"].metrics
    # The what-if row at the recipe's own recency floor is the defaults row.
    assert rows[same_floor.name].metrics == rows[quality.OUR_DEFAULTS_NAME].metrics

    table = quality.markdown(result)
    for spec in models:
        shown = f"| {spec.name} |" in table or f"| **{spec.name}** |" in table
        assert shown != spec.sequential_only
    assert "best peer" in table and "HR@10" not in table


def sequences(n_users: int = 120, n_items: int = 40, length: int = 12, seed: int = 5) -> Snapshot:
    """Each user walks the catalogue in steps of one from a random start: the next item follows
    from the last one, which only an order-aware model can know."""
    rng = np.random.default_rng(seed)
    users, items, times = [], [], []
    for user in range(n_users):
        start = int(rng.integers(n_items))
        for step in range(length):
            users.append(f"u{user}")
            items.append(f"i{(start + step) % n_items}")
            times.append(1_000_000 + user * 100 + step)
    return quality.snapshot_from_columns(users, items, np.array(times, dtype=np.int64))


def test_the_sasrec_peer_runs_on_leave_one_out_and_learns_the_order() -> None:
    protocol = quality.Protocol(
        "synthetic-loo",
        "synthetic",
        lambda folder: sequences(),
        quality.leave_last_out,
        "walks",
        hit_rate=True,
    )
    sasrec = next(spec for spec in quality.MODELS if spec.sequential_only)
    popularity = next(spec for spec in quality.MODELS if spec.name == "popularity")
    result = quality.run_protocol(protocol, sequences(), [popularity, sasrec], trials=2)
    rows = {row.model: row for row in result.rows}
    assert rows[sasrec.name].metrics.hr10 > rows["popularity"].metrics.hr10 + 0.3
    assert "HR@10" in quality.markdown(result)


def test_metrics_match_hand_computed_values() -> None:
    # User b has all 30 items in training (so every item is in the vocabulary); user a has i0 and
    # i1 in training and i5 and i25 held out.
    n = 30
    users = ["b"] * n + ["a"] * 4
    items = [f"i{k}" for k in range(n)] + ["i0", "i1", "i5", "i25"]
    full = quality.snapshot_from_columns(users, items, np.arange(len(users), dtype=np.int64))
    held_out = np.isin(full.item_ids[full.items], ["i5", "i25"]) & (full.user_ids[full.users] == "a")
    train, test = full.subset(~held_out), full.subset(held_out)
    index = full.item_index()
    # a's ranking, best first: the seen i0, then i7, i5 (hit at rank 2 once i0 is excluded), every
    # other item, and i25 last (rank 28 of the 28 unseen items: outside the top 20).
    others = [f"i{k}" for k in range(2, n) if k not in (5, 7, 25)]
    ranking = ["i0", "i7", "i5", *others, "i1", "i25"]

    def scorer(batch: np.ndarray, histories: list[np.ndarray], rows: sp.csr_matrix) -> np.ndarray:
        scores = np.zeros((len(batch), full.n_items))
        for rank, item in enumerate(ranking):
            scores[:, index[item]] = len(ranking) - rank
        return scores

    metrics = quality.evaluate(scorer, train, test)
    assert metrics.n_users == 1  # b has nothing held out
    assert metrics.ndcg10 == pytest.approx((1 / np.log2(3)) / (1 + 1 / np.log2(3)))
    assert metrics.recall20 == pytest.approx(0.5)
    assert metrics.hr10 == 1.0
    # Without the exclusion the seen i0 keeps rank 1 and i5 drops to rank 3.
    loose = quality.evaluate(scorer, train, test, exclude_seen=False)
    assert loose.ndcg10 == pytest.approx((1 / np.log2(4)) / (1 + 1 / np.log2(3)))
    # A perfect ranking of the unseen items.
    ranking[:] = ["i5", "i25", *others, "i7", "i0", "i1"]
    assert quality.evaluate(scorer, train, test).ndcg10 == pytest.approx(1.0)
    assert quality.evaluate(scorer, train, test).recall20 == pytest.approx(1.0)


def test_recall_divides_by_at_most_20_and_seen_items_are_not_relevant() -> None:
    # Each user's first 5 events are training. a: i0..i4, then 25 more items held out. b: i0..i4,
    # then i5, i6 and a repeat of i0, which cannot be recommended and so is not relevant (built
    # without dedupe_pairs, so the repeat stays).
    a_items = [f"i{k}" for k in range(30)]
    b_items = [f"i{k}" for k in range(7)] + ["i0"]
    table = pa.table(
        {
            "USER_ID": pa.array(["a"] * len(a_items) + ["b"] * len(b_items)),
            "ITEM_ID": pa.array(a_items + b_items),
            "TIMESTAMP": pa.array(np.arange(len(a_items) + len(b_items), dtype=np.int64)),
        }
    )
    full = build_snapshot(table)
    position = np.r_[np.arange(len(a_items)), np.arange(len(b_items))]
    train, test = full.subset(position < 5), full.subset(position >= 5)

    def by_index(batch: np.ndarray, histories: list[np.ndarray], rows: sp.csr_matrix) -> np.ndarray:
        return np.tile(-np.arange(full.n_items, dtype=np.float64), (len(batch), 1))  # i0 best

    # a: the top 20 unseen items i5..i24 are all relevant, 20 hits / min(20, 25) = 1.
    # b: i5 and i6 lead the unseen items; with i0 counted as relevant it would be 2/3.
    metrics = quality.evaluate(by_index, train, test)
    assert metrics.n_users == 2
    assert metrics.recall20 == pytest.approx(1.0)
    assert metrics.ndcg10 == pytest.approx(1.0)


def test_ease_low_rank_path_matches_the_dense_inverse() -> None:
    snapshot = clustered(n_users=20, n_items=48)  # fewer users than items
    users = np.arange(snapshot.n_users)
    rows = snapshot.matrix()
    histories = quality.user_histories(snapshot)
    dense = quality.ease_fit(snapshot, {"l2": 7.0}, woodbury=False)(users, histories, rows)
    low_rank = quality.ease_fit(snapshot, {"l2": 7.0}, woodbury=True)(users, histories, rows)
    np.testing.assert_allclose(low_rank, dense, atol=1e-8)


def test_holdout_splits_take_a_fifth_per_user_and_the_newest_by_time() -> None:
    snapshot = clustered()
    by_time = quality.per_user_holdout(snapshot, fraction=0.2, by_time=True)
    at_random = quality.per_user_holdout(snapshot, fraction=0.2, by_time=False)
    counts = np.bincount(snapshot.users)
    for mask in (by_time, at_random):
        held = np.bincount(snapshot.users[mask], minlength=snapshot.n_users)
        np.testing.assert_array_equal(held, [round(0.2 * n) for n in counts])
    for user in range(snapshot.n_users):
        mine = snapshot.users == user
        assert snapshot.timestamps[mine & by_time].min() >= snapshot.timestamps[mine & ~by_time].max()
    assert not np.array_equal(by_time, at_random)
    np.testing.assert_array_equal(at_random, quality.per_user_holdout(snapshot, fraction=0.2, by_time=False))
    last = quality.leave_last_out(snapshot)
    np.testing.assert_array_equal(np.bincount(snapshot.users[last]), np.ones(snapshot.n_users))
    for user in range(snapshot.n_users):
        mine = snapshot.users == user
        assert snapshot.timestamps[mine & last].min() == snapshot.timestamps[mine].max()


def test_the_ml1m_gsasrec_loader_finds_the_validation_users_and_their_next_item(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "val").mkdir()
    (tmp_path / "train" / "input.txt").write_text("1 2 3\n4 5\n2 6 7 8\n")
    (tmp_path / "val" / "input.txt").write_text("4 5 9\n")  # user 1's line plus one item
    (tmp_path / "val" / "output.txt").write_text("3\n")
    snapshot = quality.load_ml1m_gsasrec(tmp_path)
    assert snapshot.n_interactions == 3 + 4 + 4
    test = quality.validation_users_last(snapshot)
    assert test.sum() == 1
    assert snapshot.user_ids[snapshot.users[test]][0] == f"{quality.VALIDATION_USER}1"
    assert snapshot.item_ids[snapshot.items[test]][0] == "3"
    tuning = quality.validation_users_last(snapshot.subset(~test))
    assert snapshot.item_ids[snapshot.subset(~test).items[tuning]].tolist() == ["9"]
