"""The typed recipe spec: hyperparameters declared once, read the same way everywhere."""

from __future__ import annotations

import pytest

from openpersonalize.errors import InvalidInput
from openpersonalize.recipes.catalog import BY_NAME, RECIPES, hyperparameters_of, read_hyperparameters
from openpersonalize.recipes.registry import TRAINABLE, get_recipe
from openpersonalize.recipes.spec import ALGORITHM, FEATURIZATION, HyperParameter


def test_values_are_typed_and_defaulted() -> None:
    values = read_hyperparameters(BY_NAME["aws-user-personalization"], {"recency_mask": "FALSE", "bptt": "8"})
    assert values["recency_mask"] is False
    assert values["bptt"] == 8 and isinstance(values["bptt"], int)
    assert values["hidden_dimension"] == 149
    assert values["ease_l2"] == pytest.approx(300.0)
    assert values["max_user_history_length_percentile"] == pytest.approx(0.99)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"bptt": "33"}, "algorithmHyperParameters.bptt must be between 2 and 32; got 33"),
        ({"bptt": "2.5"}, "algorithmHyperParameters.bptt must be an integer"),
        ({"ease_l2": "nan"}, "ease_l2 must be at least"),
        ({"ease_l2": "-1"}, "ease_l2 must be at least"),
        ({"recency_mask": "yes"}, "recency_mask must be one of true, false"),
        ({"min_user_history_length_percentile": "2"}, "featureTransformationParameters.min_user"),
        (
            {"min_user_history_length_percentile": "0.5", "max_user_history_length_percentile": "0.4"},
            "must not be greater than max_user_history_length_percentile",
        ),
    ],
)
def test_bad_values_name_the_field_and_the_rule(params: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace(".", r"\.")):
        read_hyperparameters(BY_NAME["aws-user-personalization"], params)


def test_a_legacy_recipe_reads_its_own_defaults_over_its_trainers() -> None:
    hrnn = hyperparameters_of(BY_NAME["aws-hrnn"])
    assert hrnn["hidden_dimension"].default == "43"
    assert "ease_l2" in hrnn  # the trainer's own hyperparameters are honoured too


def test_every_trainable_recipe_resolves_to_an_implementation_named_like_it() -> None:
    for name in TRAINABLE:
        assert get_recipe(name).name == name
    for recipe in RECIPES:
        if recipe.trainer:
            assert BY_NAME[recipe.trainer].implementation, recipe.name


def test_every_declared_hyperparameter_has_a_readable_default_and_an_hpo_range_when_tunable() -> None:
    for recipe in RECIPES:
        for h in recipe.hyperparameters:
            assert h.section in (ALGORITHM, FEATURIZATION)
            h.read(None)
            if h.tunable and h.kind in ("integer", "continuous"):
                low, high = h.search_range
                assert low < high and h.within(low) and h.within(high), (recipe.name, h.name)


def test_boolean_is_shown_as_a_true_false_choice() -> None:
    h = HyperParameter("flag", "true", kind="boolean")
    assert h.choices == ("true", "false") and h.read("False") is False
