"""Offline evaluation: Personalize's user split, leave-last-out, the §10 metrics and evaluate()."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openpersonalize.data.snapshot import Snapshot, build_snapshot
from openpersonalize.evaluation import (
    METRIC_NAMES,
    Split,
    evaluate,
    hit_rate_at,
    ranking_metrics,
    recall_at,
    split_by_time_leave_last_out,
    split_users,
    top_k,
)

CATALOG = 100


def ranked_with_hits(
    positions: list[int], width: int = 25, first_relevant: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """A ranked list of ``width`` distinct items whose 1-based ``positions`` hold relevant items."""
    ranked = np.arange(width, dtype=np.int32)
    relevant = np.arange(first_relevant, first_relevant + len(positions), dtype=np.int32)
    for position, item in zip(positions, relevant, strict=True):
        ranked[position - 1] = item
    return ranked, relevant


def interactions(rows: list[tuple[str, str, int]]) -> pa.Table:
    users, items, times = zip(*rows, strict=True)
    return pa.table(
        {"USER_ID": list(users), "ITEM_ID": list(items), "TIMESTAMP": pa.array(times, pa.int64())}
    )


def synthetic_snapshot(n_users: int = 200, n_items: int = 60, seed: int = 0) -> Snapshot:
    """Users with 1..30 interactions at random times; item popularity is skewed."""
    rng = np.random.default_rng(seed)
    rows = []
    popularity = 1.0 / np.arange(1, n_items + 1)
    popularity /= popularity.sum()
    for user in range(n_users):
        for _ in range(int(rng.integers(1, 31))):
            rows.append((f"u{user}", f"i{rng.choice(n_items, p=popularity)}", int(rng.integers(0, 10_000))))
    return build_snapshot(interactions(rows))


def user_rows(snapshot: Snapshot, user: int) -> np.ndarray:
    return np.flatnonzero(snapshot.users == user)


# --- ranking_metrics: the spec's worked examples -------------------------------------------------


def test_mean_reciprocal_rank_matches_the_guide_example() -> None:
    lists = [ranked_with_hits([4, 10]), ranked_with_hits([2, 4, 12]), ranked_with_hits([6])]
    metrics = ranking_metrics([r for r, _ in lists], [rel for _, rel in lists], catalog_size=2000)
    assert metrics["mean_reciprocal_rank_at_25"] == pytest.approx((1 / 4 + 1 / 2 + 1 / 6) / 3)
    assert round(metrics["mean_reciprocal_rank_at_25"], 4) == 0.3056


def test_ndcg_matches_the_guide_example() -> None:
    ranked, relevant = ranked_with_hits([2, 5])
    metrics = ranking_metrics([ranked], [relevant], catalog_size=2000)
    assert round(metrics["normalized_discounted_cumulative_gain_at_5"], 4) == 0.6241


# --- ranking_metrics: hand-computed cases -------------------------------------------------------


def test_precision_counts_hits_over_k_even_for_short_lists() -> None:
    # User 0: hits at 1, 7 and 20 of 25. User 1: only 3 recommendations, one hit at position 3.
    ranked0, relevant0 = ranked_with_hits([1, 7, 20])
    metrics = ranking_metrics(
        [ranked0, np.array([50, 51, 52])], [relevant0, np.array([52, 99])], catalog_size=CATALOG * 20
    )
    assert metrics["precision_at_5"] == pytest.approx((1 / 5 + 1 / 5) / 2)
    assert metrics["precision_at_10"] == pytest.approx((2 / 10 + 1 / 10) / 2)
    assert metrics["precision_at_25"] == pytest.approx((3 / 25 + 1 / 25) / 2)


def test_ndcg_ideal_uses_min_of_k_and_relevant_count() -> None:
    # 3 relevant items, one found at position 1: DCG@K = 1 for every K, IDCG = 1 + 1/log2(3) + 1/log2(4).
    ranked, relevant = ranked_with_hits([1, 30, 40], width=40)
    metrics = ranking_metrics([ranked], [relevant], catalog_size=2000)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    for k in (5, 10, 25):
        assert metrics[f"normalized_discounted_cumulative_gain_at_{k}"] == pytest.approx(1 / ideal)
    # 30 relevant items with the top 5 all hits: NDCG@5 = 1 although most relevant items are missed.
    many = np.arange(30)
    metrics = ranking_metrics([np.array([0, 1, 2, 3, 4, 90, 91])], [many], catalog_size=CATALOG)
    assert metrics["normalized_discounted_cumulative_gain_at_5"] == pytest.approx(1.0)
    assert metrics["normalized_discounted_cumulative_gain_at_10"] == pytest.approx(
        sum(1 / math.log2(p + 1) for p in range(1, 6)) / sum(1 / math.log2(p + 1) for p in range(1, 11))
    )


def test_reciprocal_rank_ignores_hits_beyond_25_and_misses_count_zero() -> None:
    late, late_relevant = ranked_with_hits([26], width=30)
    early, early_relevant = ranked_with_hits([3])
    metrics = ranking_metrics([late, early], [late_relevant, early_relevant], catalog_size=2000)
    assert metrics["mean_reciprocal_rank_at_25"] == pytest.approx((0 + 1 / 3) / 2)


def test_coverage_is_distinct_recommended_items_over_catalog() -> None:
    recommended = [np.array([1, 2, 3]), np.array([3, 4]), np.array([1])]
    metrics = ranking_metrics(recommended, [np.array([9])] * 3, catalog_size=40)
    assert metrics["coverage"] == pytest.approx(4 / 40)


def test_a_relevant_item_listed_twice_counts_once() -> None:
    metrics = ranking_metrics([np.array([7, 7, 7, 7, 7])], [np.array([7])], catalog_size=CATALOG)
    assert metrics["precision_at_5"] == pytest.approx(1 / 5)
    assert metrics["normalized_discounted_cumulative_gain_at_5"] == pytest.approx(1.0)


def test_metric_keys_and_empty_test_set() -> None:
    assert tuple(ranking_metrics([], [], catalog_size=10)) == METRIC_NAMES
    assert set(ranking_metrics([], [], catalog_size=10).values()) == {0.0}


def test_mismatched_lengths_are_rejected() -> None:
    with pytest.raises(ValueError, match="2 recommendation lists for 1 relevant sets"):
        ranking_metrics([np.array([1]), np.array([2])], [np.array([1])], catalog_size=10)


def test_recall_and_hit_rate() -> None:
    recommended = [np.array([1, 2, 3, 4]), np.array([5, 6, 7, 8]), np.array([9, 10, 11, 12])]
    relevant = [np.array([2, 4, 20, 21]), np.array([8]), np.array([30])]
    assert recall_at(recommended, relevant, 2) == pytest.approx((1 / 4 + 0 + 0) / 3)
    assert recall_at(recommended, relevant, 4) == pytest.approx((2 / 4 + 1 + 0) / 3)
    assert hit_rate_at(recommended, relevant, 2) == pytest.approx(1 / 3)
    assert hit_rate_at(recommended, relevant, 4) == pytest.approx(2 / 3)


@st.composite
def users_and_lists(draw: st.DrawFn) -> tuple[list[np.ndarray], list[np.ndarray]]:
    n_users = draw(st.integers(1, 8))
    recommended, relevant = [], []
    for _ in range(n_users):
        recommended.append(
            np.array(draw(st.lists(st.integers(0, 49), max_size=30, unique=True)), dtype=np.int32)
        )
        relevant.append(np.array(draw(st.lists(st.integers(0, 49), min_size=1, max_size=40)), dtype=np.int32))
    return recommended, relevant


@settings(max_examples=150, deadline=None)
@given(users_and_lists())
def test_every_metric_lies_in_unit_interval(case: tuple[list[np.ndarray], list[np.ndarray]]) -> None:
    recommended, relevant = case
    for value in ranking_metrics(recommended, relevant, catalog_size=50).values():
        assert 0.0 <= value <= 1.0


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.integers(0, 199), min_size=1, max_size=40, unique=True), min_size=1, max_size=6))
def test_a_perfect_recommender_is_ideal(relevant_lists: list[list[int]]) -> None:
    relevant = [np.array(r, dtype=np.int32) for r in relevant_lists]
    # Relevant items first, then filler the user doesn't want, 25 items in all.
    recommended = [np.concatenate([r, np.setdiff1d(np.arange(200, 230), r)])[:25] for r in relevant]
    metrics = ranking_metrics(recommended, relevant, catalog_size=300)
    for k in (5, 10, 25):
        expected_precision = np.mean([min(len(r), k) / k for r in relevant])
        assert metrics[f"precision_at_{k}"] == pytest.approx(expected_precision)
        assert metrics[f"normalized_discounted_cumulative_gain_at_{k}"] == pytest.approx(1.0)
    assert metrics["mean_reciprocal_rank_at_25"] == pytest.approx(1.0)


# --- top_k ---------------------------------------------------------------------------------------


def test_top_k_orders_by_score_then_item_index_and_skips_excluded_items() -> None:
    scores = np.array(
        [
            [0.1, 0.9, 0.5, 0.9, 0.0],
            [-np.inf, 2.0, np.nan, -np.inf, -np.inf],
        ],
        dtype=np.float32,
    )
    first, second = top_k(scores, 3)
    assert first.tolist() == [1, 3, 2]
    assert second.tolist() == [1]  # -inf and NaN items are never recommended
    assert [row.tolist() for row in top_k(scores[:1], 10)] == [[1, 3, 2, 0, 4]]


# --- split_users ---------------------------------------------------------------------------------


def test_split_users_is_deterministic_under_the_seed() -> None:
    snapshot = synthetic_snapshot()
    a, b = split_users(snapshot, seed=7), split_users(snapshot, seed=7)
    assert a.test_users.tolist() == b.test_users.tolist()
    assert all(np.array_equal(x, y) for x, y in zip(a.histories, b.histories, strict=True))
    assert all(np.array_equal(x, y) for x, y in zip(a.relevant, b.relevant, strict=True))
    assert split_users(snapshot, seed=8).test_users.tolist() != a.test_users.tolist()


def test_split_users_holds_out_ten_percent_of_users_entirely() -> None:
    snapshot = synthetic_snapshot(n_users=300)
    split = split_users(snapshot)
    assert split.test_users.dtype == np.int32
    assert len(split.test_users) == 30
    assert len(set(split.test_users.tolist())) == 30
    # Test users' interactions are all out of training; everyone else's are all in.
    assert not np.isin(split.train.users, split.test_users).any()
    test_rows = np.isin(snapshot.users, split.test_users).sum()
    assert split.train.n_interactions == snapshot.n_interactions - test_rows
    assert split.train.item_ids is snapshot.item_ids and split.train.user_ids is snapshot.user_ids


def test_users_with_one_interaction_are_never_tested() -> None:
    # 10 users with a single interaction and 2 with two: the 10 % of 12 users must come from the two.
    rows = [(f"single{u}", "a", u) for u in range(10)] + [
        ("x", "a", 1),
        ("x", "b", 2),
        ("y", "c", 3),
        ("y", "a", 4),
    ]
    snapshot = build_snapshot(interactions(rows))
    for seed in range(20):
        split = split_users(snapshot, seed=seed)
        assert [snapshot.user_ids[u] for u in split.test_users] in (["x"], ["y"])


def test_history_is_the_oldest_ninety_percent_and_relevant_the_newest() -> None:
    snapshot = synthetic_snapshot(n_users=400)
    split = split_users(snapshot, test_fraction=0.25)
    for user, history, relevant in zip(split.test_users, split.histories, split.relevant, strict=True):
        rows = user_rows(snapshot, user)
        n = len(rows)
        held_out = min(n - 1, max(1, math.ceil(round(0.1 * n, 9))))
        assert len(history) == n - held_out
        assert history.tolist() == snapshot.items[rows[: n - held_out]].tolist()  # oldest first
        assert relevant.tolist() == sorted(set(snapshot.items[rows[n - held_out :]].tolist()))
        assert (
            snapshot.timestamps[rows[: n - held_out]].max() <= snapshot.timestamps[rows[n - held_out :]].min()
        )


def test_hold_out_sizes_for_small_and_round_counts() -> None:
    # A user with n interactions holds out ceil(0.1 n), at least 1: 2 -> 1, 10 -> 1, 11 -> 2, 30 -> 3.
    rows = []
    for user, n in (("two", 2), ("ten", 10), ("eleven", 11), ("thirty", 30)):
        rows += [(user, f"{user}-{i}", i) for i in range(n)]
    snapshot = build_snapshot(interactions(rows))
    split = split_users(snapshot, test_fraction=0.99)
    held_out = {snapshot.user_ids[u]: len(r) for u, r in zip(split.test_users, split.relevant, strict=True)}
    assert held_out == {"two": 1, "ten": 1, "eleven": 2, "thirty": 3}


def test_hold_out_size_is_not_inflated_by_float_noise() -> None:
    snapshot = build_snapshot(interactions([("u", f"i{i}", i) for i in range(100)]))
    split = split_users(snapshot, test_fraction=0.5, holdout_fraction=0.55)  # 0.55 * 100 == 55.00000000000001
    assert len(split.relevant[0]) == 55 and len(split.histories[0]) == 45


def test_max_test_users_caps_the_sample_and_the_rest_train() -> None:
    snapshot = synthetic_snapshot(n_users=300)
    split = split_users(snapshot, max_test_users=7)
    assert len(split.test_users) == 7 == len(split.histories) == len(split.relevant)
    assert len(np.unique(split.train.users)) == snapshot.n_users - 7


# --- split_by_time_leave_last_out ---------------------------------------------------------------


def test_leave_last_out_holds_out_each_users_last_item() -> None:
    rows = [("a", "i1", 1), ("a", "i2", 2), ("b", "i3", 1), ("a", "i3", 5), ("c", "i1", 3), ("c", "i2", 4)]
    snapshot = build_snapshot(interactions(rows))
    split = split_by_time_leave_last_out(snapshot)
    by_user = {
        snapshot.user_ids[u]: (snapshot.item_ids[h].tolist(), snapshot.item_ids[r].tolist())
        for u, h, r in zip(split.test_users, split.histories, split.relevant, strict=True)
    }
    assert by_user == {"a": (["i1", "i2"], ["i3"]), "c": (["i1"], ["i2"])}
    train = sorted(
        zip(snapshot.user_ids[split.train.users], snapshot.item_ids[split.train.items], strict=True)
    )
    assert train == [("a", "i1"), ("a", "i2"), ("b", "i3"), ("c", "i1")]


# --- evaluate ------------------------------------------------------------------------------------


class TableModel:
    """Fixed scores per user, looked up by the user's history (each test history is distinct);
    unknown histories get popularity-like scores. Records what it was asked."""

    recipe = "test-table"

    def __init__(self, item_ids: np.ndarray, rows: dict[tuple[int, ...], np.ndarray], fallback: np.ndarray):
        self.item_ids = item_ids
        self.rows = rows
        self.fallback = fallback
        self.seen: list[tuple[int, ...]] = []

    def user_scores(self, history: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        self.seen.append(tuple(history.tolist()))
        return self.rows.get(tuple(history.tolist()), self.fallback)

    def item_scores(self, item: int) -> np.ndarray:
        return self.fallback

    def save(self, directory: Path) -> None:
        raise NotImplementedError


def table_model_for(split: Split, seed: int = 3) -> TableModel:
    rng = np.random.default_rng(seed)
    n_items = split.train.n_items
    rows = {tuple(h.tolist()): rng.random(n_items).astype(np.float32) for h in split.histories}
    return TableModel(split.train.item_ids, rows, np.zeros(n_items, np.float32))


def reference_top_k(scores: np.ndarray, exclude: np.ndarray, k: int) -> np.ndarray:
    """Full sort, the slow obvious way."""
    allowed = [i for i in np.argsort(-scores, kind="stable") if i not in set(exclude.tolist())]
    return np.array(allowed[:k])


@pytest.mark.parametrize("exclude_history", [True, False])
def test_evaluate_equals_ranking_metrics_of_a_full_sort(exclude_history: bool) -> None:
    snapshot = synthetic_snapshot(n_users=300)
    split = split_users(snapshot, test_fraction=0.2)
    model = table_model_for(split)
    expected_lists = [
        reference_top_k(model.rows[tuple(h.tolist())], h if exclude_history else np.empty(0), 25)
        for h in split.histories
    ]
    expected = ranking_metrics(expected_lists, split.relevant, catalog_size=snapshot.n_items)
    metrics = evaluate(model, split, exclude_history=exclude_history, batch=16)
    assert tuple(metrics) == METRIC_NAMES
    assert all(type(v) is float for v in metrics.values())
    assert metrics == pytest.approx(expected)
    assert model.seen == [tuple(h.tolist()) for h in split.histories]


def test_evaluate_does_not_depend_on_batch_size() -> None:
    split = split_users(synthetic_snapshot(n_users=250), test_fraction=0.3)
    model = table_model_for(split)
    assert evaluate(model, split, batch=1) == evaluate(model, split, batch=1000)


def test_excluding_history_never_recommends_seen_items() -> None:
    # The model loves exactly what the user already saw; with exclusion those can't appear.
    split = split_users(synthetic_snapshot(n_users=300), test_fraction=0.2)
    n_items = split.train.n_items
    rows = {}
    for h, r in zip(split.histories, split.relevant, strict=True):
        scores = np.zeros(n_items, np.float32)
        scores[h] = 2.0
        scores[r] = 1.0
        rows[tuple(h.tolist())] = scores
    model = TableModel(split.train.item_ids, rows, np.zeros(n_items, np.float32))
    with_exclusion = evaluate(model, split, exclude_history=True)
    # Every relevant item not in the history is ranked right after the (excluded) history items.
    fresh = [np.setdiff1d(r, h) for h, r in zip(split.histories, split.relevant, strict=True)]
    assert with_exclusion["mean_reciprocal_rank_at_25"] == pytest.approx(np.mean([len(f) > 0 for f in fresh]))
    assert evaluate(model, split, exclude_history=False)["mean_reciprocal_rank_at_25"] < 1.0


def test_a_model_with_the_wrong_catalog_is_rejected() -> None:
    split = split_users(synthetic_snapshot(n_users=100))
    model = TableModel(split.train.item_ids, {}, np.zeros(split.train.n_items + 1, np.float32))
    with pytest.raises(ValueError, match="test-table scored"):
        evaluate(model, split)
