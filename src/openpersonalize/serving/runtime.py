"""personalize-runtime: GetRecommendations and GetPersonalizedRanking over deployed campaigns (spec §15)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from openpersonalize.errors import InvalidInput, NotImplementedYet, ResourceNotFound
from openpersonalize.recipes.catalog import BY_ARN, RecipeInfo
from openpersonalize.scope import Scope
from openpersonalize.serving.live import LiveEvents
from openpersonalize.serving.models import Deployed, ModelCache
from openpersonalize.serving.scoring import Background, softmax_at, top_k
from openpersonalize.store.metadata import MetadataStore, Resource

MAX_RESULTS = 500
DEFAULT_RESULTS = 25
CACHE_SECONDS = 1.0
# Recipes whose results carry no score (spec §15).
UNSCORED = {"aws-sims", "aws-similar-items", "aws-popularity-count"}


@dataclass(frozen=True)
class Target:
    campaign: Resource
    recipe: RecipeInfo
    deployed: Deployed
    dataset_id: str | None


class Runtime:
    def __init__(self, store: MetadataStore, models: ModelCache, live: LiveEvents) -> None:
        self.store = store
        self.models = models
        self.live = live
        self._targets: dict[str, tuple[float, Target]] = {}

    # -- operations -------------------------------------------------------------------------
    def get_recommendations(self, p: dict[str, Any], scope: Scope) -> dict[str, Any]:
        if p.get("recommenderArn"):
            if p.get("campaignArn"):
                raise InvalidInput("Give either campaignArn or recommenderArn, not both.")
            scope.check(p["recommenderArn"], "GetRecommendations")
            raise ResourceNotFound(f"Resource Arn {p['recommenderArn']} does not exist.")
        if not p.get("campaignArn"):
            raise InvalidInput("campaignArn (or recommenderArn) is required.")
        scope.check(p["campaignArn"], "GetRecommendations")
        _unsupported(p)
        k = _num_results(p.get("numResults"))
        target = self._target(p["campaignArn"])
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
        model, deployed = target.deployed.model, target.deployed
        scored = target.recipe.trained_by not in UNSCORED and target.recipe.name not in UNSCORED
        if kind == "RELATED_ITEMS":
            if not p.get("itemId"):
                raise InvalidInput(
                    f"itemId is required for campaign {target.campaign.arn} (a RELATED_ITEMS recipe)."
                )
            top, probabilities = self._related(deployed, p["itemId"], k, scored)
        else:
            if not p.get("userId") and target.recipe.name != "aws-popularity-count":
                raise InvalidInput(f"userId is required for campaign {target.campaign.arn}.")
            top, probabilities = self._for_user(deployed, self.history(target, p.get("userId")), k, scored)
        items = []
        for rank, index in enumerate(top):
            entry: dict[str, Any] = {"itemId": str(model.item_ids[index])}
            if probabilities is not None:
                entry["score"] = probabilities[rank]
            items.append(entry)
        return {"itemList": items, "recommendationId": _recommendation_id()}

    def get_personalized_ranking(self, p: dict[str, Any], scope: Scope) -> dict[str, Any]:
        scope.check(p["campaignArn"], "GetPersonalizedRanking")
        _unsupported(p)
        target = self._target(p["campaignArn"])
        if target.recipe.recipe_type != "PERSONALIZED_RANKING":
            raise InvalidInput(
                f"Campaign {target.campaign.arn} does not use a PERSONALIZED_RANKING recipe; call GetRecommendations."
            )
        inputs = list(dict.fromkeys(p["inputList"]))
        if len(inputs) > MAX_RESULTS:
            raise InvalidInput(f"inputList can hold at most {MAX_RESULTS} items; got {len(inputs)}.")
        deployed = target.deployed
        known = [i for i in inputs if i in deployed.item_index]
        unknown = [i for i in inputs if i not in deployed.item_index]
        scores = deployed.model.user_scores(self.history(target, p["userId"]))[deployed.indices(known)]
        order = np.argsort(-scores, kind="stable")
        probabilities = softmax_at(scores, order)
        ranking: list[dict[str, Any]] = [
            {"itemId": known[i], "score": probabilities[rank]} for rank, i in enumerate(order)
        ]
        # Items the model never saw go last, without a score (as AWS does).
        ranking += [{"itemId": i} for i in unknown]
        return {"personalizedRanking": ranking, "recommendationId": _recommendation_id()}

    def get_action_recommendations(self, p: dict[str, Any], scope: Scope) -> dict[str, Any]:
        raise NotImplementedYet(
            "The operation GetActionRecommendations is not implemented by this server yet."
        )

    def is_ready(self, params: dict[str, Any]) -> bool:
        """True when the request's campaign is resolved and its model loaded: cheap enough to run inline."""
        hit = self._targets.get(params.get("campaignArn") or "")
        return hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS

    def invalidate(self) -> None:
        """Forget resolved campaigns (after control-plane changes in this process)."""
        self._targets.clear()

    # -- helpers ----------------------------------------------------------------------------
    @staticmethod
    def _for_user(
        deployed: Deployed, history: np.ndarray, k: int, scored: bool
    ) -> tuple[np.ndarray, list[float] | None]:
        if not len(history):
            return deployed.cold_start(k, scored)
        sparse = getattr(deployed.model, "sparse_user_scores", None)
        reached = sparse(history) if sparse is not None else None
        if reached is not None:
            top, top_scores, total = deployed.background().rank(reached[0], reached[1], k)
            return top, Background.probabilities(top_scores, total) if scored else None
        scores = deployed.model.user_scores(history)
        top = top_k(scores, k)
        return top, softmax_at(scores, top) if scored else None

    @staticmethod
    def _related(
        deployed: Deployed, item_id: str, k: int, scored: bool
    ) -> tuple[np.ndarray, list[float] | None]:
        index = deployed.item_index.get(item_id)
        if index is None:
            scores = deployed.histories.popularity.astype(np.float32)  # unknown item: popular items
        else:
            scores = np.array(deployed.model.item_scores(index), dtype=np.float32, copy=True)
            scores[index] = -np.inf
        top = top_k(scores, k)
        return top, softmax_at(scores, top) if scored else None

    def history(self, target: Target, user: str | None) -> np.ndarray:
        """The user's training history plus live events after training, as item indices."""
        deployed = target.deployed
        if not user:
            return np.empty(0, np.int32)
        history = deployed.histories.of(user)
        if target.dataset_id is not None:
            recent = deployed.indices(self.live.items_since(target.dataset_id, user, deployed.trained_at))
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
        target = Target(campaign, recipe, deployed, self._interactions_id(campaign.dataset_group_arn))
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

    def _interactions_id(self, group_arn: str | None) -> str | None:
        for dataset in self.store.list("dataset", dataset_group_arn=group_arn).items:
            if dataset.attrs.get("datasetType") == "INTERACTIONS":
                return str(dataset.attrs["_id"])
        return None


def _unsupported(p: dict[str, Any]) -> None:
    if p.get("filterArn"):
        raise ResourceNotFound(f"Resource Arn {p['filterArn']} does not exist.")
    for member in ("promotions", "metadataColumns"):
        if p.get(member):
            raise InvalidInput(f"{member} is not supported by this server yet.")


def _num_results(value: int | None) -> int:
    k = DEFAULT_RESULTS if value is None else int(value)
    if k > MAX_RESULTS:
        raise InvalidInput(f"numResults must be at most {MAX_RESULTS}; got {k}.")
    return k


def _recommendation_id() -> str:
    return "RID-" + os.urandom(16).hex()  # 36 characters; PutEvents accepts up to 40
