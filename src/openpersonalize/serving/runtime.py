"""personalize-runtime: GetRecommendations and GetPersonalizedRanking over deployed campaigns (spec §15).

Every request runs one pipeline: resolve the campaign to its deployed model → candidate scores
(the user's history, or the item) → the mask of what the request may get → top k → the answer.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from openpersonalize.errors import InvalidInput, NotImplementedYet, ResourceNotFound
from openpersonalize.recipes.catalog import BY_ARN, RecipeInfo
from openpersonalize.scope import Scope
from openpersonalize.serving.attributes import AttributeStore
from openpersonalize.serving.candidates import Candidates
from openpersonalize.serving.filtering import RequestFilters, Scene
from openpersonalize.serving.live import LiveEvents
from openpersonalize.serving.models import Deployed, ModelCache
from openpersonalize.serving.requests import Answer, Rank, Recommend, Scored
from openpersonalize.serving.scoring import softmax_at
from openpersonalize.store.metadata import MetadataStore, Resource

MAX_RESULTS = 500
CACHE_SECONDS = 1.0
# Recipes whose results carry no score (spec §15).
UNSCORED = {"aws-sims", "aws-similar-items", "aws-popularity-count"}


@dataclass(frozen=True)
class Target:
    """A campaign resolved to what answers for it."""

    campaign: Resource
    recipe: RecipeInfo
    scene: Scene  # its model and its dataset group's datasets

    @property
    def deployed(self) -> Deployed:
        return self.scene.deployed

    @property
    def scored(self) -> bool:
        return self.recipe.trained_by not in UNSCORED and self.recipe.name not in UNSCORED


class Runtime:
    def __init__(
        self, store: MetadataStore, models: ModelCache, live: LiveEvents, attributes: AttributeStore
    ) -> None:
        self.store = store
        self.models = models
        self.live = live
        self.attributes = attributes
        self.filters = RequestFilters(store, attributes, live)
        self._targets: dict[str, tuple[float, Target]] = {}

    # -- operations -------------------------------------------------------------------------
    def recommend(self, request: Recommend, scope: Scope) -> Answer:
        if request.recommender_arn:
            if request.campaign_arn:
                raise InvalidInput("Give either campaignArn or recommenderArn, not both.")
            scope.check(request.recommender_arn, "GetRecommendations")
            raise ResourceNotFound(f"Resource Arn {request.recommender_arn} does not exist.")
        if not request.campaign_arn:
            raise InvalidInput("campaignArn (or recommenderArn) is required.")
        scope.check(request.campaign_arn, "GetRecommendations")
        _unsupported(bool(request.promotions), bool(request.metadata_columns))
        k = _num_results(request.num_results)
        target = self._target(request.campaign_arn)
        allowed = self.filters.mask(
            target.scene,
            request.filter_arn,
            request.filter_values,
            request.user_id,
            request.item_id,
            scope,
            "GetRecommendations",
        )
        kind = target.recipe.recipe_type
        if kind in ("PERSONALIZED_RANKING", "PERSONALIZED_ACTIONS", "USER_SEGMENTATION"):
            raise InvalidInput(
                f"Campaign {target.campaign.arn} uses a {kind} recipe; call "
                + (
                    "GetPersonalizedRanking."
                    if kind == "PERSONALIZED_RANKING"
                    else "the API for that recipe type."
                )
            )
        if kind == "RELATED_ITEMS":
            if not request.item_id:
                raise InvalidInput(
                    f"itemId is required for campaign {target.campaign.arn} (a RELATED_ITEMS recipe)."
                )
            candidates = Candidates.related_to(target.deployed, request.item_id)
        else:
            if not request.user_id and target.recipe.name != "aws-popularity-count":
                raise InvalidInput(f"userId is required for campaign {target.campaign.arn}.")
            candidates = Candidates.for_history(target.deployed, self.history(target, request.user_id))
        chosen, scores = candidates.top(k, allowed)
        item_ids = target.deployed.model.item_ids
        items = [
            Scored(str(item_ids[index]), scores[rank] if target.scored else None)
            for rank, index in enumerate(chosen)
        ]
        return Answer(items, _recommendation_id())

    def rank(self, request: Rank, scope: Scope) -> Answer:
        scope.check(request.campaign_arn, "GetPersonalizedRanking")
        _unsupported(False, bool(request.metadata_columns))
        target = self._target(request.campaign_arn)
        if target.recipe.recipe_type != "PERSONALIZED_RANKING":
            raise InvalidInput(
                f"Campaign {target.campaign.arn} does not use a PERSONALIZED_RANKING recipe; call GetRecommendations."
            )
        inputs = list(dict.fromkeys(request.input_list))
        if len(inputs) > MAX_RESULTS:
            raise InvalidInput(f"inputList can hold at most {MAX_RESULTS} items; got {len(inputs)}.")
        deployed = target.deployed
        mask = self.filters.mask(
            target.scene, request.filter_arn, request.filter_values, request.user_id, None, scope,
            "GetPersonalizedRanking",
        )  # fmt: skip
        if mask is not None:  # the filter removes items the model knows (others stay, unranked)
            inputs = [i for i in inputs if i not in deployed.item_index or mask[deployed.item_index[i]]]
        # Only items with interactions in the training data are ranked (an Items row is not enough).
        trained = [
            i for i in inputs if i in deployed.item_index and deployed.trained_on(deployed.item_index[i])
        ]
        untrained = [i for i in inputs if i not in set(trained)]
        scores = deployed.model.user_scores(self.history(target, request.user_id))[deployed.indices(trained)]
        order = np.argsort(-scores, kind="stable")
        probabilities = softmax_at(scores, order)
        ranking = [Scored(trained[i], probabilities[rank]) for rank, i in enumerate(order)]
        # Items the model did not learn go last, without a score (as AWS does).
        ranking += [Scored(i) for i in untrained]
        return Answer(ranking, _recommendation_id())

    def act(self, scope: Scope) -> Answer:
        raise NotImplementedYet(
            "The operation GetActionRecommendations is not implemented by this server yet."
        )

    def is_ready(self, campaign_arn: str | None, filter_arn: str | None = None) -> bool:
        """True when the campaign is resolved, its model loaded and what its filter reads at hand:
        cheap enough to answer inline."""
        hit = self._targets.get(campaign_arn or "")
        if hit is None or time.monotonic() - hit[0] >= CACHE_SECONDS:
            return False
        return not filter_arn or self.filters.ready(filter_arn, hit[1].scene)

    def observe(self, records: list[dict[str, Any]]) -> None:
        """Acknowledged records, this process's or another's: live histories and item/user metadata."""
        self.live.add(records)
        self.attributes.observe(records)

    def invalidate(self) -> None:
        """Forget resolved campaigns and filters (after control-plane changes in this process)."""
        self._targets.clear()
        self.filters.invalidate()

    # -- the stages ---------------------------------------------------------------------------
    def history(self, target: Target, user: str | None) -> np.ndarray:
        """The user's training history plus live events after training, as item indices."""
        deployed = target.deployed
        if not user:
            return np.empty(0, np.int32)
        history = deployed.histories.of(user)
        dataset_id = target.scene.interactions_id
        if dataset_id is not None:
            recent = deployed.indices(self.live.items_since(dataset_id, user, deployed.trained_at))
            if len(recent):
                history = np.concatenate([history, recent])
        return history

    def _target(self, campaign_arn: str) -> Target:
        now = time.monotonic()
        hit = self._targets.get(campaign_arn)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        campaign = self.store.get(campaign_arn)
        if campaign is None or campaign.kind != "campaign":
            raise ResourceNotFound(f"Resource Arn {campaign_arn} does not exist.")
        if campaign.status != "ACTIVE":
            raise InvalidInput(f"Campaign {campaign_arn} is not ACTIVE (status: {campaign.status}).")
        version = self._version(campaign)
        recipe = BY_ARN[version.attrs["recipeArn"]]
        deployed = self.models.get(
            version.arn, f"models/{version.attrs['_id']}/", version.attrs.get("_trainedAt", 0.0)
        )
        datasets = self.store.list("dataset", dataset_group_arn=campaign.dataset_group_arn).items
        scene = Scene(
            campaign.dataset_group_arn, deployed, {str(d.attrs["datasetType"]): d for d in datasets}
        )
        target = Target(campaign, recipe, scene)
        self._targets[campaign_arn] = (now, target)
        return target

    def _version(self, campaign: Resource) -> Resource:
        if campaign.attrs.get("_followLatest"):
            active = self.store.list(
                "solution-version", parent_arn=campaign.attrs["_solutionArn"], statuses=["ACTIVE"], limit=1
            ).items
            if active:
                return active[0]
            raise InvalidInput(f"Campaign {campaign.arn} has no ACTIVE solution version to serve.")
        version = self.store.get(campaign.attrs["solutionVersionArn"])
        if version is None:
            raise InvalidInput(f"The solution version of campaign {campaign.arn} no longer exists.")
        return version


def _unsupported(promotions: bool, metadata: bool) -> None:
    for member, given in (("promotions", promotions), ("metadataColumns", metadata)):
        if given:
            raise InvalidInput(f"{member} is not supported by this server yet.")


def _num_results(k: int) -> int:
    if k > MAX_RESULTS:
        raise InvalidInput(f"numResults must be at most {MAX_RESULTS}; got {k}.")
    return k


def _recommendation_id() -> str:
    return "RID-" + os.urandom(16).hex()  # 36 characters; PutEvents accepts up to 40
