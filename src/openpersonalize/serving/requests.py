"""Typed runtime requests and answers: what every caller of the serving pipeline speaks.

The AWS runtime API (api/runtime_wire.py), and later recommenders, batch jobs and the REST
endpoint, build these; wire dicts never reach serving.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_ACTIONS, MAX_ACTIONS = 5, 100
DEFAULT_RESULTS = 25


@dataclass(frozen=True)
class Promotion:
    name: str
    percent: int  # share of the list given to promoted items
    filter_arn: str | None = None
    filter_values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Recommend:
    """GetRecommendations: items for a user (or related to an item)."""

    campaign_arn: str | None = None
    recommender_arn: str | None = None
    user_id: str | None = None
    item_id: str | None = None
    num_results: int = DEFAULT_RESULTS
    filter_arn: str | None = None
    filter_values: Mapping[str, str] = field(default_factory=dict)
    promotions: tuple[Promotion, ...] = ()
    context: Mapping[str, str] = field(default_factory=dict)
    metadata_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Act:
    """GetActionRecommendations: the actions a user is most likely to take."""

    campaign_arn: str
    user_id: str | None = None
    num_results: int = DEFAULT_ACTIONS
    filter_arn: str | None = None
    filter_values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rank:
    """GetPersonalizedRanking: a user's order of the given items."""

    campaign_arn: str
    user_id: str
    input_list: tuple[str, ...]
    filter_arn: str | None = None
    filter_values: Mapping[str, str] = field(default_factory=dict)
    context: Mapping[str, str] = field(default_factory=dict)
    metadata_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Segment:
    """One query of a batch segment job: the users most likely to interact with an item, or with
    items of some attribute values."""

    item_id: str | None = None
    item_attributes: str | None = None
    num_results: int = DEFAULT_RESULTS
    filter_arn: str | None = None
    filter_values: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Scored:
    """One item of an answer."""

    item_id: str
    score: float | None = None  # AWS leaves it out for unscored recipes and unknown items
    promotion_name: str | None = None
    metadata: Mapping[str, str] | None = None
    reason: tuple[str, ...] | None = None  # v2 recipes: why an item is there (spec §15)


@dataclass(frozen=True)
class Answer:
    items: list[Scored]
    recommendation_id: str
