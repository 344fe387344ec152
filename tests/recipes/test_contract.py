"""The contract every registered recipe keeps, plus each recipe's own promises."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp

from openpersonalize.data.fields import ParsedSchema, SchemaField
from openpersonalize.data.item_features import catalogue_features
from openpersonalize.data.snapshot import Snapshot, build_snapshot
from openpersonalize.errors import InvalidInput
from openpersonalize.recipes import user_personalization
from openpersonalize.recipes.next_best_action import action_key, combine
from openpersonalize.recipes.registry import TRAINABLE, get_recipe, load_model
from openpersonalize.serving.cold_items import NEIGHBOURS, ColdItems

N_CLUSTERS, CLUSTER_SIZE, N_USERS, COLD_ITEMS = 3, 12, 90, 2
HISTORY_RECIPES = [
    "aws-user-personalization",
    "aws-personalized-ranking",
    "aws-sims",
    "aws-user-personalization-v2",
]


def clustered_interactions(seed: int = 7) -> pa.Table:
    """Users each like one cluster of items (mostly), so co-occurrence carries signal."""
    rng = np.random.default_rng(seed)
    users, items, timestamps = [], [], []
    clock = 1_700_000_000
    for user in range(N_USERS):
        cluster = user % N_CLUSTERS
        for _ in range(rng.integers(6, 15)):
            in_cluster = rng.random() < 0.85
            group = cluster if in_cluster else rng.integers(N_CLUSTERS)
            item = group * CLUSTER_SIZE + rng.integers(CLUSTER_SIZE)
            users.append(f"u{user}")
            items.append(f"i{item}")
            clock += int(rng.integers(1, 100))
            timestamps.append(clock)
    order = rng.permutation(len(users))  # build_snapshot must sort by time itself
    return pa.table(
        {
            "USER_ID": pa.array(users).take(order),
            "ITEM_ID": pa.array(items).take(order),
            "EVENT_TYPE": pa.array(["click"] * len(users)).take(order),
            "TIMESTAMP": pa.array(timestamps, pa.int64()).take(order),
        }
    )


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    known_and_cold = [f"i{i}" for i in range(N_CLUSTERS * CLUSTER_SIZE)] + [
        f"cold{i}" for i in range(COLD_ITEMS)
    ]
    items = pa.table(
        {"ITEM_ID": known_and_cold, "CLUSTER": [f"c{n % N_CLUSTERS}" for n in range(len(known_and_cold))]}
    )
    return build_snapshot(clustered_interactions(), items_table=items)


def item(snapshot: Snapshot, item_id: str) -> int:
    return snapshot.item_index()[item_id]


def assert_valid_scores(scores: np.ndarray, snapshot: Snapshot) -> None:
    assert scores.dtype == np.float32
    assert scores.shape == (snapshot.n_items,)
    assert np.isfinite(scores).all()


# --- the shared contract ---------------------------------------------------------------------


def with_actions(snapshot: Snapshot) -> Snapshot:
    """The clustered data plus one action per cluster, taken twice by that cluster's users and
    turned down once by the others (enough events for a propensity), for Next-Best-Action."""
    users, actions, times, kinds = [], [], [], []
    for n in range(N_USERS):
        for c in range(N_CLUSTERS):
            for _ in range(2 if c == n % N_CLUSTERS else 1):
                users.append(f"u{n}")
                actions.append(f"act{c}")
                times.append(1_700_000_000 + len(times))
                kinds.append("TAKEN" if c == n % N_CLUSTERS else "NOT_TAKEN")
    events = pa.table(
        {
            "USER_ID": users,
            "ACTION_ID": actions,
            "TIMESTAMP": pa.array(times, pa.int64()),
            "EVENT_TYPE": kinds,
        }
    )
    action_rows = pa.table({"ACTION_ID": [f"act{c}" for c in range(N_CLUSTERS)] + ["act-new"]})
    keys = [action_key(str(a)) for a in action_rows.column("ACTION_ID").to_pylist()]
    items = pa.table({"ITEM_ID": [*snapshot.item_ids.tolist(), *keys]})
    combined = build_snapshot(combine(clustered_interactions(), events), items_table=items)
    combined.actions_table, combined.action_interactions = action_rows, events
    return combined


def with_text(snapshot: Snapshot) -> Snapshot:
    """Text vectors that tell the clusters apart (as embeddings of their descriptions would)."""
    vectors = np.zeros((snapshot.n_items, 8), np.float32)
    for position, item_id in enumerate(snapshot.item_ids.tolist()):
        n = int(item_id[1:]) if item_id.startswith("i") else N_CLUSTERS + 1
        vectors[position, (n // CLUSTER_SIZE) % 8] = 1.0
        vectors[position, 7] = 0.1 * (n % 3)
    schema = ParsedSchema(
        "Items",
        (SchemaField("ITEM_ID", "string"), SchemaField("NAME", "string", item_name=True),
         SchemaField("DESCRIPTION", "string", textual=True)),
    )  # fmt: skip
    return dataclasses.replace(snapshot, item_text_vectors=vectors, items_schema=schema)


_FITTED: dict[tuple[str, int], Any] = {}


def fitted(name: str, snapshot: Snapshot) -> Any:
    """The recipe fitted with its defaults on this snapshot, once per test session (the contract
    checks read it; the sequence model takes seconds to train)."""
    key = (name, id(snapshot))
    if key not in _FITTED:
        _FITTED[key] = (get_recipe(name).fit(snapshot, {}), snapshot)  # keeps the snapshot alive
    return _FITTED[key][0]


@pytest.mark.parametrize("name", sorted(TRAINABLE))
class TestRecipeContract:
    @pytest.fixture
    def snapshot(self, name: str, snapshot: Snapshot) -> Snapshot:
        """The data each recipe needs: Next-Best-Action needs actions as well."""
        if name == "aws-next-best-action":
            return with_actions(snapshot)
        return with_text(snapshot) if name == "aws-semantic-similarity" else snapshot

    def test_registered_under_its_name(self, name: str) -> None:
        assert get_recipe(name).name == name
        assert get_recipe(f"arn:aws:personalize:::recipe/{name}").name == name

    def test_fit_gives_a_model_over_the_snapshot_items(self, name: str, snapshot: Snapshot) -> None:
        model = fitted(name, snapshot)
        assert model.recipe == name
        assert list(model.item_ids) == list(snapshot.item_ids)

    def test_empty_history_scores_every_item(self, name: str, snapshot: Snapshot) -> None:
        scores = fitted(name, snapshot).user_scores(np.array([], dtype=np.int64))
        assert_valid_scores(scores, snapshot)
        popular = np.argsort(-scores, kind="stable")[:3]
        assert all(not str(snapshot.item_ids[i]).startswith("cold") for i in popular)

    def test_history_and_weights_give_valid_scores(self, name: str, snapshot: Snapshot) -> None:
        model = fitted(name, snapshot)
        history = np.array([item(snapshot, "i1"), item(snapshot, "i2"), item(snapshot, "i1")])
        assert_valid_scores(model.user_scores(history), snapshot)
        assert_valid_scores(model.user_scores(history, np.array([1.0, 0.5, 0.2], np.float32)), snapshot)

    def test_out_of_vocabulary_history_entries_are_skipped(self, name: str, snapshot: Snapshot) -> None:
        model = fitted(name, snapshot)
        known = np.array([item(snapshot, "i1"), item(snapshot, "i2")])
        with_unknown = np.array([item(snapshot, "i1"), -1, item(snapshot, "i2"), snapshot.n_items])
        np.testing.assert_array_equal(model.user_scores(with_unknown), model.user_scores(known))
        np.testing.assert_array_equal(model.user_scores(np.array([-1])), model.user_scores(known[:0]))

    def test_item_scores_for_every_item(self, name: str, snapshot: Snapshot) -> None:
        model = fitted(name, snapshot)
        for index in range(snapshot.n_items):
            assert_valid_scores(model.item_scores(index), snapshot)

    def test_save_load_round_trip_gives_identical_scores(
        self, name: str, snapshot: Snapshot, tmp_path: Path
    ) -> None:
        model = fitted(name, snapshot)
        model.save(tmp_path / "model")
        loaded = load_model(tmp_path / "model")
        assert loaded.recipe == name
        assert list(loaded.item_ids) == list(model.item_ids)
        history = np.array([item(snapshot, "i3"), item(snapshot, "i15"), item(snapshot, "i4")])
        for h in (np.array([], dtype=np.int64), history):
            np.testing.assert_array_equal(loaded.user_scores(h), model.user_scores(h))
        for index in range(snapshot.n_items):
            np.testing.assert_array_equal(loaded.item_scores(index), model.item_scores(index))

    def test_saved_arrays_load_without_pickle(self, name: str, snapshot: Snapshot, tmp_path: Path) -> None:
        fitted(name, snapshot).save(tmp_path)
        with np.load(tmp_path / "arrays.npz", allow_pickle=False) as arrays:
            assert all(arrays[key].dtype != object for key in arrays.files)
        assert (tmp_path / "manifest.json").is_file()

    def test_deterministic_under_a_seed(self, name: str, snapshot: Snapshot) -> None:
        first = get_recipe(name).fit(snapshot, {}, seed=3)
        second = get_recipe(name).fit(snapshot, {}, seed=3)
        history = np.array([item(snapshot, "i30"), item(snapshot, "i31")])
        np.testing.assert_array_equal(first.user_scores(history), second.user_scores(history))
        np.testing.assert_array_equal(first.item_scores(5), second.item_scores(5))

    def test_a_new_item_after_training_is_scored_from_its_metadata(
        self, name: str, snapshot: Snapshot
    ) -> None:
        """A PutItems after training, as serving takes it in (serving/cold_items.py): the new
        item scores as the mean of the trained items with the same metadata, for users and for
        related-item requests alike."""
        if name == "aws-next-best-action":
            pytest.skip("ranks actions only: a new item is history for it (see the out-of-vocabulary test)")
        model = fitted(name, snapshot)
        items = snapshot.items_table
        assert items is not None
        schema = ParsedSchema(
            "Items", (SchemaField("ITEM_ID", "string"), SchemaField("CLUSTER", "string", categorical=True))
        )
        found = catalogue_features(schema, items, list(model.item_ids), 0.0, None)
        assert found is not None
        popularity = np.bincount(snapshot.items, minlength=len(model.item_ids))
        cold = ColdItems(found[0], found[1].features, popularity > 0, None)
        rows = {str(r["ITEM_ID"]): r for r in items.to_pylist()}
        rows["new0"] = {"ITEM_ID": "new0", "CLUSTER": "c1"}
        known = {str(i): n for n, i in enumerate(model.item_ids.tolist())}
        assert cold.sync(1, lambda: list(rows), rows.get, known) == ["new0"]
        same = [
            n
            for n in range(len(model.item_ids))
            if popularity[n] and rows.get(str(model.item_ids[n]), {}).get("CLUSTER") == "c1"
        ]
        history = np.array([item(snapshot, "i1"), item(snapshot, "i4")])
        for scores in (model.user_scores(history), model.item_scores(item(snapshot, "i1"))):
            extended = cold.extend(scores)
            assert len(extended) == len(model.item_ids) + 1 and np.isfinite(extended[-1])
            # Its nearest trained items by metadata (the same CLUSTER), equally weighted.
            # NEIGHBOURS of them: between the mean of the lowest and of the highest of them.
            ordered = np.sort(scores[same])
            k = min(NEIGHBOURS, len(ordered))
            assert ordered[:k].mean() - 1e-6 <= extended[-1] <= ordered[-k:].mean() + 1e-6

    def test_unknown_hyperparameters_are_ignored(self, name: str, snapshot: Snapshot) -> None:
        model = get_recipe(name).fit(snapshot, {"no_such_hyperparameter": "banana"})
        assert_valid_scores(model.user_scores(np.array([0])), snapshot)


@pytest.mark.parametrize("name", HISTORY_RECIPES)
def test_a_new_event_changes_the_user_scores(name: str, snapshot: Snapshot) -> None:
    model = fitted(name, snapshot)
    history = np.array([item(snapshot, "i0"), item(snapshot, "i1")])
    before = model.user_scores(history)
    after = model.user_scores(np.append(history, item(snapshot, "i25")))
    assert not np.array_equal(before, after)
    # The new event pulls its own cluster (items 24..35) up.
    cluster_c = [item(snapshot, f"i{i}") for i in range(24, 36) if i != 25]
    assert np.mean(after[cluster_c] - before[cluster_c]) > 0


@pytest.mark.parametrize(
    ("name", "params", "named"),
    [
        ("aws-user-personalization", {"recency_mask": "maybe"}, "recency_mask"),
        ("aws-user-personalization", {"hidden_dimension": "8"}, "hidden_dimension"),
        ("aws-personalized-ranking", {"bptt": "x"}, "bptt"),
        (
            "aws-user-personalization",
            {"max_user_history_length_percentile": "1.5"},
            "max_user_history_length_percentile",
        ),
        ("aws-sims", {"popularity_discount_factor": "2"}, "popularity_discount_factor"),
        ("aws-sims", {"min_cointeraction_count": "3.5"}, "min_cointeraction_count"),
        (
            "aws-sims",
            {"min_item_interaction_count_percentile": "0.9", "max_item_interaction_count_percentile": "0.1"},
            "min_item_interaction_count_percentile",
        ),
    ],
)
def test_bad_hyperparameter_values_name_the_hyperparameter(
    name: str, params: dict[str, str], named: str, snapshot: Snapshot
) -> None:
    with pytest.raises(InvalidInput, match=named):
        get_recipe(name).fit(snapshot, params)


def test_unknown_recipe_name() -> None:
    with pytest.raises(KeyError, match="aws-nope"):
        get_recipe("aws-nope")


# --- aws-popularity-count ----------------------------------------------------------------------


def test_popularity_counts_unique_users_not_events() -> None:
    table = pa.table(
        {
            "USER_ID": ["a", "a", "a", "a", "b", "c"],
            "ITEM_ID": ["busy", "busy", "busy", "busy", "broad", "broad"],
            "EVENT_TYPE": ["click"] * 6,
            "TIMESTAMP": pa.array([1, 2, 3, 4, 5, 6], pa.int64()),
        }
    )
    snap = build_snapshot(table)
    model = get_recipe("aws-popularity-count").fit(snap, {})
    scores = model.user_scores(np.array([item(snap, "busy")]))
    assert scores[item(snap, "broad")] == 2 and scores[item(snap, "busy")] == 1
    np.testing.assert_array_equal(model.item_scores(0), scores)


# --- aws-user-personalization ------------------------------------------------------------------


def test_recency_mask_makes_the_latest_event_count_more(snapshot: Snapshot) -> None:
    cluster_a = [item(snapshot, f"i{i}") for i in range(2, 12)]
    cluster_b = [item(snapshot, f"i{i}") for i in range(14, 24)]
    a_then_b = np.array([item(snapshot, "i0"), item(snapshot, "i12")])
    b_then_a = a_then_b[::-1].copy()
    recency = get_recipe("aws-user-personalization").fit(snapshot, {})
    uniform = get_recipe("aws-user-personalization").fit(snapshot, {"recency_mask": "false"})
    np.testing.assert_array_equal(uniform.user_scores(a_then_b), uniform.user_scores(b_then_a))
    latest_b, latest_a = recency.user_scores(a_then_b), recency.user_scores(b_then_a)
    assert latest_b[cluster_b].mean() > latest_a[cluster_b].mean()
    assert latest_a[cluster_a].mean() > latest_b[cluster_a].mean()


def test_large_catalogs_use_sparse_item_knn(
    snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(user_personalization, "EASE_MAX_ITEMS", snapshot.n_items - 1)
    model = get_recipe("aws-user-personalization").fit(snapshot, {})
    assert model.params["algorithm"] == "item-knn"
    history = np.array([item(snapshot, "i0"), item(snapshot, "i1")])
    scores = model.user_scores(history)
    assert_valid_scores(scores, snapshot)
    top = set(np.argsort(-scores)[:5].tolist())
    assert top <= {item(snapshot, f"i{i}") for i in range(CLUSTER_SIZE)}
    model.save(tmp_path)
    np.testing.assert_array_equal(load_model(tmp_path).user_scores(history), scores)


def test_ease_recommends_from_the_users_cluster(snapshot: Snapshot) -> None:
    model = get_recipe("aws-user-personalization").fit(snapshot, {})
    assert model.params["algorithm"] == "ease"
    history = np.array([item(snapshot, f"i{i}") for i in (13, 15, 17)])
    top = np.argsort(-model.user_scores(history))[:5]
    assert {str(snapshot.item_ids[i]) for i in top} <= {f"i{i}" for i in range(12, 24)}


# --- aws-sims ----------------------------------------------------------------------------------


def test_sims_related_items_come_from_the_same_cluster(snapshot: Snapshot) -> None:
    model = get_recipe("aws-sims").fit(snapshot, {"max_item_interaction_count_percentile": "1.0"})
    query = item(snapshot, "i5")
    scores = model.item_scores(query)
    assert scores[query] == scores.min()
    top = np.argsort(-scores)[:5]
    assert {str(snapshot.item_ids[i]) for i in top} <= {f"i{i}" for i in range(12)} - {"i5"}


def test_sims_cold_item_falls_back_to_popular_items(snapshot: Snapshot) -> None:
    model = get_recipe("aws-sims").fit(snapshot, {})
    cold = item(snapshot, "cold0")
    scores = model.item_scores(cold)
    others = np.delete(np.arange(snapshot.n_items), cold)
    popularity = model.user_scores(np.array([], dtype=np.int64))
    order = np.argsort(-scores[others], kind="stable")
    assert np.all(np.diff(popularity[others][order]) <= 0)


def test_sims_min_cointeraction_count_drops_weak_pairs(snapshot: Snapshot) -> None:
    loose = get_recipe("aws-sims").fit(snapshot, {"min_cointeraction_count": "0"}).weights
    strict = get_recipe("aws-sims").fit(snapshot, {"min_cointeraction_count": "10"}).weights
    assert isinstance(loose, sp.csr_matrix) and isinstance(strict, sp.csr_matrix)
    assert 0 < strict.nnz < loose.nnz


def test_sims_popularity_discount_moves_towards_rarer_items(snapshot: Snapshot) -> None:
    popularity = (
        get_recipe("aws-popularity-count").fit(snapshot, {}).user_scores(np.array([], dtype=np.int64))
    )
    query = item(snapshot, "i0")

    def mean_popularity_of_top(discount: str) -> float:
        params = {"popularity_discount_factor": discount, "max_item_interaction_count_percentile": "1.0"}
        scores = get_recipe("aws-sims").fit(snapshot, params).item_scores(query)
        return float(popularity[np.argsort(-scores)[:5]].mean())

    assert mean_popularity_of_top("0.0") >= mean_popularity_of_top("1.0")
