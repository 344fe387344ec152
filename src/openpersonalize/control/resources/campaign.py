"""Campaign: a deployed solution version answering GetRecommendations / GetPersonalizedRanking."""

from __future__ import annotations

from typing import Any

from openpersonalize.control.context import Call, Context
from openpersonalize.control.lifecycle import ACTIVE, CREATE_FAILED
from openpersonalize.control.resources.common import (
    check_ranking_influence,
    describer,
    ensure_name_free,
    lister,
    new_resource,
    request_tags,
    require,
)
from openpersonalize.errors import InvalidInput, ResourceInUse, ResourceNotFound
from openpersonalize.recipes.catalog import BY_ARN
from openpersonalize.recipes.exploration import Exploration
from openpersonalize.store.metadata import Resource

KIND = "campaign"
LATEST = "$LATEST"


def resolve_version(ctx: Context, arn: str) -> Resource:
    """A concrete ACTIVE solution version for an SV ARN or a `<solutionArn>/$LATEST` ARN."""
    if arn.endswith("/" + LATEST):
        solution = require(ctx, arn[: -len(LATEST) - 1], "solution")
        active = ctx.store.list("solution-version", parent_arn=solution.arn, statuses=[ACTIVE], limit=1).items
        if not active:
            raise ResourceNotFound(f"Solution {solution.arn} has no ACTIVE solution version yet.")
        return active[0]
    version = require(ctx, arn, "solution-version")
    if version.status != ACTIVE:
        raise InvalidInput(f"Solution version {arn} is not ACTIVE (status: {version.status}).")
    recipe = BY_ARN.get(version.attrs.get("recipeArn", ""))
    if recipe is not None and recipe.recipe_type == "USER_SEGMENTATION":
        raise InvalidInput(
            f"Solution version {arn} is of a USER_SEGMENTATION recipe ({recipe.name}): use it with "
            "CreateBatchSegmentJob; it cannot be deployed in a campaign."
        )
    return version


def _config(p: dict[str, Any], version_arn: str, current: dict[str, Any] | None = None) -> dict[str, Any]:
    config = dict(current or {})
    config.update(p.get("campaignConfig") or {})
    if config.get("syncWithLatestSolutionVersion") and not version_arn.endswith("/" + LATEST):
        raise InvalidInput(
            "campaignConfig.syncWithLatestSolutionVersion needs solutionVersionArn <solutionArn>/$LATEST."
        )
    Exploration.of(config.get("itemExplorationConfig"))  # refuses an unknown key or a bad value, naming it
    check_ranking_influence(config.get("rankingInfluence") or {}, "campaignConfig.rankingInfluence")
    return config


def _deployment(ctx: Context, version_arn: str, config: dict[str, Any]) -> dict[str, Any]:
    """The attrs that say what a campaign serves."""
    version = resolve_version(ctx, version_arn)
    follow = bool(config.get("syncWithLatestSolutionVersion"))
    return {
        "solutionVersionArn": version_arn if follow else version.arn,
        "_solutionArn": version.parent_arn,
        "_followLatest": follow,
    }


def create(ctx: Context, call: Call) -> dict[str, Any]:
    p = call.params
    arn = call.scope.arn(KIND, p["name"])
    ensure_name_free(ctx, arn, "Campaign", p["name"])
    config = _config(p, p["solutionVersionArn"])
    attrs = _deployment(ctx, p["solutionVersionArn"], config)
    attrs["minProvisionedTPS"] = int(p.get("minProvisionedTPS") or 1)
    attrs["campaignConfig"] = config
    solution = require(ctx, attrs["_solutionArn"], "solution")
    # Models load in the serving process on first use, so the campaign is ACTIVE at once.
    ctx.store.create(
        new_resource(ctx, KIND, arn, p["name"], attrs, group=solution.dataset_group_arn, parent=solution.arn),
        tags=request_tags(call),
    )
    return {"campaignArn": arn}


def update(ctx: Context, call: Call) -> dict[str, Any]:
    p = call.params
    campaign = require(ctx, p["campaignArn"], KIND)
    if campaign.status not in (ACTIVE, CREATE_FAILED):
        raise ResourceInUse(f"Campaign {campaign.arn} is {campaign.status}; it can be updated when ACTIVE.")
    version_arn = p.get("solutionVersionArn") or campaign.attrs["solutionVersionArn"]
    config = _config(p, version_arn, campaign.attrs.get("campaignConfig"))
    changes = _deployment(ctx, version_arn, config)
    if changes["_solutionArn"] != campaign.attrs["_solutionArn"]:
        raise InvalidInput("UpdateCampaign can only switch to a version of the same solution.")
    changes["campaignConfig"] = config
    if p.get("minProvisionedTPS"):
        changes["minProvisionedTPS"] = int(p["minProvisionedTPS"])
    now = ctx.now()
    changes["latestCampaignUpdate"] = {
        "solutionVersionArn": changes["solutionVersionArn"],
        "minProvisionedTPS": changes.get("minProvisionedTPS", campaign.attrs["minProvisionedTPS"]),
        "campaignConfig": config,
        "status": ACTIVE,
        "creationDateTime": now,
        "lastUpdatedDateTime": now,
    }
    ctx.store.update(campaign.arn, status=ACTIVE, attrs={**changes, "failureReason": None})
    return {"campaignArn": campaign.arn}


def delete(ctx: Context, call: Call) -> dict[str, Any]:
    campaign = require(ctx, call.params["campaignArn"], KIND)
    ctx.store.delete(campaign.arn)
    return {}


describe = describer(KIND)
list_ = lister(KIND, parent="solution")


OPERATIONS = {
    "CreateCampaign": create,
    "DescribeCampaign": describe,
    "ListCampaigns": list_,
    "UpdateCampaign": update,
    "DeleteCampaign": delete,
}
