"""The recipes this service trains: the catalogue's implementing classes, imported on first use."""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

from openpersonalize.recipes._io import read_manifest
from openpersonalize.recipes.base import Model, Recipe
from openpersonalize.recipes.catalog import BY_NAME, RECIPES
from openpersonalize.recipes.spec import RECIPE_ARN

RECIPE_ARN_PREFIX = RECIPE_ARN.format("")
# Names of the catalogue entries that have an implementation of their own.
TRAINABLE = tuple(r.name for r in RECIPES if r.implementation)


def get_recipe(name: str) -> Recipe:
    """The recipe by name (``aws-sims``) or ARN (``arn:aws:personalize:::recipe/aws-sims``)."""
    key = name.removeprefix(RECIPE_ARN_PREFIX)
    info = BY_NAME.get(key)
    if info is None or info.implementation is None:
        raise KeyError(f"no recipe named {name!r} trains here; known: {', '.join(sorted(TRAINABLE))}")
    return _instance(key)


@cache
def _instance(name: str) -> Recipe:
    info = BY_NAME[name]
    assert info.implementation is not None
    module, _, attribute = info.implementation.partition(":")
    cls = getattr(importlib.import_module(module), attribute)
    recipe: Recipe = cls(info)
    return recipe


def load_model(directory: Path) -> Model:
    """A saved model, by the recipe named in its manifest.json."""
    return get_recipe(read_manifest(directory)["recipe"]).load(directory)
