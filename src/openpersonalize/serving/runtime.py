"""personalize-runtime: GetRecommendations and GetPersonalizedRanking over deployed campaigns (spec §15)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from openpersonalize.errors import InvalidInput, NotImplementedYet, ResourceNotFound
from openpersonalize.recipes.catalog import BY_ARN, RecipeInfo
from openpersonalize.serving.live import LiveEvents
from openpersonalize.serving.models import Deployed, ModelCache
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
    def get_recommendations(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("recommenderArn"):
            if p.get("campaignArn"):
                raise InvalidInput("Give either campaignArn or recommenderArn, not both.")
            raise ResourceNotFound(f"Resource Arn {p['recommenderArn']} does not exist.")
        if not p.get("campaignArn"):
            raise InvalidInput("campaignArn (or recommenderArn) is required.")
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
        if kind == "RELATED_ITEMS":
            if not p.get("itemId"):
                raise InvalidInput(
                    f"itemId is required for campaign {target.campaign.arn} (a RELATED_ITEMS recipe)."
                )
            index = deployed.item_index.get(p["itemId"])
            if index is None:
                scores = deployed.histories.popularity.astype(np.float32)  # unknown item: popular items
            else:
                scores = np.array(model.item_scores(index), dtype=np.float32, copy=True)
                scores[index] = -np.inf
        else:
            if not p.get("userId") and target.recipe.name != "aws-popularity-count":
                raise InvalidInput(f"userId is required for campaign {target.campaign.arn}.")
            scores = model.user_scores(self.history(target, p.get("userId")))
        top = _top_k(scores, k)
        scored = target.recipe.trained_by not in UNSCORED and target.recipe.name not in UNSCORED
        probabilities = _softmax(scores, top) if scored else None
        items = []
        for rank, index in enumerate(top):
            entry: dict[str, Any] = {"itemId": str(model.item_ids[index])}
            if probabilities is not None:
                entry["score"] = probabilities[rank]
            items.append(entry)
        return {"itemList": items, "recommendationId": _recommendation_id()}

    def get_personalized_ranking(self, p: dict[str, Any]) -> dict[str, Any]:
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
        probabilities = _softmax(scores, order)
        ranking: list[dict[str, Any]] = [
            {"itemId": known[i], "score": probabilities[rank]} for rank, i in enumerate(order)
        ]
        # Items the model never saw go last, without a score (as AWS does).
        ranking += [{"itemId": i} for i in unknown]
        return {"personalizedRanking": ranking, "recommendationId": _recommendation_id()}

    def get_action_recommendations(self, p: dict[str, Any]) -> dict[str, Any]:
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


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best finite scores, best first (NaN and -inf are never recommended)."""
    if np.isnan(scores).any():
        scores = np.where(np.isnan(scores), -np.inf, scores)
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, np.int64)
    candidates = np.argpartition(-scores, k - 1)[:k]
    candidates = candidates[np.argsort(-scores[candidates], kind="stable")]
    return candidates[np.isfinite(scores[candidates])]


def _softmax(scores: np.ndarray, chosen: np.ndarray) -> list[float]:
    """AWS scores: a softmax over all candidates, reported for the chosen ones."""
    if not len(chosen) or not len(scores):
        return []
    finite = np.isfinite(scores)
    peak = float(scores[chosen[0]]) if np.isfinite(scores[chosen[0]]) else float(np.max(scores[finite]))
    total = float(np.exp(np.where(finite, scores - peak, -np.inf), dtype=np.float64).sum())
    chosen_scores = np.exp(scores[chosen].astype(np.float64) - peak) / total
    return [float(value) for value in chosen_scores.tolist()]


def _recommendation_id() -> str:
    return "RID-" + os.urandom(16).hex()  # 36 characters; PutEvents accepts up to 40
