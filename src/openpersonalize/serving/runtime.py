"""personalize-runtime: GetRecommendations, GetPersonalizedRanking and GetActionRecommendations
over campaigns and recommenders (spec §15); batch jobs call the same pipeline per line.

Every request runs one pipeline: resolve the campaign or recommender to its deployed model
(targets.py) → candidate scores (the user's history, or the item) → the mask of what the request
may get → promotions / exploration → top k → the answer.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from openpersonalize.data.fields import ACTION_EXPOSED, ACTION_TAKEN
from openpersonalize.errors import InvalidInput
from openpersonalize.recipes.exploration import Exploration
from openpersonalize.recipes.use_cases import USE_CASES
from openpersonalize.scope import Scope
from openpersonalize.serving import segments
from openpersonalize.serving.attributes import AttributeStore, CatalogueView
from openpersonalize.serving.candidates import Candidates
from openpersonalize.serving.decorations import Decorations
from openpersonalize.serving.exploration import explore
from openpersonalize.serving.filtering import Actions, RequestFilters
from openpersonalize.serving.live import LiveEvents
from openpersonalize.serving.models import ModelCache
from openpersonalize.serving.promotions import Pick, pick, pick_with_promotion
from openpersonalize.serving.requests import MAX_ACTIONS, Act, Answer, Rank, Recommend, Scored, Segment
from openpersonalize.serving.scoring import softmax_at
from openpersonalize.serving.served import Served
from openpersonalize.serving.targets import CACHE_SECONDS, Target, Targets
from openpersonalize.store.metadata import MetadataStore

TAKEN, EXPOSED = frozenset({ACTION_TAKEN}), frozenset(ACTION_EXPOSED)  # as live events keep them
MAX_RESULTS = 500
MAX_WITH_METADATA = 50
MAX_PROMOTIONS = 1


class Runtime:
    def __init__(
        self,
        store: MetadataStore,
        models: ModelCache,
        live: LiveEvents,
        attributes: AttributeStore,
        served: Served | None = None,
    ) -> None:
        self.store = store
        self.models = models
        self.live = live
        self.attributes = attributes
        self.filters = RequestFilters(store, attributes, live)
        self.decorations = Decorations(attributes)
        self.served = served if served is not None else Served()
        self.targets = Targets(store, models)
        self._random = np.random.default_rng()

    # -- operations -------------------------------------------------------------------------
    def recommend(self, request: Recommend, scope: Scope) -> Answer:
        if request.recommender_arn:
            if request.campaign_arn:
                raise InvalidInput("Give either campaignArn or recommenderArn, not both.")
            scope.check(request.recommender_arn, "GetRecommendations")
            _check_shape(request)
            target = self.targets.recommender(request.recommender_arn)
            use_case = USE_CASES[target.recipe.name]
            if use_case.needs_user and not request.user_id:
                raise InvalidInput(f"userId is required for recommender {target.arn} ({target.recipe.name}).")
            if use_case.needs_item and not request.item_id:
                raise InvalidInput(f"itemId is required for recommender {target.arn} ({target.recipe.name}).")
            return self.recommend_for(target, request, scope)
        if not request.campaign_arn:
            raise InvalidInput("campaignArn (or recommenderArn) is required.")
        scope.check(request.campaign_arn, "GetRecommendations")
        _check_shape(request)  # before the campaign is looked up, as AWS answers
        return self.recommend_for(self.targets.campaign(request.campaign_arn), request, scope)

    def recommend_for(self, target: Target, request: Recommend, scope: Scope) -> Answer:
        """GetRecommendations' pipeline for a resolved target (batch inference calls it per line)."""
        k = _check_shape(request)
        columns = self.decorations.columns(target, request.metadata_columns)
        kind = target.recipe.recipe_type
        if kind in ("PERSONALIZED_RANKING", "PERSONALIZED_ACTIONS", "USER_SEGMENTATION"):
            raise InvalidInput(
                f"{target.label} {target.arn} uses a {kind} recipe; call "
                + (
                    "GetPersonalizedRanking."
                    if kind == "PERSONALIZED_RANKING"
                    else "GetActionRecommendations."
                    if kind == "PERSONALIZED_ACTIONS"
                    else "CreateBatchSegmentJob."
                )
            )
        if kind == "RELATED_ITEMS" and not request.item_id:
            raise InvalidInput(
                f"itemId is required for {target.label.lower()} {target.arn} (a RELATED_ITEMS recipe)."
            )
        if kind != "RELATED_ITEMS" and not request.user_id and target.recipe.needs_user:
            raise InvalidInput(f"userId is required for {target.label.lower()} {target.arn}.")
        mask = functools.partial(
            self.filters.mask,
            target.scene,
            user_id=request.user_id,
            item_id=request.item_id,
            scope=scope,
            action="GetRecommendations",
        )
        self._sync_cold_items(target)
        allowed = mask(request.filter_arn, request.filter_values)
        if target.excludes and request.user_id:
            allowed = self._without_own(target, request.user_id, allowed)
        if kind == "RELATED_ITEMS":
            influence = target.config.get("rankingInfluence")
            candidates = Candidates.related_to(target.deployed, str(request.item_id), influence)
        elif hasattr(target.deployed.model, "trend_scores"):
            candidates = Candidates(target.deployed, dense=target.deployed.trends(self._events_after(target)))
        else:
            candidates = Candidates.for_history(
                target.deployed, self.history(target, request.user_id)
            ).in_context(request.context)
        if request.promotions:
            promotion = request.promotions[0]
            if not promotion.filter_arn:
                raise InvalidInput(f"promotions[{promotion.name}].filterArn is required.")
            promoted = mask(promotion.filter_arn, promotion.filter_values)
            assert promoted is not None
            if target.excludes and request.user_id:  # a use case's exclusions hold for promotions too
                promoted = self._without_own(target, request.user_id, promoted)
            picks = pick_with_promotion(candidates, k, allowed, promoted, promotion.percent, self._random)
        else:
            picks = pick(candidates, k, allowed)
        if target.recipe.explores and target.deployed.cold_items is not None:
            config = target.config.get("itemExplorationConfig")
            picks = explore(
                picks, candidates, k, allowed, Exploration.of(config), self._latest_interaction(target),
                target.deployed.live_counts(self._events_after(target)), self._random,
            )  # fmt: skip
        item_ids = target.deployed.item_ids
        names = [str(item_ids[p.item]) for p in picks]
        metadata = self.decorations.metadata(target.scene, names, columns)
        scored, promotion_name = (
            target.recipe.scored,
            request.promotions[0].name if request.promotions else None,
        )
        items = [
            Scored(
                name,
                p.score if scored else None,
                promotion_name if p.promoted else None,
                metadata[rank] if metadata is not None else None,
                _reason(p) if target.recipe.reasons else None,
            )
            for rank, (name, p) in enumerate(zip(names, picks, strict=True))
        ]
        return self._answer(target, items)

    def rank(self, request: Rank, scope: Scope) -> Answer:
        scope.check(request.campaign_arn, "GetPersonalizedRanking")
        return self.rank_for(self.targets.campaign(request.campaign_arn), request, scope)

    def rank_for(self, target: Target, request: Rank, scope: Scope) -> Answer:
        """GetPersonalizedRanking's pipeline for a resolved target (batch inference calls it per line)."""
        if target.recipe.recipe_type != "PERSONALIZED_RANKING":
            raise InvalidInput(
                f"{target.label} {target.arn} does not use a PERSONALIZED_RANKING recipe; call GetRecommendations."
            )
        columns = self.decorations.columns(target, request.metadata_columns)
        inputs = list(dict.fromkeys(request.input_list))
        limit = MAX_WITH_METADATA if columns else MAX_RESULTS
        if len(inputs) > limit:
            raise InvalidInput(
                f"inputList can hold at most {limit} items"
                + (" when metadataColumns is given" if columns else "")
                + f"; got {len(inputs)}."
            )
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
        every = deployed.model.user_scores(self.history(target, request.user_id))
        scores = deployed.in_context(every, request.context)[deployed.indices(trained)]
        order = np.argsort(-scores, kind="stable")
        probabilities = softmax_at(scores, order)
        names = [trained[i] for i in order] + untrained
        metadata = self.decorations.metadata(target.scene, names, columns)
        # Items the model did not learn go last, without a score (as AWS does).
        ranking = [
            Scored(
                name,
                probabilities[rank] if rank < len(probabilities) else None,
                metadata=metadata[rank] if metadata is not None else None,
            )
            for rank, name in enumerate(names)
        ]
        return self._answer(target, ranking)

    def act(self, request: Act, scope: Scope) -> Answer:
        if not request.campaign_arn:
            raise InvalidInput("campaignArn is required.")
        scope.check(request.campaign_arn, "GetActionRecommendations")
        if not 0 <= request.num_results <= MAX_ACTIONS:
            raise InvalidInput(f"numResults must be at most {MAX_ACTIONS}; got {request.num_results}.")
        target = self.targets.campaign(request.campaign_arn)
        if target.recipe.recipe_type != "PERSONALIZED_ACTIONS":
            raise InvalidInput(
                f"{target.label} {target.arn} does not use a PERSONALIZED_ACTIONS recipe; "
                "call GetRecommendations or GetPersonalizedRanking."
            )
        model = cast(Actions, target.deployed.model)  # a PERSONALIZED_ACTIONS recipe's model
        taken, exposed = self._action_record(model, target, request.user_id)
        propensities = model.propensities(self.history(target, request.user_id), taken, exposed)
        available = model.available(request.user_id, time.time())
        if request.filter_arn:
            available &= self.filters.action_mask(
                target.scene, model, request.filter_arn, request.filter_values, request.user_id, scope
            )
        # Highest propensity first; equal ones go to the higher VALUE (AWS).
        order = [i for i in np.lexsort((-model.value, -propensities)).tolist() if available[i]]
        ids = model.action_ids
        chosen = order[: request.num_results]
        return self._answer(target, [Scored(ids[i], float(propensities[i])) for i in chosen])

    def segment_for(self, target: Target, request: Segment, scope: Scope) -> list[str]:
        """A batch segment query: the users most likely to interact with the item (or items)."""
        if target.recipe.recipe_type != "USER_SEGMENTATION":
            raise InvalidInput(f"{target.label} {target.arn} does not use a USER_SEGMENTATION recipe.")
        deployed, scene = target.deployed, target.scene
        if request.item_attributes is not None:
            items_dataset = scene.datasets.get("ITEMS")
            if items_dataset is None:
                raise InvalidInput("itemAttributes needs an Items dataset in the dataset group; it has none.")
            attributes = self.attributes.of(items_dataset)
            items = segments.items_with(CatalogueView(attributes, deployed), attributes.columns,
                                        request.item_attributes)  # fmt: skip
        else:
            index = deployed.item_index.get(str(request.item_id))
            if index is None or not deployed.trained_on(index):
                raise InvalidInput(f"Item {request.item_id} was not in the training data of this model.")
            items = np.array([index])
        allowed = None
        if request.filter_arn:
            users_dataset = scene.datasets.get("USERS")
            vocabulary = segments.vocabulary_of(deployed)
            users = segments.UserCatalogueView(
                self.attributes.of(users_dataset) if users_dataset else None, vocabulary, deployed
            )
            allowed = self.filters.user_mask(scene, users, request.filter_arn, request.filter_values, scope)
        return segments.top_users(deployed, items, request.num_results, allowed)

    def is_ready(self, campaign_arn: str | None, filter_arns: list[str], metadata: bool = False) -> bool:
        """True when the campaign is resolved, its model loaded and what its filters and metadata
        read at hand: cheap enough to answer inline."""
        hit = self.targets.cached(campaign_arn)
        if hit is None or time.monotonic() - hit[0] >= CACHE_SECONDS:
            return False
        scene = hit[1].scene
        items = scene.datasets.get("ITEMS")
        if metadata and not self.attributes.ready_for(items):
            return False
        cold = scene.deployed.cold_items
        if cold is not None and items is not None and cold.behind(self.attributes.generation(items)):
            return False  # new Items rows to embed first: not on the event loop
        return all(self.filters.ready(arn, scene) for arn in filter_arns)

    def observe(self, records: list[dict[str, Any]]) -> None:
        """Acknowledged records, this process's or another's: live histories and item/user metadata."""
        self.live.add(records)
        self.attributes.observe(records)

    def invalidate(self) -> None:
        """Forget resolved campaigns and filters (after control-plane changes in this process)."""
        self.targets.clear()
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

    def _action_record(
        self, model: Actions, target: Target, user: str | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The user's TAKEN and NOT_TAKEN / VIEWED events per action: training's, then live ones."""
        taken, exposed = model.own_counts(user)
        dataset_id = target.scene.dataset_id("ACTION_INTERACTIONS")
        if user and dataset_id is not None:
            index = model.action_index
            after = target.deployed.trained_at
            for counts, kinds in ((taken, TAKEN), (exposed, EXPOSED)):
                for action in self.live.items_since(dataset_id, user, after, kinds):
                    if action in index:
                        counts[index[action]] += 1
        return taken, exposed

    def _sync_cold_items(self, target: Target) -> None:
        """Take in Items rows written since the last request: new items are recommendable at once."""
        deployed, items = target.deployed, target.scene.datasets.get("ITEMS")
        if deployed.cold_items is None or items is None:
            return
        attributes = self.attributes.of(items)
        deployed.grow(
            deployed.cold_items.sync(
                attributes.generation, attributes.keys, attributes.row, deployed.item_index
            )
        )

    def _latest_interaction(self, target: Target) -> float:
        """The newest interaction's TIMESTAMP, training data or live (exploration's age reference)."""
        dataset_id, cold = target.scene.interactions_id, target.deployed.cold_items
        trained = cold.latest_interaction if cold is not None else 0.0
        return max(trained, self.live.latest(dataset_id) if dataset_id else 0.0)

    def _events_after(self, target: Target) -> Callable[[], list[tuple[int, str]]]:
        dataset_id, trained_at = target.scene.interactions_id, target.deployed.trained_at
        return lambda: self.live.events_since(dataset_id, trained_at) if dataset_id else []

    def _answer(self, target: Target, items: list[Scored]) -> Answer:
        answer = Answer(items, _recommendation_id())
        if target.record_served:
            self.served.record(answer.recommendation_id, target.arn, [i.item_id for i in items])
        return answer

    def _without_own(self, target: Target, user: str, allowed: np.ndarray | None) -> np.ndarray:
        """``allowed`` less the items the user already bought / watched (the use case's rule)."""
        deployed = target.deployed
        result = np.ones(deployed.n_items, dtype=bool) if allowed is None else allowed.copy()
        if deployed.typed_histories is not None:
            result[deployed.typed_histories.items_of(user, target.excludes)] = False
        dataset_id = target.scene.interactions_id
        if dataset_id is not None:
            live = self.live.items_since(dataset_id, user, deployed.trained_at, target.excludes)
            result[deployed.indices(live)] = False
        return result


def _check_shape(request: Recommend) -> int:
    """The request's numResults, after the checks that need no campaign."""
    if len(request.promotions) > MAX_PROMOTIONS:
        raise InvalidInput(f"promotions can hold at most {MAX_PROMOTIONS} promotion.")
    return _num_results(request.num_results, bool(request.metadata_columns))


def _num_results(k: int, with_metadata: bool) -> int:
    limit = MAX_WITH_METADATA if with_metadata else MAX_RESULTS
    if k > limit:
        raise InvalidInput(
            f"numResults must be at most {limit}"
            + (" when metadataColumns is given" if with_metadata else "")
            + f"; got {k}."
        )
    return k


def _reason(p: Pick) -> tuple[str, ...] | None:
    if p.promoted:
        return ("Promoted item",)
    return ("Exploration",) if p.explored else None


def _recommendation_id() -> str:
    return "RID-" + os.urandom(16).hex()  # 36 characters; PutEvents accepts up to 40
