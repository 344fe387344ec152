"""Sparse scoring (big catalogues) gives the same top items and scores as scoring every item."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from openpersonalize.recipes._item_item import ItemItemModel
from openpersonalize.serving.scoring import Background, softmax_at, top_k


def _model(n_items: int, seed: int) -> ItemItemModel:
    rng = np.random.default_rng(seed)
    weights = sp.random(n_items, n_items, density=0.02, random_state=seed, format="csr", dtype=np.float32)
    popularity = rng.integers(1, 500, n_items).astype(np.float32)
    ids = np.array([f"i{i}" for i in range(n_items)], dtype=object)
    return ItemItemModel(
        "aws-user-personalization", ids, weights, popularity, history_window=100, half_life=5
    )


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), history_size=st.integers(1, 30), k=st.integers(1, 60))
def test_sparse_ranking_matches_dense(seed, history_size, k):
    model = _model(400, seed)
    rng = np.random.default_rng(seed + 1)
    history = rng.integers(0, 400, history_size)
    dense = model.user_scores(history)
    expected = top_k(dense, k)
    reached, reached_scores = model.sparse_user_scores(history)
    items, scores, total = Background.of(model.background_scores()).rank(reached, reached_scores, k)
    np.testing.assert_allclose(scores, dense[expected], rtol=1e-5, atol=1e-9)
    # Same scores; ties may order differently, so compare the score multiset and the items' scores.
    np.testing.assert_allclose(dense[items], scores, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(
        Background.probabilities(scores, total), softmax_at(dense, expected), rtol=1e-4
    )


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    history_size=st.integers(0, 30),
    k=st.integers(1, 60),
    share=st.sampled_from([0.0, 0.005, 0.01, 0.2, 1.0]),
    scale=st.sampled_from([1.0, 1_000.0]),  # popularity counts as scores must not overflow exp
)
def test_masked_ranking_matches_masked_dense(seed, history_size, k, share, scale):
    """A filter applied on the background (reached or not, big or tiny share left) gives the
    dense answer: the k best allowed items, scored by a softmax over the whole catalogue."""
    model = _model(3_000, seed)
    rng = np.random.default_rng(seed + 2)
    allowed = rng.random(3_000) < share
    history = rng.integers(0, 3_000, history_size)
    reached = model.sparse_user_scores(history) if history_size else None
    if reached is None:  # no history: every item's score is the background
        dense = model.background_scores() * scale
        found = Background.of(dense).rank(np.empty(0, np.int64), np.empty(0, np.float32), k, allowed)
    else:
        dense = model.user_scores(history)
        found = Background.of(model.background_scores()).rank(*reached, k, allowed)
    items, scores, total = found
    expected = top_k(np.where(allowed, dense, -np.inf), k)
    assert len(items) == len(expected) == min(k, int(allowed.sum()))
    assert allowed[items].all()
    np.testing.assert_allclose(scores, dense[expected], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(
        Background.probabilities(scores, total), softmax_at(dense, expected), rtol=1e-4
    )


def test_empty_history_and_dense_models_use_the_dense_path():
    assert _model(50, 1).sparse_user_scores(np.empty(0, np.int64)) is None
    model = _model(50, 1)
    dense = ItemItemModel(
        model.recipe,
        model.item_ids,
        model.weights.toarray(),
        model.popularity,
        history_window=10,
        half_life=0,
    )
    assert dense.sparse_user_scores(np.array([1, 2])) is None


def test_top_k_skips_nan_and_minus_infinity():
    scores = np.array([0.5, np.nan, -np.inf, 0.9, 0.1], dtype=np.float32)
    assert top_k(scores, 10).tolist() == [3, 0, 4]
    assert abs(sum(softmax_at(scores, top_k(scores, 10))) - 1.0) < 1e-6


def test_model_cache_keeps_within_its_memory_budget(tmp_path):
    import pyarrow as pa

    from openpersonalize.data.histories import Histories
    from openpersonalize.data.snapshot import build_snapshot
    from openpersonalize.recipes.registry import get_recipe
    from openpersonalize.serving.models import ModelCache
    from openpersonalize.settings import Settings
    from openpersonalize.store.objects.factory import open_object_store

    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "USER_ID": [f"u{u}" for u in rng.integers(0, 50, 2000)],
            "ITEM_ID": [f"i{i}" for i in rng.integers(0, 300, 2000)],
            "EVENT_TYPE": ["click"] * 2000,
            "TIMESTAMP": np.arange(2000, dtype=np.int64),
        }
    )
    snapshot = build_snapshot(table)
    objects = open_object_store((tmp_path / "objects").as_uri(), Settings(data_dir=tmp_path))
    for name in ("a", "b", "c"):
        directory = tmp_path / f"model-{name}"
        directory.mkdir()
        get_recipe("aws-user-personalization").fit(snapshot, {}).save(directory)
        Histories.from_snapshot(snapshot).save(directory)
        for path in directory.iterdir():
            objects.put_file(f"models/{name}/{path.name}", path)
    one = ModelCache(objects, tmp_path / "cache").get("a", "models/a/", 0.0).size_bytes
    assert one > 300 * 300 * 4  # the dense EASE matrix is in there
    cache = ModelCache(objects, tmp_path / "cache2", budget_bytes=int(one * 2.5))
    for name in ("a", "b", "c"):
        cache.get(name, f"models/{name}/", 0.0)
    assert list(cache._loaded) == ["b", "c"]
    tiny = ModelCache(objects, tmp_path / "cache3", budget_bytes=1)
    tiny.get("a", "models/a/", 0.0)
    assert list(tiny._loaded) == ["a"]  # the newest always stays
