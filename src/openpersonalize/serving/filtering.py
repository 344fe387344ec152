"""A request's filter, resolved and applied: the mask stage of the serving pipeline.

Filters are parsed once per ARN (cached a second, like campaigns); the item, action and user
metadata they read come from `attributes.py`, the user's interactions from the model's typed
histories (its action events for an ActionID filter) and the live events.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from openpersonalize.errors import InvalidInput, ResourceNotFound
from openpersonalize.filters.evaluate import Catalogue, allowed
from openpersonalize.filters.syntax import Filter, parse
from openpersonalize.scope import Scope
from openpersonalize.serving.attributes import Attributes, AttributeStore, CatalogueView, PeopleView
from openpersonalize.serving.live import LiveEvents
from openpersonalize.serving.models import Deployed
from openpersonalize.store.metadata import MetadataStore, Resource

CACHE_SECONDS = 1.0


@dataclass(frozen=True)
class Scene:
    """What a filter is applied to: a model and its dataset group's datasets (by type)."""

    group_arn: str | None
    deployed: Deployed
    datasets: Mapping[str, Resource]

    @property
    def interactions_id(self) -> str | None:
        return self.dataset_id("INTERACTIONS")

    def dataset_id(self, kind: str) -> str | None:
        dataset = self.datasets.get(kind)
        return str(dataset.attrs["_id"]) if dataset is not None else None


class Actions(Protocol):
    """A Next-Best-Action model as serving reads it (recipes/next_best_action.py)."""

    value: np.ndarray  # per action

    @property
    def action_ids(self) -> list[str]: ...

    @property
    def action_index(self) -> dict[str, int]: ...

    def actions_of(self, user_id: str, event_types: frozenset[str] | None) -> np.ndarray: ...

    def own_counts(self, user_id: str | None) -> tuple[np.ndarray, np.ndarray]: ...

    def propensities(
        self, history: np.ndarray, taken: np.ndarray | None = None, exposed: np.ndarray | None = None
    ) -> np.ndarray: ...

    def available(self, user_id: str | None, now: float) -> np.ndarray: ...


@dataclass(frozen=True)
class ActionVocabulary:
    """A model's actions as the positions a filter mask is over."""

    version_arn: str
    item_index: Mapping[str, int]

    @property
    def n_items(self) -> int:
        return len(self.item_index)


class ActionPeopleView:
    """The request user's action interactions: the model's, then live ones (filters.evaluate.People)."""

    def __init__(
        self,
        actions: Actions,
        live: LiveEvents,
        dataset_id: str | None,
        trained_at: float,
        users: Attributes | None,
    ) -> None:
        self.actions, self.live, self.dataset_id = actions, live, dataset_id
        self.trained_at, self.users = trained_at, users

    def interacted(self, user_id: str, event_types: frozenset[str] | None) -> np.ndarray:
        trained = self.actions.actions_of(user_id, event_types)
        if self.dataset_id is None:
            return trained
        index = self.actions.action_index
        live = self.live.items_since(self.dataset_id, user_id, self.trained_at, event_types)
        known = [index[a] for a in live if a in index]
        return np.concatenate([trained, np.asarray(known, dtype=np.int64)])

    def user_row(self, user_id: str) -> Mapping[str, Any] | None:
        return None if self.users is None else self.users.row(user_id)


class RequestFilters:
    def __init__(self, store: MetadataStore, attributes: AttributeStore, live: LiveEvents) -> None:
        self.store = store
        self.attributes = attributes
        self.live = live
        self._parsed: dict[str, tuple[float, Resource, Filter]] = {}

    def mask(
        self,
        scene: Scene,
        filter_arn: str | None,
        values: Mapping[str, str],
        user_id: str | None,
        item_id: str | None,
        scope: Scope,
        action: str,
    ) -> np.ndarray | None:
        """The items the filter leaves, over the model's items (None without a filter)."""
        if not filter_arn:
            return None
        parsed = self._resolve(filter_arn, scene, scope, action)
        if "ActionID" in _targets(parsed):
            raise InvalidInput(
                f"Filter {filter_arn} selects actions (ActionID); use it with GetActionRecommendations."
            )
        items = scene.datasets.get("ITEMS")
        users = scene.datasets.get("USERS") if _reads_users(parsed) else None
        catalogue = CatalogueView(self.attributes.of(items) if items else None, scene.deployed)
        people = PeopleView(
            scene.deployed, self.live, scene.interactions_id, self.attributes.of(users) if users else None
        )
        return allowed(parsed, values, catalogue, people, user_id, item_id)

    def action_mask(
        self,
        scene: Scene,
        actions: Actions,
        filter_arn: str,
        values: Mapping[str, str],
        user_id: str | None,
        scope: Scope,
    ) -> np.ndarray:
        """The actions an ActionID filter leaves, over ``actions.action_index``."""
        parsed = self._resolve(filter_arn, scene, scope, "GetActionRecommendations")
        if _targets(parsed) != {"ActionID"}:
            raise InvalidInput(
                f"Filter {filter_arn} selects items or users; GetActionRecommendations takes a filter "
                "on ActionID."
            )
        rows, users = scene.datasets.get("ACTIONS"), scene.datasets.get("USERS")
        deployed = scene.deployed
        vocabulary = ActionVocabulary(deployed.version_arn + "#actions", actions.action_index)
        catalogue = CatalogueView(self.attributes.of(rows) if rows else None, vocabulary)
        people = ActionPeopleView(
            actions,
            self.live,
            scene.dataset_id("ACTION_INTERACTIONS"),
            deployed.trained_at,
            self.attributes.of(users) if users is not None and _reads_users(parsed) else None,
        )
        return allowed(parsed, values, catalogue, people, user_id, None)

    def user_mask(
        self, scene: Scene, users: Catalogue, filter_arn: str, values: Mapping[str, str], scope: Scope
    ) -> np.ndarray:
        """The users a UserID filter leaves, over ``users`` (a segment model's users)."""
        parsed = self._resolve(filter_arn, scene, scope, "CreateBatchSegmentJob")
        if _targets(parsed) != {"UserID"}:
            raise InvalidInput(
                f"Filter {filter_arn} selects items or actions; a batch segment job takes a filter on UserID."
            )
        return allowed(parsed, values, users, _NO_USER, None, None)

    def ready(self, filter_arn: str, scene: Scene) -> bool:
        """Whether everything the filter reads is at hand (then a request may run inline)."""
        hit = self._parsed.get(filter_arn)
        if hit is None or time.monotonic() - hit[0] >= CACHE_SECONDS:
            return False
        catalogue = "ACTIONS" if "ActionID" in _targets(hit[2]) else "ITEMS"
        wanted = [catalogue] + (["USERS"] if _reads_users(hit[2]) else [])
        return all(
            self.attributes.ready(str(scene.datasets[kind].attrs["_id"]))
            for kind in wanted
            if kind in scene.datasets
        )

    def invalidate(self) -> None:
        self._parsed.clear()

    def _resolve(self, filter_arn: str, scene: Scene, scope: Scope, action: str) -> Filter:
        scope.check(filter_arn, action)
        now = time.monotonic()
        hit = self._parsed.get(filter_arn)
        if hit is None or now - hit[0] >= CACHE_SECONDS:
            resource = self.store.get(filter_arn)
            if resource is None or resource.kind != "filter":
                raise ResourceNotFound(f"Resource Arn {filter_arn} does not exist.")
            hit = self._parsed[filter_arn] = (now, resource, parse(resource.attrs["filterExpression"]))
        _, resource, parsed = hit
        if resource.status != "ACTIVE":
            raise InvalidInput(f"Filter {filter_arn} is not ACTIVE (status: {resource.status}).")
        if resource.dataset_group_arn != scene.group_arn:
            raise InvalidInput(
                f"Filter {filter_arn} belongs to dataset group {resource.dataset_group_arn}, not to the "
                f"campaign's ({scene.group_arn})."
            )
        return parsed


class _NoUser:
    """A segment has no request user: IF clauses and per-user Interactions conditions see none."""

    def interacted(self, user_id: str, event_types: frozenset[str] | None) -> np.ndarray:
        return np.empty(0, np.int64)

    def user_row(self, user_id: str) -> Mapping[str, Any] | None:
        return None


_NO_USER = _NoUser()


def _targets(parsed: Filter) -> set[str]:
    """What the filter's expressions select: ItemID, UserID and/or ActionID."""
    return {expression.target for expression in parsed.expressions}


def _reads_users(parsed: Filter) -> bool:
    return any(expression.user_conditions for expression in parsed.expressions)
