"""aws-similar-items: co-occurrence for items with interactions, metadata for those without."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa

from openpersonalize.data.fields import ParsedSchema, SchemaField
from openpersonalize.data.item_features import catalogue_features
from openpersonalize.data.snapshot import Snapshot, build_snapshot
from openpersonalize.recipes.registry import get_recipe
from tests.recipes.test_contract import CLUSTER_SIZE, N_CLUSTERS, clustered_interactions

SCHEMA = ParsedSchema(
    "Items", (SchemaField("ITEM_ID", "string"), SchemaField("CLUSTER", "string", categorical=True))
)


def snapshot_with_metadata() -> Snapshot:
    """The contract's clustered users and items; the Items metadata names each item's cluster,
    and two cold items per cluster have metadata but no interactions."""
    ids = [f"i{i}" for i in range(N_CLUSTERS * CLUSTER_SIZE)]
    clusters = [f"c{i // CLUSTER_SIZE}" for i in range(N_CLUSTERS * CLUSTER_SIZE)]
    for c in range(N_CLUSTERS):
        ids += [f"cold-c{c}-{j}" for j in range(2)]
        clusters += [f"c{c}"] * 2
    items = pa.table({"ITEM_ID": ids, "CLUSTER": clusters})
    snapshot = build_snapshot(clustered_interactions(), items_table=items)
    found = catalogue_features(SCHEMA, items, list(snapshot.item_ids), 0.0, None)
    assert found is not None
    return dataclasses.replace(snapshot, item_vectors=found[1].features)


def related(snapshot: Snapshot, scores: np.ndarray, n: int = 5) -> list[str]:
    return [str(snapshot.item_ids[i]) for i in np.argsort(-scores, kind="stable")[:n]]


def cluster(item_id: str) -> str:
    return item_id.split("-")[1] if item_id.startswith("cold") else f"c{int(item_id[1:]) // CLUSTER_SIZE}"


def test_a_cold_item_is_related_to_items_of_its_metadata() -> None:
    snapshot = snapshot_with_metadata()
    model = get_recipe("aws-similar-items").fit(snapshot, {})
    for c in range(N_CLUSTERS):
        query = snapshot.item_index()[f"cold-c{c}-0"]
        top = related(snapshot, model.item_scores(query))
        assert {cluster(i) for i in top} == {f"c{c}"}, top
        assert f"cold-c{c}-0" not in top


def test_an_item_with_interactions_is_related_by_what_users_do_and_reaches_cold_items() -> None:
    snapshot = snapshot_with_metadata()
    model = get_recipe("aws-similar-items").fit(snapshot, {})
    query = snapshot.item_index()["i3"]
    scores = model.item_scores(query)
    assert {cluster(i) for i in related(snapshot, scores)} == {"c0"}
    # co-occurrence alone never reaches an item nobody used; the metadata does
    cold = snapshot.item_index()["cold-c0-0"]
    assert scores[cold] > np.median(scores)


def test_without_metadata_it_is_co_occurrence_only() -> None:
    snapshot = snapshot_with_metadata()
    plain = get_recipe("aws-similar-items").fit(dataclasses.replace(snapshot, item_vectors=None), {})
    query = snapshot.item_index()["i3"]
    assert {cluster(i) for i in related(snapshot, plain.item_scores(query))} == {"c0"}
    cold = snapshot.item_index()["cold-c0-0"]
    assert plain.item_scores(cold).argmax() != cold
