"""Server-side request validation driven by botocore's service models (spec §1, §2, §23).

botocore checks only required/type/min on the client, and other SDKs or raw HTTP may send
anything, so the server checks every modelled constraint (required, type, min, max, pattern,
enum) and answers the way AWS "Coral" services do:

    2 validation errors detected: Value 'x y' at 'name' failed to satisfy constraint: Member must
    satisfy regular expression pattern: ^[a-zA-Z0-9][a-zA-Z0-9\\-_]*; Value '500' at 'maxResults'
    failed to satisfy constraint: Member must have value less than or equal to 100

Choices that follow Coral (evidence: public emulators tested against AWS, AWS error reports):
- Paths use the member names with a lower-case first letter; list elements are
  ``<list>.<1-based index>.member``, map values ``<map>.<key>.member``.
- Scalar list elements and map keys/values are judged together, once per collection:
  ``Value '[a, b]' at 'x' failed to satisfy constraint: Member must satisfy constraint: [...]``
  (``Map keys must satisfy constraint`` / ``Map value must satisfy constraint`` for maps).
- At most 10 violations are reported; values of sensitive shapes (and anything inside them) are
  left out (``Value at 'x' ...``) so user ids or event properties never reach error logs.
- A JSON type mismatch is a deserialization failure, not a constraint violation: it raises
  ``SerializationError`` (``SerializationException``) at once with Coral's Jackson-style text,
  plus the member path (Coral omits it; we add it so raw-HTTP callers can find the field).
- Unknown members are ignored, as AWS ignores unknown JSON members, and dropped from the result
  together with explicit nulls (Coral deserializes null as absent). The result holds modelled
  members only, timestamps as float epoch seconds.
- A string whose length is out of range is not matched against its pattern: the model patterns
  backtrack badly on long input (``.*:.*:.+``), and the length error already rejects it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
from collections.abc import Callable, Iterable
from decimal import Decimal
from math import isfinite
from typing import Any, cast

from botocore.model import OperationModel, Shape

from openpersonalize.api.java_regex import compile_java_regex
from openpersonalize.errors import SerializationError, ValidationError

MAX_REPORTED = 10
# Our extensions of the models: data locations may also be local files (file:///abs/path).
PATTERN_EXTENSIONS = {"(s3|http|https)://.+": "(s3|http|https|file)://.+"}
NOT_NULL = "Member must not be null"

# A path is built lazily, only for errors: a parent chain of (parent, segment) pairs, where a
# segment is a member name, "<key>.member" for map values, or a 0-based list index.
Path = tuple[Any, "str | int"] | None
Problem = tuple[Path, "str | int", Any, str, bool]  # parent, segment, value, constraint, show value
Check = Callable[[Any, list[Problem], Path, "str | int"], Any]

_INT_RANGES = {"integer": (-(2**31), 2**31 - 1, "int"), "long": (-(2**63), 2**63 - 1, "long")}
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
# JSON values of exactly these types need no conversion (floats if finite). Ints always convert:
# that is where the Java range check happens.
_EXACT_TYPES: dict[str, type] = {"float": float, "double": float, "timestamp": float, "boolean": bool}
_NUMBER_CLASS = "com.amazon.coral.value.json.numbers.TruncatingBigNumber"


class _Mismatch(Exception):
    """A value of the wrong JSON type; becomes a SerializationError once its path is known."""

    def error(self, parent: Path, segment: str | int) -> SerializationError:
        path = render_path(parent, segment)
        return SerializationError(f"{self.args[0]} (at '{path}')" if path else str(self.args[0]))


def validate(operation: OperationModel, params: dict[str, Any]) -> dict[str, Any]:
    """Check ``params`` against the operation's input shape; return the deserialized request.

    Raises ``ValidationError`` listing the constraint violations, or ``SerializationError`` for a
    value of the wrong JSON type.
    """
    check = _VALIDATORS.get(operation) or _compile_operation(operation)
    problems: list[Problem] = []
    result = check({} if params is None else params, problems, None, "")
    if problems:
        raise ValidationError(format_problems(problems))
    return result  # type: ignore[no-any-return]


def precompile(operations: Iterable[OperationModel]) -> None:
    """Build the validators up front (the server calls this at start-up to keep first requests fast)."""
    for operation in operations:
        if operation not in _VALIDATORS:
            _compile_operation(operation)


# Keyed by the OperationModel object: botocore caches one per service model, which the protocol
# layer keeps for the life of the process.
_VALIDATORS: dict[OperationModel, Check] = {}


def _compile_operation(operation: OperationModel) -> Check:
    shape = operation.input_shape
    check = _Compiler().check(shape, hidden=False) if shape is not None else _no_input
    _VALIDATORS[operation] = check
    return check


def _no_input(value: Any, problems: list[Problem], parent: Path, segment: str | int) -> Any:
    return {}


# --- messages ---------------------------------------------------------------------------------


def format_problems(problems: list[Problem]) -> str:
    shown = problems[:MAX_REPORTED]
    parts = [_format_problem(*problem) for problem in shown]
    plural = "s" if len(shown) > 1 else ""
    return f"{len(shown)} validation error{plural} detected: " + "; ".join(parts)


def _format_problem(parent: Path, segment: str | int, value: Any, constraint: str, show: bool) -> str:
    if value is None:
        shown = "Value null"
    elif show:
        shown = f"Value '{java_string(value)}'"
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


def _mismatch_text(value: Any, type_name: str) -> str:
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


def _utf16_length(text: str) -> int:
    # Java measures strings in UTF-16 code units: characters outside the BMP count twice.
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


# --- scalar conversions (type checks) -----------------------------------------------------------


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _Mismatch(_mismatch_text(value, "string"))


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _Mismatch(_mismatch_text(value, "boolean"))


def _int_converter(type_name: str) -> Callable[[Any], int]:
    low, high, java_name = _INT_RANGES[type_name]

    def convert(value: Any) -> int:
        if isinstance(value, float) and math.isfinite(value):
            value = math.floor(value)  # Coral truncates JSON numbers with a fraction
        elif not isinstance(value, int) or isinstance(value, bool):
            raise _Mismatch(_mismatch_text(value, type_name))
        if not low <= value <= high:
            raise _Mismatch(f"Numeric value ({value}) out of range of {java_name}")
        return value

    return convert


def _float_converter(type_name: str) -> Callable[[Any], float]:
    def convert(value: Any) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if math.isfinite(number):
                return number
        raise _Mismatch(_mismatch_text(value, type_name))

    return convert


def _to_timestamp(value: Any) -> float:
    """Epoch seconds from a JSON number (what every AWS SDK sends) or an ISO-8601 string."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.inf
    elif isinstance(value, str):
        seconds = _parse_timestamp_text(value)
    else:
        raise _Mismatch(_mismatch_text(value, "timestamp"))
    if not math.isfinite(seconds):
        raise _Mismatch(_mismatch_text(value, "timestamp"))
    return seconds


def _parse_timestamp_text(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise _Mismatch(_mismatch_text(text, "timestamp")) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    try:
        return moment.timestamp()
    except (OverflowError, ValueError):
        raise _Mismatch(_mismatch_text(text, "timestamp")) from None


def _to_blob(value: Any) -> str:
    """Blobs travel base64-encoded; keep the text, reject what does not decode."""
    if isinstance(value, str):
        try:
            base64.b64decode(value, validate=True)
            return value
        except (binascii.Error, ValueError):
            pass
    raise _Mismatch(_mismatch_text(value, "blob"))


# --- compiling a shape into a validator ---------------------------------------------------------


class _Node:
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


def _always(value: Any) -> bool:
    return True


def _bounds(shape: Shape) -> tuple[Any, Any]:
    return shape.metadata.get("min"), shape.metadata.get("max")


def _range_texts(kind: str, low: Any, high: Any, render: Callable[[Any], str] = str) -> tuple[str, ...]:
    texts = []
    if high is not None:
        texts.append(f"Member must have {kind} less than or equal to {render(high)}")
    if low is not None:
        texts.append(f"Member must have {kind} greater than or equal to {render(low)}")
    return tuple(texts)


def _range_ok(
    low: Any, high: Any, measure: Callable[[Any], Any] = lambda value: value
) -> Callable[[Any], bool]:
    low = -math.inf if low is None else low
    high = math.inf if high is None else high

    def ok(value: Any) -> bool:
        return bool(low <= measure(value) <= high)

    return ok


def _range_failure(measured: Any, kind: str, low: Any, high: Any, render: Callable[[Any], str] = str) -> str:
    """The one side of a range that ``measured`` breaks (Coral's wording)."""
    if high is not None and measured > high:
        return f"Member must have {kind} less than or equal to {render(high)}"
    return f"Member must have {kind} greater than or equal to {render(low)}"


def _aggregate(prefix: str, node: _Node, nullable_text: bool = True) -> str:
    texts = node.describe + ((NOT_NULL,) if nullable_text else ())
    return f"{prefix} must satisfy constraint: [{', '.join(texts)}]"


class _Compiler:
    def __init__(self) -> None:
        self._memo: dict[tuple[str, bool], _Node] = {}

    def check(self, shape: Shape, hidden: bool) -> Check:
        return self.node(shape, hidden).check

    def node(self, shape: Shape, hidden: bool) -> _Node:
        # Anything inside a sensitive shape is sensitive too (Smithy's rule for @sensitive).
        hidden = hidden or bool(shape.metadata.get("sensitive"))
        key = (shape.name, hidden)
        node = self._memo.get(key)
        if node is None:
            build = getattr(self, f"_{shape.type_name}", self._scalar)
            node = build(shape, hidden)
            self._memo[key] = node
        return node

    def _structure(self, shape: Shape, hidden: bool) -> _Node:
        members: list[tuple[str, str, Check, bool]] = []

        def check(value: Any, problems: list[Problem], parent: Path, segment: str | int) -> Any:
            if not isinstance(value, dict):
                raise _Mismatch(_mismatch_text(value, "structure")).error(parent, segment)
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

        node = _Node(check, _identity, _always)
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

    def _list(self, shape: Shape, hidden: bool) -> _Node:
        element = self.node(shape.member, hidden)
        show = not hidden and element.show
        inner = _structure_elements(element) if element.is_structure else _scalar_elements(element, show)
        return _collection_node("list", *_bounds(shape), inner, show)

    def _map(self, shape: Shape, hidden: bool) -> _Node:
        key = self.node(shape.key, hidden)
        value = self.node(shape.value, hidden)
        show = not hidden and key.show and value.show
        return _collection_node("map", *_bounds(shape), _map_entries(key, value, show), show)

    def _string(self, shape: Shape, hidden: bool) -> _Node:
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
            length = len(value) if value.isascii() else _utf16_length(value)
            if not shortest <= length <= longest:
                return False
            return (match is None or match(value) is not None) and (allowed is None or value in allowed)

        def violations(value: str) -> list[str]:
            failed = []
            length = _utf16_length(value)
            if not shortest <= length <= longest:
                # Beyond the length limits the pattern is skipped: the model patterns backtrack
                # badly on long input (".*:.*:.+"), and the value is rejected anyway.
                failed.append(_range_failure(length, "length", low, high))
            elif match is not None and match(value) is None:
                failed.append(pattern_text)
            if allowed is not None and value not in allowed:
                failed.append(enum_text)
            return failed

        def check(value: Any, problems: list[Problem], parent: Path, segment: str | int) -> Any:
            # The hottest path (ids in PutEvents), so ok() is inlined here.
            if not isinstance(value, str):
                raise _Mismatch(_mismatch_text(value, "string")).error(parent, segment)
            length = len(value) if value.isascii() else _utf16_length(value)
            if not (
                shortest <= length <= longest
                and (match is None or match(value) is not None)
                and (allowed is None or value in allowed)
            ):
                for text in violations(value):
                    problems.append((parent, segment, value, text, show))
            return value

        node = _Node(check, _to_string, ok, str)
        node.describe = _range_texts("length", low, high)
        node.describe += ((pattern_text,) if pattern else ()) + ((enum_text,) if enum else ())
        node.show = show
        node.keeps_value = True
        return node

    def _scalar(self, shape: Shape, hidden: bool) -> _Node:
        kind = shape.type_name
        low, high = _bounds(shape)
        if kind in _INT_RANGES:
            convert: Callable[[Any], Any] = _int_converter(kind)
            texts = _range_texts("value", low, high)
        elif kind in ("float", "double"):
            convert = _float_converter(kind)
            texts = _range_texts("value", low, high, lambda bound: java_double(float(bound)))
        elif kind == "blob":
            convert = _to_blob
            texts = _range_texts("length", low, high)
        else:
            convert = {"boolean": _to_boolean, "timestamp": _to_timestamp}[kind]
            texts = ()
        if kind == "blob":
            ok = _range_ok(low, high, measure=lambda value: len(base64.b64decode(value)))
        else:
            ok = _range_ok(low, high)

        def violations(value: Any) -> list[str]:
            if kind == "blob":
                return [_range_failure(len(base64.b64decode(value)), "length", low, high)]
            render = (lambda bound: java_double(float(bound))) if kind in ("float", "double") else str
            return [_range_failure(value, "value", low, high, render)]

        exact_type = _EXACT_TYPES.get(kind, object)
        node = _scalar_node(convert, ok if texts else None, violations, exact_type, not hidden)
        node.describe = texts
        node.keeps_value = kind in ("boolean", "blob")
        return node


def _identity(value: Any) -> Any:
    return value


def _scalar_node(
    convert: Callable[[Any], Any],
    ok: Callable[[Any], bool] | None,
    violations: Callable[[Any], list[str]],
    exact_type: type,
    show: bool,
) -> _Node:
    def check(value: Any, problems: list[Problem], parent: Path, segment: str | int) -> Any:
        if type(value) is not exact_type or (exact_type is float and not isfinite(cast(float, value))):
            try:
                value = convert(value)
            except _Mismatch as exc:
                raise exc.error(parent, segment) from None
        if ok is not None and not ok(value):
            for text in violations(value):
                problems.append((parent, segment, value, text, show))
        return value

    node = _Node(check, convert, ok or _always, exact_type)
    node.show = show
    return node


def _collection_node(type_name: str, low: Any, high: Any, inner: Check, show: bool) -> _Node:
    python_type = list if type_name == "list" else dict
    length_ok = _range_ok(low, high, measure=len)
    shortest = 0 if low is None else low
    longest = math.inf if high is None else high

    def convert(value: Any) -> Any:
        if isinstance(value, python_type):
            return value
        raise _Mismatch(_mismatch_text(value, type_name))

    def check(value: Any, problems: list[Problem], parent: Path, segment: str | int) -> Any:
        if not isinstance(value, python_type):
            raise _Mismatch(_mismatch_text(value, type_name)).error(parent, segment)
        if not shortest <= len(value) <= longest:
            problems.append((parent, segment, value, _range_failure(len(value), "length", low, high), show))
        return inner(value, problems, parent, segment)

    node = _Node(check, convert, length_ok)
    node.describe = _range_texts("length", low, high)
    node.inner = inner
    node.show = show
    return node


def _structure_elements(element: _Node) -> Check:
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


def _scalar_elements(element: _Node, show: bool) -> Check:
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
                    except _Mismatch as exc:
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


def _map_entries(key: _Node, value: _Node, show: bool) -> Check:
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
            except _Mismatch as exc:
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
                except _Mismatch as exc:
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
