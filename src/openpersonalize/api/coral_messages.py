"""AWS Coral's wording for validation and deserialization failures (see api/validate.py).

Coral echoes values the way Java's ``toString`` shows them and names members by a path such as
``items.2.member.properties``; clients and their tests match on these texts.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from openpersonalize.errors import SerializationError

MAX_REPORTED = 10
# Longer echoed values (longer than any modelled string) are cut: a 50 MB name must not come back.
MAX_ECHO_CHARS = 1024
NOT_NULL = "Member must not be null"

# A path is built lazily, only for errors: a parent chain of (parent, segment) pairs, where a
# segment is a member name, "<key>.member" for map values, or a 0-based list index.
Path = tuple[Any, "str | int"] | None
Problem = tuple[Path, "str | int", Any, str, bool]  # parent, segment, value, constraint, show value

_TARGETS = {
    "string": "an String",
    "integer": "an Integer",
    "long": "an Long",
    "float": "an Float",
    "double": "an Double",
    "boolean": "an Boolean",
    "timestamp": "a Timestamp",
    "blob": "a Blob",
}
_NUMBER_CLASS = "com.amazon.coral.value.json.numbers.TruncatingBigNumber"


class TypeMismatch(Exception):
    """A value of the wrong JSON type; becomes a SerializationError once its path is known."""

    def error(self, parent: Path, segment: str | int) -> SerializationError:
        path = render_path(parent, segment)
        return SerializationError(f"{self.args[0]} (at '{path}')" if path else str(self.args[0]))


def format_problems(problems: list[Problem]) -> str:
    shown = problems[:MAX_REPORTED]
    parts = [_format_problem(*problem) for problem in shown]
    plural = "s" if len(shown) > 1 else ""
    return f"{len(shown)} validation error{plural} detected: " + "; ".join(parts)


def _format_problem(parent: Path, segment: str | int, value: Any, constraint: str, show: bool) -> str:
    if value is None:
        shown = "Value null"
    elif show:
        text = java_string(value)
        if len(text) > MAX_ECHO_CHARS:
            text = f"{text[:MAX_ECHO_CHARS]}... ({len(text)} characters)"
        shown = f"Value '{text}'"
    else:
        shown = "Value"
    return f"{shown} at '{render_path(parent, segment)}' failed to satisfy constraint: {constraint}"


def render_path(parent: Path, segment: str | int) -> str:
    parts: list[str] = []
    node: Path = (parent, segment)
    while node is not None:
        node, segment = node
        if segment != "":
            parts.append(segment if isinstance(segment, str) else f"{segment + 1}.member")
    return ".".join(reversed(parts))


def java_string(value: Any) -> str:
    """``value`` the way Java's toString shows it (Coral echoes values that way)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, list):
        return "[" + ", ".join(java_string(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{java_string(k)}={java_string(v)}" for k, v in value.items()) + "}"
    return "null" if value is None else str(value)


def java_double(value: float) -> str:
    """Java's Double.toString: plain from 1e-3 up to 1e7, otherwise ``d.dddE<n>``."""
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if "e" not in text else f"{Decimal(text):f}"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)
    mantissa = "".join(map(str, digits)).rstrip("0") or "0"
    return f"{'-' if sign else ''}{mantissa[0]}.{mantissa[1:] or '0'}E{exponent + len(digits) - 1}"


def mismatch_text(value: Any, type_name: str) -> str:
    if isinstance(value, list):
        return "Start of list found where not expected"
    if isinstance(value, dict):
        return "Start of structure or map found where not expected."
    if type_name == "structure":
        return "Expected null"
    if type_name in ("list", "map"):
        return f"Expected {type_name} or null"
    target = _TARGETS[type_name]
    if isinstance(value, bool):
        return f"class java.lang.Boolean can not be converted to {target}"
    if isinstance(value, int | float):
        return f"class {_NUMBER_CLASS} can not be converted to {target}"
    if isinstance(value, str) and type_name in ("boolean", "timestamp", "blob"):
        return f"'{value.upper() if type_name == 'boolean' else value}' can not be converted to {target}"
    return f"class java.lang.String can not be converted to {target}"
