"""What answers a request: a campaign, a recommender or a batch job resolved to its deployed model,
its settings and its dataset group's datasets (the first stage of the serving pipeline).

Campaigns and recommenders are re-read at most every CACHE_SECONDS, so control-plane changes in
other processes show within a second.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from openpersonalize.errors import InvalidInput, ResourceNotFound
from openpersonalize.recipes.catalog import BY_ARN, RecipeInfo
from openpersonalize.recipes.use_cases import USE_CASES
from openpersonalize.serving.filtering import Scene
from openpersonalize.serving.models import Deployed, ModelCache
from openpersonalize.store.metadata import MetadataStore, Resource

CACHE_SECONDS = 1.0
ACTIVE = "ACTIVE"
IN_FLIGHT = ("CREATE PENDING", "CREATE IN_PROGRESS")
RECOMMENDER_VERSION = "recommender-version"  # a recommender's trainings (control/resources/recommender.py)


@dataclass(frozen=True)
class Target:
    """A campaign, recommender or batch job resolved to its model and settings."""

    arn: str  # the campaign's (or the recommender's, the batch job's)
    label: str  # in messages: "Campaign", "Recommender", "Batch inference job"
    config: Mapping[str, Any]  # campaignConfig (recommenderConfig, batchInferenceJobConfig)
    recipe: RecipeInfo
    scene: Scene  # its model and its dataset group's datasets
    record_served: bool = True  # answers carry a recommendationId that PutEvents may name
    # A recommender's use case: the user's items of these event types are not recommended again.
    excludes: frozenset[str] = frozenset()

    @property
    def deployed(self) -> Deployed:
        return self.scene.deployed


class Targets:
    def __init__(self, store: MetadataStore, models: ModelCache) -> None:
        self.store = store
        self.models = models
        self._cache: dict[str, tuple[float, Target]] = {}

    def cached(self, arn: str | None) -> tuple[float, Target] | None:
        """(when it was resolved, the target) if this ARN was resolved before."""
        return self._cache.get(arn or "")

    def clear(self) -> None:
        self._cache.clear()

    def campaign(self, campaign_arn: str) -> Target:
        return self._resolved(campaign_arn, lambda: self._campaign(campaign_arn))

    def recommender(self, recommender_arn: str) -> Target:
        return self._resolved(recommender_arn, lambda: self._recommender(recommender_arn))

    def _resolved(self, arn: str, resolve: Callable[[], Target]) -> Target:
        now = time.monotonic()
        hit = self._cache.get(arn)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        target = resolve()
        self._cache[arn] = (now, target)
        return target

    def _campaign(self, campaign_arn: str) -> Target:
        campaign = self.store.get(campaign_arn)
        if campaign is None or campaign.kind != "campaign":
            raise ResourceNotFound(f"Resource Arn {campaign_arn} does not exist.")
        if campaign.status != ACTIVE:
            raise InvalidInput(f"Campaign {campaign_arn} is not ACTIVE (status: {campaign.status}).")
        config = campaign.attrs.get("campaignConfig") or {}
        return self.of_version(self._version(campaign), campaign.arn, "Campaign", config)

    def _recommender(self, recommender_arn: str) -> Target:
        recommender = self.store.get(recommender_arn)
        if recommender is None or recommender.kind != "recommender":
            raise ResourceNotFound(f"Resource Arn {recommender_arn} does not exist.")
        trained = self.store.list(
            RECOMMENDER_VERSION, parent_arn=recommender.arn, statuses=[ACTIVE], limit=1
        ).items
        # Still CREATE PENDING on record until a Describe settles it, but trained: it may answer.
        creating = recommender.status in IN_FLIGHT and trained
        if (recommender.status != ACTIVE and not creating) or not trained:
            raise InvalidInput(f"Recommender {recommender_arn} is not ACTIVE (status: {recommender.status}).")
        config = recommender.attrs.get("recommenderConfig") or {}
        target = self.of_version(trained[0], recommender.arn, "Recommender", config)
        excludes = frozenset(t.lower() for t in USE_CASES[target.recipe.name].excludes)
        return dataclasses.replace(target, excludes=excludes)

    def of_version(
        self,
        version: Resource,
        arn: str,
        label: str,
        config: Mapping[str, Any],
        *,
        record_served: bool = True,
    ) -> Target:
        """A solution version made ready to answer for ``arn``."""
        recipe = BY_ARN[version.attrs["recipeArn"]]
        deployed = self.models.get(
            version.arn, f"models/{version.attrs['_id']}/", version.attrs.get("_trainedAt", 0.0)
        )
        group = version.dataset_group_arn
        datasets = self.store.list("dataset", dataset_group_arn=group).items
        scene = Scene(group, deployed, {str(d.attrs["datasetType"]): d for d in datasets})
        return Target(arn, label, config, recipe, scene, record_served)

    def _version(self, campaign: Resource) -> Resource:
        if campaign.attrs.get("_followLatest"):
            active = self.store.list(
                "solution-version", parent_arn=campaign.attrs["_solutionArn"], statuses=[ACTIVE], limit=1
            ).items
            if active:
                return active[0]
            raise InvalidInput(f"Campaign {campaign.arn} has no ACTIVE solution version to serve.")
        version = self.store.get(campaign.attrs["solutionVersionArn"])
        if version is None:
            raise InvalidInput(f"The solution version of campaign {campaign.arn} no longer exists.")
        return version
