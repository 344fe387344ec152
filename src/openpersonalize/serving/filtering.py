"""A request's filter, resolved and applied: the mask stage of the serving pipeline.

Filters are parsed once per ARN (cached a second, like campaigns); the item and user metadata
they read come from `attributes.py`, the user's interactions from the model's typed histories
and the live events.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from openpersonalize.errors import InvalidInput, ResourceNotFound
from openpersonalize.filters.evaluate import allowed
from openpersonalize.filters.syntax import Filter, parse
from openpersonalize.scope import Scope
from openpersonalize.serving.attributes import AttributeStore, CatalogueView, PeopleView
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
        dataset = self.datasets.get("INTERACTIONS")
        return str(dataset.attrs["_id"]) if dataset is not None else None


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
        items = scene.datasets.get("ITEMS")
        users = scene.datasets.get("USERS") if _reads_users(parsed) else None
        catalogue = CatalogueView(self.attributes.of(items) if items else None, scene.deployed)
        people = PeopleView(
            scene.deployed, self.live, scene.interactions_id, self.attributes.of(users) if users else None
        )
        return allowed(parsed, values, catalogue, people, user_id, item_id)

    def ready(self, filter_arn: str, scene: Scene) -> bool:
        """Whether everything the filter reads is at hand (then a request may run inline)."""
        hit = self._parsed.get(filter_arn)
        if hit is None or time.monotonic() - hit[0] >= CACHE_SECONDS:
            return False
        wanted = ["ITEMS"] + (["USERS"] if _reads_users(hit[2]) else [])
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


def _reads_users(parsed: Filter) -> bool:
    return any(expression.user_conditions for expression in parsed.expressions)
