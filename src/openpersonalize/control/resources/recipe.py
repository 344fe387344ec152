"""Recipes, algorithms and feature transformations: the built-in, read-only catalogue."""

from __future__ import annotations

import base64
from typing import Any

from openpersonalize.control.context import Call, Context
from openpersonalize.errors import InvalidNextToken, ResourceNotFound
from openpersonalize.recipes.catalog import (
    BY_ALGORITHM_ARN,
    BY_ARN,
    BY_TRANSFORM_ARN,
    CATALOG_TIME,
    RECIPES,
    HyperParameter,
    RecipeInfo,
)
from openpersonalize.recipes.spec import ALGORITHM, FEATURIZATION


def _summary(r: RecipeInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": r.name,
        "recipeArn": r.arn,
        "status": "ACTIVE",
        "creationDateTime": CATALOG_TIME,
        "lastUpdatedDateTime": CATALOG_TIME,
    }
    if r.domain:
        out["domain"] = r.domain
    return out


def list_recipes(ctx: Context, call: Call) -> dict[str, Any]:
    domain = call.params.get("domain")
    recipes = [r for r in RECIPES if domain is None or r.domain == domain]
    start = _decode(call.params.get("nextToken"))
    limit = int(call.params.get("maxResults") or 100)
    page = recipes[start : start + limit]
    out: dict[str, Any] = {"recipes": [_summary(r) for r in page]}
    if start + limit < len(recipes):
        out["nextToken"] = base64.urlsafe_b64encode(f"recipes:{start + limit}".encode()).decode()
    return out


def describe_recipe(ctx: Context, call: Call) -> dict[str, Any]:
    r = _find(BY_ARN, call.params["recipeArn"])
    out = {
        **_summary(r),
        "algorithmArn": r.algorithm_arn,
        "description": r.description,
        "recipeType": r.recipe_type,
    }
    if r.transformation_arn:
        out["featureTransformationArn"] = r.transformation_arn
    return {"recipe": out}


def describe_algorithm(ctx: Context, call: Call) -> dict[str, Any]:
    r = _find(BY_ALGORITHM_ARN, call.params["algorithmArn"])
    hps = r.public(ALGORITHM)
    return {
        "algorithm": {
            "name": r.algorithm,
            "algorithmArn": r.algorithm_arn,
            "algorithmImage": {"name": r.algorithm, "dockerURI": f"openpersonalize/{r.algorithm}"},
            "defaultHyperParameters": {h.name: h.default for h in hps},
            "defaultHyperParameterRanges": {
                "integerHyperParameterRanges": [_range(h, int) for h in hps if h.kind == "integer"],
                "continuousHyperParameterRanges": [_range(h, float) for h in hps if h.kind == "continuous"],
                "categoricalHyperParameterRanges": [
                    {"name": h.name, "values": list(h.choices), "isTunable": h.tunable}
                    for h in hps
                    if h.kind in ("categorical", "boolean")
                ],
            },
            "defaultResourceConfig": {"maxNumberOfTrainingJobs": "20", "maxParallelTrainingJobs": "2"},
            "trainingInputMode": "File",
            "creationDateTime": CATALOG_TIME,
            "lastUpdatedDateTime": CATALOG_TIME,
        }
    }


def describe_feature_transformation(ctx: Context, call: Call) -> dict[str, Any]:
    arn = call.params["featureTransformationArn"]
    r = _find(BY_TRANSFORM_ARN, arn)
    return {
        "featureTransformation": {
            "name": r.transformation,
            "featureTransformationArn": arn,
            "defaultParameters": {h.name: h.default for h in r.public(FEATURIZATION)},
            "creationDateTime": CATALOG_TIME,
            "lastUpdatedDateTime": CATALOG_TIME,
            "status": "ACTIVE",
        }
    }


def _range(h: HyperParameter, kind: type) -> dict[str, Any]:
    return {"name": h.name, "minValue": kind(h.low), "maxValue": kind(h.high), "isTunable": h.tunable}


def _find(index: dict[str, RecipeInfo], arn: str) -> RecipeInfo:
    found = index.get(arn)
    if found is None:
        raise ResourceNotFound(f"Resource Arn {arn} does not exist.")
    return found


def _decode(token: str | None) -> int:
    if not token:
        return 0
    try:
        kind, _, start = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind != "recipes":
            raise ValueError(kind)
        return int(start)
    except Exception:
        raise InvalidNextToken("The token is not valid.") from None


OPERATIONS = {
    "ListRecipes": list_recipes,
    "DescribeRecipe": describe_recipe,
    "DescribeAlgorithm": describe_algorithm,
    "DescribeFeatureTransformation": describe_feature_transformation,
}
