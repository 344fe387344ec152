"""What each domain use case (recommender, spec §8) trains on and how it answers.

Pure data, next to the catalogue: the control plane checks requests against it, training picks
its events, serving its required members and the items it leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UseCase:
    training_events: tuple[str, ...] = ()  # event types it trains on (any case); () = every event
    excludes: tuple[str, ...] = ()  # the user's items of these event types are not recommended again
    needs_user: bool = True  # GetRecommendations needs a userId
    needs_item: bool = False  # ... and an itemId
    needs_items_dataset: bool = False
    explores: bool = False  # itemExplorationConfig applies


USE_CASES: dict[str, UseCase] = {
    "aws-ecomm-popular-items-by-views": UseCase(("view",)),
    "aws-ecomm-popular-items-by-purchases": UseCase(("purchase",)),
    "aws-ecomm-frequently-bought-together": UseCase(("purchase",), needs_user=False, needs_item=True),
    "aws-ecomm-customers-who-viewed-x-also-viewed": UseCase(("view",), ("purchase",), needs_item=True),
    "aws-ecomm-recommended-for-you": UseCase((), ("purchase",), explores=True),
    "aws-vod-because-you-watched-x": UseCase(("watch",), ("watch",), needs_item=True),
    "aws-vod-more-like-x": UseCase((), ("watch",), needs_item=True, needs_items_dataset=True),
    "aws-vod-most-popular": UseCase(("watch",)),
    "aws-vod-trending-now": UseCase(needs_user=False),
    "aws-vod-top-picks": UseCase((), ("watch",), needs_items_dataset=True, explores=True),
}
