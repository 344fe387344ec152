"""The predefined recipes (spec §7, §8): each declared once, with its hyperparameters and the class
that trains it (see ``spec.py``).

Pure data (no numpy): the control plane answers ListRecipes / DescribeRecipe / DescribeAlgorithm /
DescribeFeatureTransformation from it, CreateSolution checks hyperparameters with it, and the
training pipeline reads typed values from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openpersonalize.recipes.spec import (
    ALGORITHM_ARN,
    FEATURIZATION,
    RECIPE_ARN,
    TRANSFORM_ARN,
    HyperParameter,
    RecipeInfo,
    declared,
    read_values,
)

__all__ = ["ALGORITHM_ARN", "RECIPE_ARN", "TRANSFORM_ARN", "HyperParameter", "RecipeInfo"]

# A fixed "creation time" for the built-in catalogue (2019-06-10, when Personalize became GA).
CATALOG_TIME = 1560124800.0
_UP = "openpersonalize.recipes.user_personalization:UserPersonalizationRecipe"


def _featurization(name: str, default: str, kind: str = "continuous", **more: Any) -> HyperParameter:
    bounds = {"low": 0.0, "high": 1.0} if kind == "continuous" else {}
    return HyperParameter(name, default, kind, section=FEATURIZATION, tunable=False, **{**bounds, **more})


_HRNN = (
    HyperParameter("hidden_dimension", "149", low=32, high=256),
    HyperParameter("bptt", "32", low=2, high=32),
    HyperParameter("recency_mask", "true", kind="boolean"),
)
_PERCENTILES = (
    _featurization("min_user_history_length_percentile", "0.0"),
    _featurization("max_user_history_length_percentile", "0.99"),
)
_EXPLORATION = (
    _featurization("exploration_weight", "0.3"),
    _featurization("exploration_item_age_cut_off", "30.0", high=None),
)
# Ours: EASE's L2 strength, measured on ML-100k (docs/recipes/aws-user-personalization.md).
_EASE_L2 = HyperParameter(
    "ease_l2", "300", "continuous", low=1e-6, public=False, search=(10.0, 5000.0), log=True
)
_SIMS = (
    HyperParameter("popularity_discount_factor", "0.5", kind="continuous", low=0.0, high=1.0),
    HyperParameter("min_cointeraction_count", "3", low=0, high=10),
    _featurization("min_user_history_length_percentile", "0.005"),
    _featurization("max_user_history_length_percentile", "0.995"),
    _featurization("min_item_interaction_count_percentile", "0.01"),
    _featurization("max_item_interaction_count_percentile", "0.9"),
)
_RECENCY_BIAS = HyperParameter("apply_recency_bias", "true", kind="boolean", tunable=False)
_V2 = "openpersonalize.recipes.user_personalization_v2:SequenceRecipe"
# Ours, for the transformer; 0 (the default) keeps the value scaled to the data.
_SEQUENCE = (
    _RECENCY_BIAS,
    HyperParameter("hidden_units", "0", low=0, high=512, public=False, search=(32, 128)),
    HyperParameter("num_blocks", "0", low=0, high=4, public=False, search=(1, 3)),
    HyperParameter("max_seq_length", "0", low=0, high=500, public=False, search=(20, 200)),
    HyperParameter("dropout_rate", "0", "continuous", low=0.0, high=0.9, public=False, search=(0.1, 0.6)),
    HyperParameter("epochs", "0", low=0, high=1000, public=False, tunable=False),
)


def _domain(name: str, domain: str, base: str, description: str) -> RecipeInfo:
    kind = "USER_PERSONALIZATION"
    if "bought-together" in name or "also-viewed" in name or "because-you" in name or "more-like" in name:
        kind = "RELATED_ITEMS"
    elif "popular" in name or "trending" in name:
        kind = "POPULAR_ITEMS"
    scored = base not in ("aws-sims", "aws-popularity-count", "aws-trending-now", "aws-similar-items")
    explores = base == "aws-user-personalization"  # Recommended for you, Top picks for you
    return RecipeInfo(
        name, kind, description, name, domain=domain, trained_by=base, scored=scored, explores=explores,
        needs_user=kind != "POPULAR_ITEMS" or "popular" in name,
    )  # fmt: skip


RECIPES: tuple[RecipeInfo, ...] = (
    RecipeInfo(
        "aws-user-personalization-v2",
        "USER_PERSONALIZATION",
        "Recommends items for a user from their interaction history, weighting recent events; scales to large catalogues.",
        "aws-user-personalization-v2",
        hyperparameters=_SEQUENCE,
        implementation=_V2,
        metadata_always=True,
        explores=True,
        reasons=True,
    ),
    RecipeInfo(
        "aws-user-personalization",
        "USER_PERSONALIZATION",
        "Recommends items for a user from their interaction history; new events change the next recommendations at once.",
        "aws-user-personalization",
        "JSON-percentile-filtering",
        (*_HRNN, *_PERCENTILES, *_EXPLORATION, _EASE_L2),
        implementation=_UP,
        explores=True,
    ),
    RecipeInfo(
        "aws-trending-now",
        "POPULAR_ITEMS",
        "Recommends the items whose interactions grow fastest.",
        "aws-trending-now-custom",
        implementation="openpersonalize.recipes.trending:TrendingRecipe",
        scored=False,
        needs_user=False,
        hyperparameters=(
            _featurization(
                "trend_discovery_frequency",
                "2 hours",
                "categorical",
                values=("30 minutes", "1 hour", "2 hours", "3 hours", "1 day"),
            ),
        ),
    ),
    RecipeInfo(
        "aws-popularity-count",
        "USER_PERSONALIZATION",
        "Recommends the items most users interacted with; the same list for everyone (a baseline).",
        "aws-popularity-count",
        "sims",
        implementation="openpersonalize.recipes.popularity:PopularityCountRecipe",
        scored=False,
        needs_user=False,
    ),
    RecipeInfo(
        "aws-personalized-ranking-v2",
        "PERSONALIZED_RANKING",
        "Ranks a given list of items for a user.",
        "aws-personalized-ranking-v2",
        hyperparameters=_SEQUENCE,
        implementation=_V2,
        metadata_always=True,
        reasons=True,
    ),
    RecipeInfo(
        "aws-personalized-ranking",
        "PERSONALIZED_RANKING",
        "Ranks a given list of items for a user from their interaction history.",
        "aws-personalized-ranking",
        "JSON-percentile-filtering",
        (*_HRNN, *_PERCENTILES, _EASE_L2),
        implementation=_UP,
    ),
    RecipeInfo(
        "aws-semantic-similarity",
        "RELATED_ITEMS",
        "Recommends items whose text means something similar.",
        "aws-semantic-similarity",
        "aws-semantic-similarity",
        implementation="openpersonalize.recipes.semantic_similarity:SemanticSimilarityRecipe",
        metadata_always=True,
        needs_interactions=False,
        scored=False,
    ),
    RecipeInfo(
        "aws-similar-items",
        "RELATED_ITEMS",
        "Recommends items similar to a given item from co-occurrence and item metadata.",
        "aws-similar-items",
        hyperparameters=(
            HyperParameter("item_id_hidden_dim", "100", low=30, high=200),
            HyperParameter("item_metadata_hidden_dim", "100", low=30, high=200),
        ),
        implementation="openpersonalize.recipes.similar_items:SimilarItemsRecipe",
        scored=False,
    ),
    RecipeInfo(
        "aws-sims",
        "RELATED_ITEMS",
        "Recommends items that users interact with together (item-to-item collaborative filtering).",
        "aws-sims",
        "sims",
        _SIMS,
        implementation="openpersonalize.recipes.sims:SimsRecipe",
        scored=False,
    ),
    RecipeInfo(
        "aws-next-best-action",
        "PERSONALIZED_ACTIONS",
        "Recommends the actions a user is most likely to take.",
        "aws-next-best-action",
        hyperparameters=(_featurization("action_optimization_period", "14", "integer", low=7, high=28),),
        implementation="openpersonalize.recipes.next_best_action:NextBestActionRecipe",
    ),
    RecipeInfo(
        "aws-item-affinity",
        "USER_SEGMENTATION",
        "Finds the users most likely to interact with given items.",
        "aws-item-affinity",
        "item-affinity",
        (HyperParameter("hidden_dimension", "149", low=32, high=256, tunable=False),),
        implementation="openpersonalize.recipes.affinity:ItemAffinityRecipe",
    ),
    RecipeInfo(
        "aws-item-attribute-affinity",
        "USER_SEGMENTATION",
        "Finds the users most likely to interact with items of given attributes.",
        "aws-item-attribute-affinity",
        "item-attribute-affinity",
        (HyperParameter("hidden_dimension", "149", low=32, high=256, tunable=False),),
        implementation="openpersonalize.recipes.affinity:ItemAttributeAffinityRecipe",
    ),
    RecipeInfo(
        "aws-hrnn",
        "USER_PERSONALIZATION",
        "Legacy recipe; trained here as aws-user-personalization.",
        "aws-hrnn",
        "JSON-percentile-filtering",
        (HyperParameter("hidden_dimension", "43", low=32, high=256), *_HRNN[1:], *_PERCENTILES),
        trained_by="aws-user-personalization",
        legacy=True,
    ),
    RecipeInfo(
        "aws-hrnn-metadata",
        "USER_PERSONALIZATION",
        "Legacy recipe; trained here as aws-user-personalization.",
        "aws-hrnn-metadata",
        "featurize_metadata",
        (HyperParameter("hidden_dimension", "43", low=32, high=256), *_HRNN[1:], *_PERCENTILES),
        trained_by="aws-user-personalization",
        legacy=True,
    ),
    RecipeInfo(
        "aws-hrnn-coldstart",
        "USER_PERSONALIZATION",
        "Legacy recipe; trained here as aws-user-personalization.",
        "aws-hrnn-coldstart",
        "featurize_coldstart",
        (
            *_HRNN,
            *_PERCENTILES,
            _featurization("cold_start_max_interactions", "15", "integer", low=1),
            _featurization("cold_start_max_duration", "5.0", high=None),
            _featurization(
                "cold_start_relative_from", "latestItem", "categorical", values=("currentTime", "latestItem")
            ),
        ),
        trained_by="aws-user-personalization",
        legacy=True,
    ),
    _domain("aws-ecomm-popular-items-by-views", "ECOMMERCE", "aws-popularity-count", "Most viewed items."),
    _domain("aws-ecomm-popular-items-by-purchases", "ECOMMERCE", "aws-popularity-count", "Best sellers."),
    _domain(
        "aws-ecomm-frequently-bought-together", "ECOMMERCE", "aws-sims", "Items frequently bought together."
    ),
    _domain(
        "aws-ecomm-customers-who-viewed-x-also-viewed",
        "ECOMMERCE",
        "aws-sims",
        "Customers who viewed X also viewed.",
    ),
    _domain("aws-ecomm-recommended-for-you", "ECOMMERCE", "aws-user-personalization", "Recommended for you."),
    _domain("aws-vod-because-you-watched-x", "VIDEO_ON_DEMAND", "aws-sims", "Because you watched X."),
    _domain("aws-vod-more-like-x", "VIDEO_ON_DEMAND", "aws-similar-items", "More like X."),
    _domain("aws-vod-most-popular", "VIDEO_ON_DEMAND", "aws-popularity-count", "Most popular."),
    _domain("aws-vod-trending-now", "VIDEO_ON_DEMAND", "aws-trending-now", "Trending now."),
    _domain("aws-vod-top-picks", "VIDEO_ON_DEMAND", "aws-user-personalization", "Top picks for you."),
)

BY_NAME = {r.name: r for r in RECIPES}
BY_ARN = {r.arn: r for r in RECIPES}
BY_ALGORITHM_ARN = {r.algorithm_arn: r for r in RECIPES}
BY_TRANSFORM_ARN = {r.transformation_arn: r for r in RECIPES if r.transformation_arn}


def trainer_of(recipe: RecipeInfo) -> RecipeInfo | None:
    """The catalogue entry whose implementation trains ``recipe`` (None: it cannot train here)."""
    return BY_NAME[recipe.trainer] if recipe.trainer else None


def hyperparameters_of(recipe: RecipeInfo) -> dict[str, HyperParameter]:
    return declared(recipe, trainer_of(recipe))


def read_hyperparameters(recipe: RecipeInfo, params: Mapping[str, object]) -> dict[str, Any]:
    """Typed values of the hyperparameters ``params`` set (strings), defaults for the others."""
    return read_values(hyperparameters_of(recipe), params)
