"""Compiles a botocore input shape into a tree of validator nodes (see api/validate.py)."""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from typing import Any

from botocore.model import Shape

from openpersonalize.api.coral_messages import (
    NOT_NULL,
    Path,
    Problem,
    TypeMismatch,
    java_double,
    mismatch_text,
)
from openpersonalize.api.java_regex import compile_java_regex
from openpersonalize.api.scalar_conversions import (
    EXACT_TYPES,
    INT_RANGES,
    float_converter,
    int_converter,
    to_blob,
    to_boolean,
    to_string,
    to_timestamp,
    utf16_length,
)
from openpersonalize.api.shape_nodes import (
    Check,
    Node,
    always,
    collection_node,
    identity,
    map_entries,
    range_failure,
    range_ok,
    range_texts,
    scalar_elements,
    scalar_node,
    structure_elements,
)

# Our extensions of the models: data locations may also be local files (file:///abs/path).
PATTERN_EXTENSIONS = {"(s3|http|https)://.+": "(s3|http|https|file)://.+"}


def _bounds(shape: Shape) -> tuple[Any, Any]:
    return shape.metadata.get("min"), shape.metadata.get("max")


class ShapeCompiler:
    """Builds one validator node per (shape, sensitivity); nodes are shared and may be recursive."""

    def __init__(self) -> None:
        self._memo: dict[tuple[str, bool], Node] = {}

    def check(self, shape: Shape, hidden: bool) -> Check:
        return self.node(shape, hidden).check

    def node(self, shape: Shape, hidden: bool) -> Node:
        # Anything inside a sensitive shape is sensitive too (Smithy's rule for @sensitive).
        hidden = hidden or bool(shape.metadata.get("sensitive"))
        key = (shape.name, hidden)
        node = self._memo.get(key)
        if node is None:
            build = getattr(self, f"_{shape.type_name}", self._scalar)
            node = build(shape, hidden)
            self._memo[key] = node
        return node

    def _structure(self, shape: Shape, hidden: bool) -> Node:
        members: list[tuple[str, str, Check, bool]] = []

        def check(value: Any, problems: list[Problem], parent: Path, segment: str | int) -> Any:
            if not isinstance(value, dict):
                raise TypeMismatch(mismatch_text(value, "structure")).error(parent, segment)
            here = (parent, segment)
            result = {}
            for name, member_segment, member_check, required in members:
                item = value.get(name)
                if item is None:
                    if required:
                        problems.append((here, member_segment, None, NOT_NULL, False))
                else:
                    result[name] = member_check(item, problems, here, member_segment)
            return result

        node = Node(check, identity, always)
        node.is_structure = True
        node.show = not hidden
        # Registered before the members compile, so a recursive shape finds itself.
        self._memo[(shape.name, hidden)] = node
        required = set(shape.required_members)
        for name, member in shape.members.items():
            child = self.node(member, hidden)
            node.show = node.show and child.show
            members.append((name, name[:1].lower() + name[1:], child.check, name in required))
        return node

    def _list(self, shape: Shape, hidden: bool) -> Node:
        element = self.node(shape.member, hidden)
        show = not hidden and element.show
        inner = structure_elements(element) if element.is_structure else scalar_elements(element, show)
        return collection_node("list", *_bounds(shape), inner, show)

    def _map(self, shape: Shape, hidden: bool) -> Node:
        key = self.node(shape.key, hidden)
        value = self.node(shape.value, hidden)
        show = not hidden and key.show and value.show
        return collection_node("map", *_bounds(shape), map_entries(key, value, show), show)

    def _string(self, shape: Shape, hidden: bool) -> Node:
        low, high = _bounds(shape)
        pattern = shape.metadata.get("pattern")
        enum = shape.metadata.get("enum")
        shortest = 0 if low is None else low
        longest = math.inf if high is None else high
        pattern = PATTERN_EXTENSIONS.get(pattern, pattern) if pattern is not None else None
        match = compile_java_regex(pattern).fullmatch if pattern is not None else None
        allowed = frozenset(enum) if enum else None
        pattern_text = f"Member must satisfy regular expression pattern: {pattern}"
        enum_text = f"Member must satisfy enum value set: [{', '.join(enum or ())}]"
        show = not hidden

        def ok(value: str) -> bool:
            length = len(value) if value.isascii() else utf16_length(value)
            if not shortest <= length <= longest:
                return False
            return (match is None or match(value) is not None) and (allowed is None or value in allowed)

        def violations(value: str) -> list[str]:
            failed = []
            length = utf16_length(value)
            if not shortest <= length <= longest:
                # Beyond the length limits the pattern is skipped: the model patterns backtrack
                # badly on long input (".*:.*:.+"), and the value is rejected anyway.
                failed.append(range_failure(length, "length", low, high))
            elif match is not None and match(value) is None:
                failed.append(pattern_text)
            if allowed is not None and value not in allowed:
                failed.append(enum_text)
            return failed

        def check(value: Any, problems: list[Problem], parent: Path, segment: str | int) -> Any:
            # The hottest path (ids in PutEvents), so ok() is inlined here.
            if not isinstance(value, str):
                raise TypeMismatch(mismatch_text(value, "string")).error(parent, segment)
            length = len(value) if value.isascii() else utf16_length(value)
            if not (
                shortest <= length <= longest
                and (match is None or match(value) is not None)
                and (allowed is None or value in allowed)
            ):
                for text in violations(value):
                    problems.append((parent, segment, value, text, show))
            return value

        node = Node(check, to_string, ok, str)
        node.describe = range_texts("length", low, high)
        node.describe += ((pattern_text,) if pattern else ()) + ((enum_text,) if enum else ())
        node.show = show
        node.keeps_value = True
        return node

    def _scalar(self, shape: Shape, hidden: bool) -> Node:
        kind = shape.type_name
        low, high = _bounds(shape)
        if kind in INT_RANGES:
            convert: Callable[[Any], Any] = int_converter(kind)
            texts = range_texts("value", low, high)
        elif kind in ("float", "double"):
            convert = float_converter(kind)
            texts = range_texts("value", low, high, lambda bound: java_double(float(bound)))
        elif kind == "blob":
            convert = to_blob
            texts = range_texts("length", low, high)
        else:
            convert = {"boolean": to_boolean, "timestamp": to_timestamp}[kind]
            texts = ()
        if kind == "blob":
            ok = range_ok(low, high, measure=lambda value: len(base64.b64decode(value)))
        else:
            ok = range_ok(low, high)

        def violations(value: Any) -> list[str]:
            if kind == "blob":
                return [range_failure(len(base64.b64decode(value)), "length", low, high)]
            render = (lambda bound: java_double(float(bound))) if kind in ("float", "double") else str
            return [range_failure(value, "value", low, high, render)]

        exact_type = EXACT_TYPES.get(kind, object)
        node = scalar_node(convert, ok if texts else None, violations, exact_type, not hidden)
        node.describe = texts
        node.keeps_value = kind in ("boolean", "blob")
        return node
