"""The recipes this service trains, keyed by recipe name (the last part of the recipe ARN)."""

from __future__ import annotations

from pathlib import Path

from openpersonalize.recipes._io import read_manifest
from openpersonalize.recipes.base import Model, Recipe
from openpersonalize.recipes.popularity import PopularityCountRecipe
from openpersonalize.recipes.sims import SimsRecipe
from openpersonalize.recipes.user_personalization import (
    PERSONALIZED_RANKING,
    USER_PERSONALIZATION,
    UserPersonalizationRecipe,
)

RECIPE_ARN_PREFIX = "arn:aws:personalize:::recipe/"

RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        UserPersonalizationRecipe(USER_PERSONALIZATION),
        UserPersonalizationRecipe(PERSONALIZED_RANKING),
        SimsRecipe(),
        PopularityCountRecipe(),
    )
}


def get_recipe(name: str) -> Recipe:
    """The recipe by name (``aws-sims``) or ARN (``arn:aws:personalize:::recipe/aws-sims``)."""
    key = name.removeprefix(RECIPE_ARN_PREFIX)
    try:
        return RECIPES[key]
    except KeyError:
        raise KeyError(f"no recipe named {name!r}; known: {', '.join(sorted(RECIPES))}") from None


def load_model(directory: Path) -> Model:
    """A saved model, by the recipe named in its manifest.json."""
    return get_recipe(read_manifest(directory)["recipe"]).load(directory)
