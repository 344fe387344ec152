"""Compiled validator nodes: the checks one botocore shape turns into (see api/validate.py).

A ``Check`` validates one member in place, appends every violated constraint to ``problems`` and
returns the deserialized value; a value of the wrong JSON type raises ``SerializationError``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from math import isfinite
from typing import Any, cast

from openpersonalize.api.coral_messages import NOT_NULL, Path, Problem, TypeMismatch, mismatch_text

Check = Callable[[Any, list[Problem], Path, "str | int"], Any]


class Node:
    """One shape compiled for one sensitivity context.

    ``check`` validates a member (type, each violated constraint reported, then the contents).
    Collections judge scalar elements together instead, through ``convert`` (type only), ``ok``
    (own constraints hold), ``describe`` (those constraints in Coral's order) and ``inner`` (the
    contents of a list or map).
    """

    __slots__ = (
        "check",
        "convert",
        "ok",
        "exact_type",
        "describe",
        "inner",
        "show",
        "is_structure",
        "keeps_value",
    )

    def __init__(
        self,
        check: Check,
        convert: Callable[[Any], Any],
        ok: Callable[[Any], bool],
        exact_type: type = object,
    ) -> None:
        self.check = check
        self.convert = convert
        self.ok = ok
        self.exact_type = exact_type  # values of exactly this type need no conversion
        self.describe: tuple[str, ...] = ()
        self.inner: Check | None = None
        self.show = True
        self.is_structure = False
        self.keeps_value = False  # convert never replaces the value (strings, booleans, blobs)


def always(value: Any) -> bool:
    return True


def range_texts(kind: str, low: Any, high: Any, render: Callable[[Any], str] = str) -> tuple[str, ...]:
    texts = []
    if high is not None:
        texts.append(f"Member must have {kind} less than or equal to {render(high)}")
    if low is not None:
        texts.append(f"Member must have {kind} greater than or equal to {render(low)}")
    return tuple(texts)


def range_ok(
    low: Any, high: Any, measure: Callable[[Any], Any] = lambda value: value
) -> Callable[[Any], bool]:
    low = -math.inf if low is None else low
    high = math.inf if high is None else high

    def ok(value: Any) -> bool:
        return bool(low <= measure(value) <= high)

    return ok


def range_failure(measured: Any, kind: str, low: Any, high: Any, render: Callable[[Any], str] = str) -> str:
    """The one side of a range that ``measured`` breaks (Coral's wording)."""
    if high is not None and measured > high:
        return f"Member must have {kind} less than or equal to {render(high)}"
    return f"Member must have {kind} greater than or equal to {render(low)}"


def _aggregate(prefix: str, node: Node, nullable_text: bool = True) -> str:
    texts = node.describe + ((NOT_NULL,) if nullable_text else ())
    return f"{prefix} must satisfy constraint: [{', '.join(texts)}]"


def identity(value: Any) -> Any:
    return value


def scalar_node(
    convert: Callable[[Any], Any],
    ok: Callable[[Any], bool] | None,
    violations: Callable[[Any], list[str]],
    exact_type: type,
    show: bool,
) -> Node:
    def check(value: Any, problems: list[Problem], parent: Path, segment: str | int) -> Any:
        if type(value) is not exact_type or (exact_type is float and not isfinite(cast(float, value))):
            try:
                value = convert(value)
            except TypeMismatch as exc:
                raise exc.error(parent, segment) from None
        if ok is not None and not ok(value):
            for text in violations(value):
                problems.append((parent, segment, value, text, show))
        return value

    node = Node(check, convert, ok or always, exact_type)
    node.show = show
    return node


def collection_node(type_name: str, low: Any, high: Any, inner: Check, show: bool) -> Node:
    python_type = list if type_name == "list" else dict
    length_ok = range_ok(low, high, measure=len)
    shortest = 0 if low is None else low
    longest = math.inf if high is None else high

    def convert(value: Any) -> Any:
        if isinstance(value, python_type):
            return value
        raise TypeMismatch(mismatch_text(value, type_name))

    def check(value: Any, problems: list[Problem], parent: Path, segment: str | int) -> Any:
        if not isinstance(value, python_type):
            raise TypeMismatch(mismatch_text(value, type_name)).error(parent, segment)
        if not shortest <= len(value) <= longest:
            problems.append((parent, segment, value, range_failure(len(value), "length", low, high), show))
        return inner(value, problems, parent, segment)

    node = Node(check, convert, length_ok)
    node.describe = range_texts("length", low, high)
    node.inner = inner
    node.show = show
    return node


def structure_elements(element: Node) -> Check:
    element_check = element.check

    def inner(value: list[Any], problems: list[Problem], parent: Path, segment: str | int) -> Any:
        here = (parent, segment)
        result = []
        for index, item in enumerate(value):
            if item is None:
                problems.append((here, index, None, NOT_NULL, False))
            result.append(element_check(item, problems, here, index) if item is not None else None)
        return result

    return inner


def scalar_elements(element: Node, show: bool) -> Check:
    """Elements that are not structures are judged together, once for the whole list."""
    convert, ok, element_inner, keeps = element.convert, element.ok, element.inner, element.keeps_value
    exact_type = element.exact_type
    text = _aggregate("Member", element)

    def inner(value: list[Any], problems: list[Problem], parent: Path, segment: str | int) -> Any:
        here = (parent, segment)
        failed = False
        result = value if keeps else []
        for index, item in enumerate(value):
            if item is not None:
                if type(item) is not exact_type or (exact_type is float and not isfinite(cast(float, item))):
                    try:
                        item = convert(item)
                    except TypeMismatch as exc:
                        raise exc.error(here, index) from None
                if not ok(item):
                    failed = True
                if element_inner is not None:
                    item = element_inner(item, problems, here, index)
            else:
                failed = True
            if not keeps:
                result.append(item)
        if failed:
            problems.append((parent, segment, value, text, show))
        return result

    return inner


def map_entries(key: Node, value: Node, show: bool) -> Check:
    key_convert, key_ok = key.convert, key.ok
    value_convert, value_ok, value_inner = value.convert, value.ok, value.inner
    value_check, value_is_structure = value.check, value.is_structure
    keys_text = _aggregate("Map keys", key, nullable_text=False)
    values_text = _aggregate("Map value", value)

    def inner(entries: dict[Any, Any], problems: list[Problem], parent: Path, segment: str | int) -> Any:
        here = (parent, segment)
        bad_key = bad_value = False
        result = {}
        for name, item in entries.items():
            try:
                name = key_convert(name)
            except TypeMismatch as exc:
                raise exc.error(here, str(name)) from None
            bad_key = bad_key or not key_ok(name)
            item_segment = f"{name}.member"
            if item is None:
                if value_is_structure:
                    problems.append((here, item_segment, None, NOT_NULL, False))
                else:
                    bad_value = True
            elif value_is_structure:
                item = value_check(item, problems, here, item_segment)
            else:
                try:
                    item = value_convert(item)
                except TypeMismatch as exc:
                    raise exc.error(here, item_segment) from None
                bad_value = bad_value or not value_ok(item)
                if value_inner is not None:
                    item = value_inner(item, problems, here, item_segment)
            result[name] = item
        if bad_key:
            problems.append((parent, segment, entries, keys_text, show))
        if bad_value:
            problems.append((parent, segment, entries, values_text, show))
        return result

    return inner
