"""The HPO search itself: it follows the objective, stays in range and is reproducible."""

from __future__ import annotations

from openpersonalize.recipes.catalog import BY_NAME
from openpersonalize.training import hpo

UP = BY_NAME["aws-user-personalization"]
RANGES = {
    "algorithmHyperParameterRanges": {
        "continuousHyperParameterRanges": [{"name": "ease_l2", "minValue": 1.0, "maxValue": 10000.0}]
    },
    "hpoResourceConfig": {"maxNumberOfTrainingJobs": "25"},
}


def peaked(params):
    """An objective at its best for ease_l2 = 400 (log scale)."""
    import math

    return {hpo.DEFAULT_OBJECTIVE: 1.0 / (1.0 + abs(math.log(float(params["ease_l2"]) / 400.0)))}


def test_search_finds_the_peak_and_keeps_every_trial_in_range():
    plan = hpo.plan(UP, RANGES)
    assert plan is not None and plan.dimensions[0].log  # ease_l2 is searched on a log scale
    seen = []
    best, trials = hpo.search(UP, plan, {}, peaked, on_trial=lambda t, total: seen.append((len(t), total)))
    assert len(trials) == 25 and seen[-1] == (25, 25)
    assert all(1.0 <= float(t["params"]["ease_l2"]) <= 10000.0 for t in trials)
    assert 200 <= float(best["ease_l2"]) <= 800
    assert max(t["objective"] for t in trials) == peaked(best)[hpo.DEFAULT_OBJECTIVE]


def test_search_is_reproducible_under_a_seed():
    plan = hpo.plan(UP, RANGES)
    assert plan is not None
    first = hpo.search(UP, plan, {}, peaked, seed=5)
    second = hpo.search(UP, plan, {}, peaked, seed=5)
    assert first == (
        second[0],
        [{**t, "seconds": s["seconds"]} for t, s in zip(second[1], first[1], strict=True)],
    )


def test_without_ranges_every_tunable_hyperparameter_is_searched():
    plan = hpo.plan(UP, {})
    assert plan is not None
    names = {d.name for d in plan.dimensions}
    assert {"hidden_dimension", "bptt", "recency_mask", "ease_l2"} <= names
    assert "min_user_history_length_percentile" not in names  # not tunable
    assert plan.trials == hpo.DEFAULT_TRIALS


def test_nothing_to_tune():
    popularity = BY_NAME["aws-popularity-count"]
    assert hpo.plan(popularity, {}, required=False) is None
