"""Cold items: metadata vectors, neighbours among trained items, exploration bookkeeping."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from openpersonalize.data.fields import ParsedSchema, SchemaField
from openpersonalize.data.item_features import ItemFeaturizer, catalogue_features
from openpersonalize.serving.cold_items import ColdItems

SCHEMA = ParsedSchema(
    "Items",
    (
        SchemaField("ITEM_ID", "string"),
        SchemaField("GENRE", "string", categorical=True),
        SchemaField("PRICE", "float"),
        SchemaField("CREATION_TIMESTAMP", "long"),
    ),
)
TABLE = pa.table(
    {
        "ITEM_ID": ["a1", "a2", "b1", "b2", "a-cold", "b-cold"],
        "GENRE": ["action|war", "action", "romance", "romance|drama", "action", "romance"],
        "PRICE": [10.0, 12.0, 30.0, 28.0, 11.0, None],
        "CREATION_TIMESTAMP": [0, 0, 0, 0, 1000, 10],
    }
)


def test_featurizer_reads_categorical_and_numeric_columns() -> None:
    featurizer = ItemFeaturizer.fit(SCHEMA, TABLE)
    assert featurizer is not None
    assert featurizer.categorical == ("GENRE",) and set(featurizer.numeric) == {"PRICE"}
    rows = TABLE.to_pylist()
    vectors = featurizer.transform(rows, None)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    similarity = vectors @ vectors.T
    assert similarity[4, 0] > similarity[4, 2] and similarity[5, 3] > similarity[5, 0]
    assert not featurizer.transform([None], None).any()  # no row: a zero vector


def test_no_usable_columns_gives_no_featurizer() -> None:
    schema = ParsedSchema("Items", (SchemaField("ITEM_ID", "string"), SchemaField("NOTE", "string")))
    assert ItemFeaturizer.fit(schema, pa.table({"ITEM_ID": ["x"], "NOTE": ["free text"]})) is None


def cold_items() -> ColdItems:
    found = catalogue_features(SCHEMA, TABLE, ["a1", "a2", "b1", "b2", "a-cold", "b-cold"], 5000.0, None)
    assert found is not None
    featurizer, catalogue = found
    trained = np.array([True, True, True, True, False, False])
    cold = ColdItems(featurizer, catalogue.features, trained, None, catalogue.latest_interaction)
    known = np.flatnonzero(np.isfinite(catalogue.created))
    cold.set_created(dict(zip(known.tolist(), catalogue.created[known].tolist(), strict=True)))
    return cold


def test_a_cold_item_scores_like_the_trained_items_its_metadata_is_closest_to() -> None:
    cold = cold_items()
    likes_action = np.array([5.0, 4.0, 0.0, 0.0, 0.0, 0.0], np.float32)
    scores = cold.extend(likes_action)
    assert scores[4] > scores[5]  # the action item, for an action fan
    likes_romance = np.array([0.0, 0.0, 5.0, 4.0, 0.0, 0.0], np.float32)
    scores = cold.extend(likes_romance)
    assert scores[5] > scores[4]


def test_new_items_join_after_the_vocabulary() -> None:
    cold = cold_items()
    rows = {"c-new": {"ITEM_ID": "c-new", "GENRE": "romance", "PRICE": 29.0}}
    known = {i: n for n, i in enumerate(["a1", "a2", "b1", "b2", "a-cold", "b-cold"])}
    new = cold.sync(1, lambda: ["a1", "c-new"], rows.get, known)
    assert new == ["c-new"] and cold.n_items == 7
    assert cold.sync(1, lambda: ["a1", "c-new"], rows.get, known) == []  # same generation: nothing new
    scores = cold.extend(np.array([0.0, 0.0, 5.0, 4.0, 0.0, 0.0], np.float32))
    assert len(scores) == 7 and scores[6] > scores[4]


def test_age_cut_off_and_fading_chances() -> None:
    cold = cold_items()
    day = 86_400.0
    # a-cold was created at 1000, b-cold at 10: a day after 1000 only a-cold is that young.
    assert set(cold.explorable(1000 + day, 1.0).tolist()) == {4}
    assert set(cold.explorable(10 + 0.5 * day, 1.0).tolist()) == {4, 5}
    first = cold.chances(np.array([4]), {})[0]
    cold.record_shown([4] * 100)
    assert cold.chances(np.array([4]), {})[0] < first / 2
    assert cold.chances(np.array([5]), {5: 20})[0] < first / 2  # interactions fade it too
