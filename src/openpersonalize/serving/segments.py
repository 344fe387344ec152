"""User segments (batch segment jobs, spec §16): the users most likely to interact with an item,
or with the items of given attribute values, by an aws-item-affinity / aws-item-attribute-affinity
model; a UserID filter narrows them (Users columns, and Interactions event types).

Item-attribute queries are ``ITEMS.<column> = "<value>"`` (or a number) joined by AND, matched
against the Items dataset as filters match it (a categorical "a|b" value matches a and b).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from openpersonalize.errors import InvalidInput
from openpersonalize.serving.attributes import Attributes, CatalogueView
from openpersonalize.serving.models import Deployed

_CONDITION = re.compile(
    r'\s*ITEMS\.([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|(-?\d+(?:\.\d+)?))\s*', re.IGNORECASE
)
_AND = re.compile(r"AND\b", re.IGNORECASE)


class Segmenting(Protocol):
    """An affinity model as serving reads it (recipes/affinity.py)."""

    user_ids: np.ndarray

    def users_for(self, items: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class UserVocabulary:
    """A model's users as the positions a UserID filter's mask is over."""

    version_arn: str
    item_index: Mapping[str, int]

    @property
    def n_items(self) -> int:
        return len(self.item_index)


class UserCatalogueView(CatalogueView):
    """Users attributes over a model's users, and who has which events (filters.evaluate.UserCatalogue)."""

    def __init__(self, users: Attributes | None, vocabulary: UserVocabulary, deployed: Deployed) -> None:
        super().__init__(users, vocabulary)
        self.index = vocabulary.item_index
        self.histories = deployed.typed_histories

    def with_events(self, event_types: frozenset[str] | None, *, other_than: bool) -> np.ndarray:
        mask = np.zeros(self.n_items, dtype=bool)
        if self.histories is not None:
            found = [self.index[u] for u in self.histories.users_with(event_types, other_than=other_than)
                     if u in self.index]  # fmt: skip
            mask[found] = True
        return mask


def vocabulary_of(deployed: Deployed) -> UserVocabulary:
    users = _segmenting(deployed).user_ids
    return UserVocabulary(deployed.version_arn + "#users", {u: i for i, u in enumerate(users.tolist())})


def top_users(deployed: Deployed, items: np.ndarray, k: int, allowed: np.ndarray | None) -> list[str]:
    """The ``k`` users with the highest affinity for ``items`` together, best first."""
    model = _segmenting(deployed)
    scores = np.asarray(model.users_for(items), dtype=np.float64)
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    candidates = np.flatnonzero(np.isfinite(scores))
    if len(candidates) > k:
        candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
    order = candidates[np.lexsort((candidates, -scores[candidates]))]
    return [str(u) for u in model.user_ids[order].tolist()]


def parse_item_attributes(text: str) -> list[tuple[str, str, bool]]:
    """``ITEMS.genres = "Comedy" AND ITEMS.year = 1999`` -> [(column, value, is_text), ...]."""
    conditions, position = [], 0
    while True:
        found = _CONDITION.match(text, position)
        if found is None:
            raise InvalidInput(
                f'itemAttributes: expected ITEMS.<column> = "<value>" at character {position + 1} of {text!r}.'
            )
        quoted = found.group(2) is not None
        value = found.group(2).replace('\\"', '"') if quoted else found.group(3)
        conditions.append((found.group(1), value, quoted))
        position = found.end()
        if position == len(text):
            return conditions
        joined = _AND.match(text, position)
        if joined is None:
            raise InvalidInput(
                f"itemAttributes: expected AND at character {position + 1} of {text!r} (only AND joins)."
            )
        position = joined.end()


def items_with(catalogue: CatalogueView, columns: tuple[str, ...], text: str) -> np.ndarray:
    """Model indices of the items matching every condition of an itemAttributes query."""
    by_name = {c.upper(): c for c in columns}
    mask = np.ones(catalogue.n_items, dtype=bool)
    for column, value, is_text in parse_item_attributes(text):
        name = by_name.get(column.upper())
        if name is None:
            raise InvalidInput(f"itemAttributes: ITEMS.{column} is not a column of the Items schema.")
        if is_text:
            mask &= catalogue.matching(name, frozenset([value]))
        else:
            with np.errstate(invalid="ignore"):
                mask &= catalogue.numbers(name) == float(value)
    return np.flatnonzero(mask)


def _segmenting(deployed: Deployed) -> Segmenting:
    model: Any = deployed.model
    if not hasattr(model, "users_for"):
        raise InvalidInput(f"{deployed.version_arn} is not a USER_SEGMENTATION model.")
    return model  # type: ignore[no-any-return]
