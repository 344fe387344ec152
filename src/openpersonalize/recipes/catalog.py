"""The predefined recipes (spec §7, §8), their algorithms and feature transformations.

Pure data (no numpy): the control plane answers ListRecipes / DescribeRecipe / DescribeAlgorithm /
DescribeFeatureTransformation from it. `trained_by` names the recipe module that trains it here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openpersonalize.errors import InvalidInput

RECIPE_ARN = "arn:aws:personalize:::recipe/{}"
ALGORITHM_ARN = "arn:aws:personalize:::algorithm/{}"
TRANSFORM_ARN = "arn:aws:personalize:::feature-transformation/{}"
# A fixed "creation time" for the built-in catalogue (2019-06-10, when Personalize became GA).
CATALOG_TIME = 1560124800.0


@dataclass(frozen=True)
class HyperParameter:
    name: str
    default: str
    kind: str = "integer"  # integer | continuous | categorical
    low: float | None = None
    high: float | None = None
    values: tuple[str, ...] = ()
    tunable: bool = True


@dataclass(frozen=True)
class RecipeInfo:
    name: str
    recipe_type: str
    description: str
    algorithm: str
    transformation: str | None = None
    hyperparameters: tuple[HyperParameter, ...] = ()
    featurization: dict[str, str] = field(default_factory=dict)
    domain: str | None = None
    trained_by: str | None = None  # name of the recipe module's registry entry
    legacy: bool = False
    # How serving answers for it (spec §15): whether results carry a score, whether a
    # GetRecommendations needs a userId, whether item metadata comes without the campaign flag.
    scored: bool = True
    needs_user: bool = True
    metadata_always: bool = False

    @property
    def arn(self) -> str:
        return RECIPE_ARN.format(self.name)

    @property
    def algorithm_arn(self) -> str:
        return ALGORITHM_ARN.format(self.algorithm)

    @property
    def transformation_arn(self) -> str | None:
        return TRANSFORM_ARN.format(self.transformation) if self.transformation else None


_HRNN = (
    HyperParameter("hidden_dimension", "149", low=32, high=256),
    HyperParameter("bptt", "32", low=2, high=32),
    HyperParameter("recency_mask", "true", kind="categorical", values=("true", "false")),
)
_PERCENTILES = {"min_user_history_length_percentile": "0.0", "max_user_history_length_percentile": "0.99"}
_SIMS_PERCENTILES = {
    "min_user_history_length_percentile": "0.005",
    "max_user_history_length_percentile": "0.995",
    "min_item_interaction_count_percentile": "0.01",
    "max_item_interaction_count_percentile": "0.9",
}
_EXPLORATION = {"exploration_weight": "0.3", "exploration_item_age_cut_off": "30.0"}


def _domain(name: str, domain: str, base: str, description: str) -> RecipeInfo:
    kind = "USER_PERSONALIZATION"
    if "bought-together" in name or "also-viewed" in name or "because-you" in name or "more-like" in name:
        kind = "RELATED_ITEMS"
    elif "popular" in name or "trending" in name:
        kind = "POPULAR_ITEMS"
    scored = base not in ("aws-sims", "aws-popularity-count")
    return RecipeInfo(name, kind, description, name, domain=domain, trained_by=base, scored=scored)


RECIPES: tuple[RecipeInfo, ...] = (
    RecipeInfo(
        "aws-user-personalization-v2",
        "USER_PERSONALIZATION",
        "Recommends items for a user from their interaction history, weighting recent events; scales to large catalogues.",
        "aws-user-personalization-v2",
        hyperparameters=(
            HyperParameter(
                "apply_recency_bias", "true", kind="categorical", values=("true", "false"), tunable=False
            ),
        ),
        trained_by="aws-user-personalization",
        metadata_always=True,
    ),
    RecipeInfo(
        "aws-user-personalization",
        "USER_PERSONALIZATION",
        "Recommends items for a user from their interaction history; new events change the next recommendations at once.",
        "aws-user-personalization",
        "JSON-percentile-filtering",
        _HRNN,
        {**_PERCENTILES, **_EXPLORATION},
        trained_by="aws-user-personalization",
    ),
    RecipeInfo(
        "aws-trending-now",
        "POPULAR_ITEMS",
        "Recommends the items whose interactions grow fastest.",
        "aws-trending-now-custom",
        featurization={"trend_discovery_frequency": "2 hours"},
    ),
    RecipeInfo(
        "aws-popularity-count",
        "USER_PERSONALIZATION",
        "Recommends the items most users interacted with; the same list for everyone (a baseline).",
        "aws-popularity-count",
        "sims",
        trained_by="aws-popularity-count",
        scored=False,
        needs_user=False,
    ),
    RecipeInfo(
        "aws-personalized-ranking-v2",
        "PERSONALIZED_RANKING",
        "Ranks a given list of items for a user.",
        "aws-personalized-ranking-v2",
        hyperparameters=(
            HyperParameter(
                "apply_recency_bias", "true", kind="categorical", values=("true", "false"), tunable=False
            ),
        ),
        trained_by="aws-personalized-ranking",
        metadata_always=True,
    ),
    RecipeInfo(
        "aws-personalized-ranking",
        "PERSONALIZED_RANKING",
        "Ranks a given list of items for a user from their interaction history.",
        "aws-personalized-ranking",
        "JSON-percentile-filtering",
        _HRNN,
        dict(_PERCENTILES),
        trained_by="aws-personalized-ranking",
    ),
    RecipeInfo(
        "aws-semantic-similarity",
        "RELATED_ITEMS",
        "Recommends items whose text means something similar.",
        "aws-semantic-similarity",
        "aws-semantic-similarity",
        metadata_always=True,
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
        scored=False,
    ),
    RecipeInfo(
        "aws-sims",
        "RELATED_ITEMS",
        "Recommends items that users interact with together (item-to-item collaborative filtering).",
        "aws-sims",
        "sims",
        (
            HyperParameter("popularity_discount_factor", "0.5", kind="continuous", low=0.0, high=1.0),
            HyperParameter("min_cointeraction_count", "3", low=0, high=10),
        ),
        dict(_SIMS_PERCENTILES),
        trained_by="aws-sims",
        scored=False,
    ),
    RecipeInfo(
        "aws-next-best-action",
        "PERSONALIZED_ACTIONS",
        "Recommends the actions a user is most likely to take.",
        "aws-next-best-action",
        featurization={"action_optimization_period": "14"},
    ),
    RecipeInfo(
        "aws-item-affinity",
        "USER_SEGMENTATION",
        "Finds the users most likely to interact with given items.",
        "aws-item-affinity",
        "item-affinity",
        (HyperParameter("hidden_dimension", "149", low=32, high=256, tunable=False),),
    ),
    RecipeInfo(
        "aws-item-attribute-affinity",
        "USER_SEGMENTATION",
        "Finds the users most likely to interact with items of given attributes.",
        "aws-item-attribute-affinity",
        "item-attribute-affinity",
        (HyperParameter("hidden_dimension", "149", low=32, high=256, tunable=False),),
    ),
    RecipeInfo(
        "aws-hrnn",
        "USER_PERSONALIZATION",
        "Legacy recipe; trained here as aws-user-personalization.",
        "aws-hrnn",
        "JSON-percentile-filtering",
        (HyperParameter("hidden_dimension", "43", low=32, high=256), *_HRNN[1:]),
        dict(_PERCENTILES),
        trained_by="aws-user-personalization",
        legacy=True,
    ),
    RecipeInfo(
        "aws-hrnn-metadata",
        "USER_PERSONALIZATION",
        "Legacy recipe; trained here as aws-user-personalization.",
        "aws-hrnn-metadata",
        "featurize_metadata",
        (HyperParameter("hidden_dimension", "43", low=32, high=256), *_HRNN[1:]),
        dict(_PERCENTILES),
        trained_by="aws-user-personalization",
        legacy=True,
    ),
    RecipeInfo(
        "aws-hrnn-coldstart",
        "USER_PERSONALIZATION",
        "Legacy recipe; trained here as aws-user-personalization.",
        "aws-hrnn-coldstart",
        "featurize_coldstart",
        _HRNN,
        {**_PERCENTILES, "cold_start_max_interactions": "15", "cold_start_max_duration": "5.0"},
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
    _domain("aws-vod-more-like-x", "VIDEO_ON_DEMAND", "aws-sims", "More like X."),
    _domain("aws-vod-most-popular", "VIDEO_ON_DEMAND", "aws-popularity-count", "Most popular."),
    _domain("aws-vod-trending-now", "VIDEO_ON_DEMAND", "aws-popularity-count", "Trending now."),
    _domain("aws-vod-top-picks", "VIDEO_ON_DEMAND", "aws-user-personalization", "Top picks for you."),
)

BY_ARN = {r.arn: r for r in RECIPES}
BY_ALGORITHM_ARN = {r.algorithm_arn: r for r in RECIPES}
BY_TRANSFORM_ARN = {r.transformation_arn: r for r in RECIPES if r.transformation_arn}


def check_hyperparameters(recipe: RecipeInfo, values: dict[str, str]) -> None:
    """Check given algorithmHyperParameters against the recipe's declared types and ranges.

    Names the recipe does not declare are left to the recipe (ours add a few of their own)."""
    declared = {h.name: h for h in recipe.hyperparameters}
    for name, raw in values.items():
        h = declared.get(name)
        if h is None:
            continue
        where = f"solutionConfig.algorithmHyperParameters.{name}"
        if h.kind == "categorical":
            if raw.lower() not in {v.lower() for v in h.values}:
                raise InvalidInput(f"{where} must be one of {', '.join(h.values)}; got '{raw}'.")
            continue
        try:
            value = int(raw) if h.kind == "integer" else float(raw)
        except ValueError:
            kind = "an integer" if h.kind == "integer" else "a number"
            raise InvalidInput(f"{where} must be {kind}; got '{raw}'.") from None
        if (h.low is not None and value < h.low) or (h.high is not None and value > h.high):
            raise InvalidInput(f"{where} must be between {h.low:g} and {h.high:g}; got {raw}.")
