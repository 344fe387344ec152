"""The SASRec sequence model: it learns an order, the numpy forward matches torch, and the model
behaves as the Model protocol asks (empty history, new events, save/load, determinism)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from openpersonalize.data.snapshot import build_snapshot
from openpersonalize.recipes._sasrec import SasrecConfig, SasrecWeights, torch_last_states, train_sasrec
from openpersonalize.recipes.sequence import SequenceModel, fit_sequence, last_states

N_ITEMS = 40
SMALL = SasrecConfig(hidden=32, layers=2, heads=2, maxlen=12, dropout=0.1, epochs=25, batch_size=32, lr=3e-3)


def cyclic_sequences(n_users: int = 300, seed: int = 0) -> list[np.ndarray]:
    """Each user walks a fixed random cycle over the items: the next item follows from the last."""
    rng = np.random.default_rng(seed)
    cycle = rng.permutation(N_ITEMS)
    position = np.argsort(cycle)
    out = []
    for _ in range(n_users):
        start, length = rng.integers(N_ITEMS), rng.integers(4, 16)
        out.append(cycle[(position[start] + np.arange(length)) % N_ITEMS])
    return out, cycle, position  # type: ignore[return-value]


@pytest.fixture(scope="module")
def trained() -> tuple[SequenceModel, np.ndarray, np.ndarray]:
    sequences, cycle, position = cyclic_sequences()
    weights = train_sasrec(sequences, N_ITEMS, SMALL, seed=7, threads=1)
    item_ids = np.array([f"i{i}" for i in range(N_ITEMS)], dtype=object)
    popularity = np.bincount(np.concatenate(sequences), minlength=N_ITEMS).astype(np.float32)
    return SequenceModel("aws-user-personalization-v2", item_ids, weights, popularity), cycle, position


def random_weights(
    n_items: int, hidden: int, layers: int, maxlen: int, heads: int, seed: int
) -> SasrecWeights:
    rng = np.random.default_rng(seed)
    shapes = {
        "item_emb": (n_items, hidden),
        "item_bias": (n_items,),
        "pos_emb": (maxlen, hidden),
        "lnf_w": (hidden,),
        "lnf_b": (hidden,),
    }
    arrays = {}
    for f in fields(SasrecWeights):
        if f.name == "heads":
            continue
        shape = shapes.get(f.name)
        if shape is None:
            shape = (layers, hidden, hidden) if f.name.startswith("w") else (layers, hidden)
        scale = 0.3 if f.name.startswith(("w", "item", "pos")) else 0.1
        offset = 1.0 if f.name.endswith("_w") and f.name.startswith("ln") else 0.0
        arrays[f.name] = (offset + scale * rng.standard_normal(shape)).astype(np.float32)
    return SasrecWeights.from_arrays(heads, arrays)


def test_it_learns_the_next_item(trained: tuple[SequenceModel, np.ndarray, np.ndarray]) -> None:
    model, cycle, position = trained
    sequences, _, _ = cyclic_sequences(100, seed=1)  # unseen users, same cycle
    scores = model.user_scores_batch(sequences)
    truth = np.array([cycle[(position[s[-1]] + 1) % N_ITEMS] for s in sequences])
    top3 = np.argsort(-scores, axis=1)[:, :3]
    assert (top3 == truth[:, None]).any(axis=1).mean() >= 0.9


def test_numpy_forward_matches_torch() -> None:
    weights = random_weights(n_items=50, hidden=16, layers=2, maxlen=10, heads=2, seed=3)
    rng = np.random.default_rng(4)
    histories = [rng.integers(0, 50, size=n) for n in (1, 3, 10, 25, 7)]  # 25 > maxlen: the latest 10
    expected = torch_last_states(weights, histories)
    np.testing.assert_allclose(last_states(weights, histories), expected, atol=1e-4, rtol=1e-4)
    for history, row in zip(histories, expected, strict=True):  # one at a time: no padding at all
        np.testing.assert_allclose(last_states(weights, [history])[0], row, atol=1e-4, rtol=1e-4)


def test_batch_equals_single(trained: tuple[SequenceModel, np.ndarray, np.ndarray]) -> None:
    model, _, _ = trained
    histories = [np.array([1, 2, 3]), np.array([], dtype=np.int64), np.arange(30) % N_ITEMS]
    batch = model.user_scores_batch(histories)
    for history, row in zip(histories, batch, strict=True):
        np.testing.assert_allclose(model.user_scores(history), row, atol=1e-5)


def test_save_load_round_trip(trained: tuple[SequenceModel, np.ndarray, np.ndarray], tmp_path: Path) -> None:
    model, _, _ = trained
    model.save(tmp_path / "m")
    loaded = SequenceModel.load(tmp_path / "m")
    assert loaded.recipe == model.recipe and list(loaded.item_ids) == list(model.item_ids)
    for history in (np.array([3, 9, 4]), np.array([], dtype=np.int64)):
        np.testing.assert_array_equal(loaded.user_scores(history), model.user_scores(history))
    np.testing.assert_array_equal(loaded.item_scores(5), model.item_scores(5))


def test_deterministic_under_a_seed() -> None:
    sequences, _, _ = cyclic_sequences(60)
    config = SasrecConfig(hidden=16, layers=1, heads=1, maxlen=8, dropout=0.2, epochs=2, batch_size=16)
    a = train_sasrec(sequences, N_ITEMS, config, seed=11, threads=1)
    b = train_sasrec(sequences, N_ITEMS, config, seed=11, threads=1)
    c = train_sasrec(sequences, N_ITEMS, config, seed=12, threads=1)
    for name, array in a.arrays().items():
        np.testing.assert_array_equal(array, b.arrays()[name])
    assert not np.array_equal(a.item_emb, c.item_emb)


def test_empty_history_gives_popularity(trained: tuple[SequenceModel, np.ndarray, np.ndarray]) -> None:
    model, _, _ = trained
    for history in (np.array([], dtype=np.int64), np.array([-1, N_ITEMS + 5])):  # nothing known
        scores = model.user_scores(history)
        assert scores.dtype == np.float32 and scores.shape == (N_ITEMS,)
        assert np.argmax(scores) == np.argmax(model.popularity)


def test_a_new_event_changes_the_answer(trained: tuple[SequenceModel, np.ndarray, np.ndarray]) -> None:
    model, cycle, position = trained
    history = cycle[:5]
    before = model.user_scores(history)
    after = model.user_scores(np.append(history, cycle[20]))
    assert np.argmax(before) == cycle[5]
    assert np.argmax(after) == cycle[21]


def test_item_scores_rank_the_item_itself_last(trained: tuple[SequenceModel, np.ndarray, np.ndarray]) -> None:
    model, cycle, _ = trained
    scores = model.item_scores(int(cycle[3]))
    assert np.argmin(scores) == cycle[3]
    assert np.argmax(scores) == cycle[4]


def test_fit_sequence_from_a_snapshot() -> None:
    sequences, cycle, _ = cyclic_sequences(600, seed=5)
    users = np.concatenate([[f"u{u}"] * len(s) for u, s in enumerate(sequences)])
    items = np.concatenate(sequences)
    steps = np.concatenate([np.arange(len(s)) for s in sequences])  # time = step: users interleave
    table = pa.table(
        {
            "USER_ID": pa.array(users.tolist()),
            "ITEM_ID": pa.array([f"i{i}" for i in items]),
            "TIMESTAMP": pa.array((1_600_000_000 + steps).tolist(), pa.int64()),
        }
    )
    snapshot = build_snapshot(table)
    seen: list[float] = []
    model = fit_sequence(snapshot, SMALL, seed=1, progress=seen.append, threads=1)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    index = snapshot.item_index()
    history = np.array([index[f"i{i}"] for i in cycle[:4]])
    assert model.item_ids[np.argmax(model.user_scores(history))] == f"i{cycle[4]}"


def test_serving_does_not_load_torch(
    trained: tuple[SequenceModel, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    trained[0].save(tmp_path / "m")
    code = (
        "import sys, numpy as np\n"
        "from openpersonalize.recipes.sequence import SequenceModel\n"
        f"m = SequenceModel.load(__import__('pathlib').Path({str(tmp_path / 'm')!r}))\n"
        "m.user_scores(np.array([1, 2]))\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2] / "src")
