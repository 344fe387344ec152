"""A filter applied to one request: the mask of the catalogue items it leaves (spec §9.2).

- INCLUDE keeps the items an expression matches, EXCLUDE removes them; several expressions
  joined by | give (union of the includes, or everything when there is none) minus the union
  of the excludes.
- Within an expression AND binds tighter than OR.
- Items conditions read the items' metadata; a multi-valued categorical value ("a|b") matches
  when any of its values does. Interactions conditions match the items the user interacted with
  by those event types (case-insensitive; * is any type); Action_Interactions ones the actions.
  In a UserID filter (batch segments) they match the users who have such events.
- An IF clause reads the request user's metadata: when it does not hold, the expression is
  skipped. An EXCLUDE expression whose placeholders have no value is skipped too; an INCLUDE
  one is an error.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from typing import Protocol, cast

import numpy as np

from openpersonalize.data.fields import action_event_type
from openpersonalize.errors import InvalidInput
from openpersonalize.filters.syntax import Condition, CurrentItem, Expression, Filter, Param


class Catalogue(Protocol):
    """What a filter may read of the items a model can recommend (by model item index)."""

    n_items: int

    def matching(self, column: str, values: frozenset[str]) -> np.ndarray:
        """Mask of the items whose value (or any categorical value) is one of ``values``."""
        ...

    def numbers(self, column: str) -> np.ndarray:
        """The column as float64 per model item (NaN where unknown)."""
        ...

    def item_row(self, item_id: str) -> Mapping[str, object] | None: ...


class UserCatalogue(Catalogue, Protocol):
    """The users a UserID filter selects among (batch segment jobs)."""

    def with_events(self, event_types: frozenset[str] | None, *, other_than: bool) -> np.ndarray:
        """Mask of the users with an event of these types (or, ``other_than``, of another type)."""
        ...


class People(Protocol):
    """What a filter may read of the request's user."""

    def interacted(self, user_id: str, event_types: frozenset[str] | None) -> np.ndarray:
        """Model indices of items the user interacted with by these event types (lower case;
        None = any)."""
        ...

    def user_row(self, user_id: str) -> Mapping[str, object] | None: ...


def allowed(
    parsed: Filter,
    values: Mapping[str, str],
    catalogue: Catalogue,
    people: People,
    user_id: str | None,
    item_id: str | None,
) -> np.ndarray:
    """The items the filter leaves, as a boolean mask over the model's items."""
    includes: list[np.ndarray] = []
    excludes: list[np.ndarray] = []
    for expression in parsed.expressions:
        missing = expression.params() - set(values)
        if missing:
            if expression.action == "EXCLUDE":
                continue  # spec §9.2: an EXCLUDE without its values is skipped
            raise InvalidInput(
                f"filterValues has no value for {', '.join('$' + m for m in sorted(missing))}, "
                "which the filter's INCLUDE expression needs."
            )
        if expression.user_conditions and not _user_holds(
            expression.user_conditions, values, people, user_id
        ):
            continue
        mask = _expression_mask(expression, values, catalogue, people, user_id, item_id)
        (includes if expression.action == "INCLUDE" else excludes).append(mask)
    # A copy: it is changed in place below, and a mask may be the catalogue's cached one.
    result = _union(includes).copy() if includes else np.ones(catalogue.n_items, dtype=bool)
    for mask in excludes:
        result &= ~mask
    return np.asarray(result, dtype=bool)


def _expression_mask(
    expression: Expression,
    values: Mapping[str, str],
    catalogue: Catalogue,
    people: People,
    user_id: str | None,
    item_id: str | None,
) -> np.ndarray:
    masks = [
        _condition_mask(c, values, catalogue, people, user_id, item_id, expression.target)
        for c in expression.conditions
    ]
    # AND binds tighter than OR: a OR b AND c = a OR (b AND c).
    terms = [masks[0]]
    for join, mask in zip(expression.joins, masks[1:], strict=True):
        if join == "AND":
            terms[-1] = terms[-1] & mask
        else:
            terms.append(mask)
    return _union(terms)


def _union(masks: Sequence[np.ndarray]) -> np.ndarray:
    """The masks or'ed together; a single one is returned as it is (np.logical_or.reduce over a
    list would stack them first: a copy of the catalogue per mask, per request)."""
    result = masks[0]
    for mask in masks[1:]:
        result = result | mask
    return result


def _condition_mask(
    condition: Condition,
    values: Mapping[str, str],
    catalogue: Catalogue,
    people: People,
    user_id: str | None,
    item_id: str | None,
    selects: str = "ItemID",
) -> np.ndarray:
    n = catalogue.n_items
    column = condition.field.column
    if condition.field.dataset in ("Interactions", "Action_Interactions"):
        wanted = _strings(condition.values, values)
        # Action event types match "Not Taken" to NOT_TAKEN; item event types only by case.
        same = action_event_type if condition.field.dataset == "Action_Interactions" else _item_event_type
        types = None if "*" in wanted else frozenset(same(v) for v in wanted)
        if selects == "UserID" and hasattr(catalogue, "with_events"):  # over users: who has such events
            return cast(UserCatalogue, catalogue).with_events(types, other_than=condition.op != "IN")
        mask = np.zeros(n, dtype=bool)
        if user_id:
            mask[people.interacted(user_id, types)] = True
        return mask if condition.op == "IN" else _not_in_interactions(mask, people, user_id, types, n)
    if condition.op in ("IN", "NOT IN"):
        mask = catalogue.matching(column, frozenset(_strings(condition.values, values)))
        return mask if condition.op == "IN" else ~mask
    if condition.op == "IN CurrentItem":
        assert isinstance(condition.operand, CurrentItem)
        current = _current_item(catalogue, item_id, condition.operand.column)
        if current is None:
            return np.zeros(n, dtype=bool)
        return catalogue.matching(column, frozenset(str(current).split("|")))
    numbers = catalogue.numbers(column)
    target = _number(condition.operand, values, catalogue, item_id)
    if target is None:
        return np.zeros(n, dtype=bool)
    with np.errstate(invalid="ignore"):
        return _compare(numbers, condition.op, target)


def _item_event_type(value: str) -> str:
    return value.strip().lower()


def _not_in_interactions(
    matched: np.ndarray, people: People, user_id: str | None, types: frozenset[str] | None, n: int
) -> np.ndarray:
    """Items the user interacted with by some other event type."""
    every = np.zeros(n, dtype=bool)
    if user_id:
        every[people.interacted(user_id, None)] = True
    return every & ~matched


def _user_holds(
    conditions: Sequence[Condition], values: Mapping[str, str], people: People, user_id: str | None
) -> bool:
    row = people.user_row(user_id) if user_id else None
    if row is None:
        return False
    for condition in conditions:
        value = row.get(condition.field.column)
        if value is None:
            return False
        if condition.op == "IN":
            if not set(str(value).split("|")) & set(_strings(condition.values, values)):
                return False
        else:
            target = _number(condition.operand, values, None, None)
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return False
            if target is None or not bool(_compare(np.array([number]), condition.op, target)[0]):
                return False
    return True


def _compare(numbers: np.ndarray, op: str, target: float) -> np.ndarray:
    return {
        "=": numbers == target,
        "!=": numbers != target,
        "<": numbers < target,
        "<=": numbers <= target,
        ">": numbers > target,
        ">=": numbers >= target,
    }[op] & ~np.isnan(numbers)


def _strings(declared: Sequence[object], values: Mapping[str, str]) -> list[str]:
    out: list[str] = []
    for value in declared:
        out += parse_values(values[value.name]) if isinstance(value, Param) else [str(value)]
    return out


def _number(
    operand: object, values: Mapping[str, str], catalogue: Catalogue | None, item_id: str | None
) -> float | None:
    if isinstance(operand, float | int):
        return float(operand)
    if isinstance(operand, Param):
        raw = parse_values(values[operand.name])
        try:
            return float(raw[0]) if raw else None
        except ValueError:
            raise InvalidInput(
                f"filterValues ${operand.name} must be a number for this comparison; "
                f"got {_shown(values[operand.name])}."
            ) from None
    if isinstance(operand, CurrentItem) and catalogue is not None:
        current = _current_item(catalogue, item_id, operand.column)
        try:
            return float(current) if current is not None else None  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
    return None


def _current_item(catalogue: Catalogue, item_id: str | None, column: str) -> object | None:
    if not item_id:
        raise InvalidInput("This filter uses CurrentItem: give the request an itemId.")
    row = catalogue.item_row(item_id)
    return None if row is None else row.get(column)


def parse_values(raw: str) -> list[str]:
    """A filterValues entry: one or more values, each in double quotes, comma-separated
    ("\\"horror\\",\\"comedy\\""); a bare value ("10", "horror") is one value."""
    text = raw.strip()
    if not text.startswith('"'):
        return [text]
    try:
        row = next(csv.reader([text], skipinitialspace=True))
    except (csv.Error, StopIteration):
        raise InvalidInput(
            f'Invalid filterValues entry {_shown(raw)}: use \\"value\\",\\"value\\".'
        ) from None
    return [value for value in row]


def _shown(raw: str, longest: int = 60) -> str:
    """A filterValues entry as an error message quotes it: cut short (entries run to 1,000 characters)."""
    return repr(raw) if len(raw) <= longest else repr(raw[:longest]) + f"... ({len(raw)} characters)"
