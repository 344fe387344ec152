"""aws-trending-now: rising items first, not merely popular ones; live events move the list."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from openpersonalize.data.snapshot import build_snapshot
from openpersonalize.errors import InvalidInput
from openpersonalize.recipes.registry import get_recipe, load_model
from openpersonalize.recipes.trending import TrendingModel

HOUR = 3600
END = 1_700_000_000


def events(spec: dict[str, list[int]]) -> pa.Table:
    """item -> event times (seconds before END); each event by its own user."""
    users, items, times = [], [], []
    for item, ages in spec.items():
        for n, age in enumerate(ages):
            users.append(f"{item}-u{n}")
            items.append(item)
            times.append(END - age)
    return pa.table({"USER_ID": users, "ITEM_ID": items, "TIMESTAMP": pa.array(times, pa.int64())})


DATA = {
    # popular and steady: 10 events in each of the last intervals -> growth 0
    "steady": [m * 360 for m in range(40)],
    # small but rising: 6 in the latest hour, 1 in the hour before
    "riser": [60, 120, 180, 240, 300, 360, HOUR + 60],
    # falling: 8 the hour before, 1 now
    "faller": [30] + [HOUR + 60 * m for m in range(1, 9)],
    "old": [100 * HOUR + m for m in range(30)],  # popular long ago only
}


def names(model: TrendingModel, scores: np.ndarray) -> list[str]:
    return [str(model.item_ids[i]) for i in np.argsort(-scores, kind="stable")]


def fit(params: dict[str, str] | None = None) -> TrendingModel:
    model = get_recipe("aws-trending-now").fit(
        build_snapshot(events(DATA)), params or {"trend_discovery_frequency": "1 hour"}
    )
    assert isinstance(model, TrendingModel)
    return model


def test_rising_items_beat_steady_popular_ones() -> None:
    model = fit()
    order = names(model, model.user_scores(np.empty(0, np.int32)))
    assert order[0] == "riser"
    assert order.index("steady") < order.index("faller")  # growth 0 beats a fall


def test_live_events_after_training_move_the_list() -> None:
    model = fit()
    faller = list(model.item_ids).index("faller")
    # 20 new events of "faller" half an hour after the training data ends.
    items = np.full(20, faller, np.int32)
    times = np.full(20, END + 1800, np.int64)
    assert names(model, model.trend_scores(items, times))[0] == "faller"


def test_nothing_recent_falls_back_to_popular_items() -> None:
    model = get_recipe("aws-trending-now").fit(
        build_snapshot(
            events(
                {"old": [100 * HOUR + m for m in range(30)], "older": [200 * HOUR, 200 * HOUR + 1], "now": []}
            )
        ),
        {"trend_discovery_frequency": "30 minutes"},
    )
    scores = model.user_scores(np.empty(0, np.int32))
    assert names(model, scores)[0] == "old"


def test_the_interval_is_honoured() -> None:
    # Over a day, "steady" grew most in absolute terms against the day before (nothing then).
    daily = fit({"trend_discovery_frequency": "1 day"})
    assert names(daily, daily.user_scores(np.empty(0, np.int32)))[0] == "steady"


def test_save_load_round_trip(tmp_path: Path) -> None:
    model = fit()
    model.save(tmp_path)
    loaded = load_model(tmp_path)
    np.testing.assert_array_equal(
        loaded.user_scores(np.empty(0, np.int32)), model.user_scores(np.empty(0, np.int32))
    )


def test_unknown_frequency_is_refused_naming_it() -> None:
    with pytest.raises(InvalidInput, match="trend_discovery_frequency must be one of 30 minutes"):
        fit({"trend_discovery_frequency": "5 hours"})
