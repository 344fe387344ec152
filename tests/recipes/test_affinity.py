"""aws-item-affinity: the users most likely to interact with an item, and its offline metrics."""

from __future__ import annotations

import numpy as np

from openpersonalize.evaluation.segments import evaluate_segments, split_interactions
from openpersonalize.recipes.affinity import ItemAffinityModel
from openpersonalize.recipes.registry import get_recipe, load_model
from tests.recipes.test_contract import N_CLUSTERS, N_USERS, snapshot  # noqa: F401 (fixture)


def test_the_items_cluster_comes_first_and_its_past_users_are_left_out(snapshot, tmp_path) -> None:  # noqa: F811
    model = get_recipe("aws-item-affinity").fit(snapshot, {})
    assert isinstance(model, ItemAffinityModel)
    item = snapshot.item_index()["i5"]  # cluster 0: users u0, u3, u6, ...
    scores = model.users_for(np.array([item]))
    assert scores.shape == (N_USERS,)
    users = snapshot.user_ids
    interacted = set(snapshot.users[snapshot.items == item].tolist())
    ranked = [u for u in np.argsort(-scores).tolist() if np.isfinite(scores[u]) and u not in interacted][:10]
    assert sum(int(str(users[u])[1:]) % N_CLUSTERS == 0 for u in ranked) >= 8
    assert all(scores[u] == -np.inf for u in interacted)  # they are customers, not prospects
    model.save(tmp_path)
    np.testing.assert_array_equal(load_model(tmp_path).users_for(np.array([item])), scores)  # type: ignore[attr-defined]


def test_segment_metrics_beat_a_random_segment(snapshot) -> None:  # noqa: F811
    split = split_interactions(snapshot, seed=1)
    model = get_recipe("aws-item-affinity").fit(split.train, {})
    metrics = evaluate_segments(model, split)
    assert set(metrics) == {"hit_at_1_percent", "recall_at_1_percent"}

    class Random:
        def users_for(self, items: np.ndarray) -> np.ndarray:
            return np.random.default_rng(int(items[0])).random(snapshot.n_users).astype(np.float32)

    random = evaluate_segments(Random(), split)
    assert metrics["recall_at_1_percent"] > random["recall_at_1_percent"]
