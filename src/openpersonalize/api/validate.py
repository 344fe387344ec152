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

Each operation's input shape is compiled once into nested checks (``shape_compiler``, built from
``shape_nodes``, with JSON type checks in ``scalar_conversions``); ``coral_messages`` words the
errors.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.model import OperationModel

from openpersonalize.api.coral_messages import (
    MAX_REPORTED,
    NOT_NULL,
    Path,
    Problem,
    format_problems,
    java_double,
    java_string,
    render_path,
)
from openpersonalize.api.shape_compiler import PATTERN_EXTENSIONS, ShapeCompiler
from openpersonalize.api.shape_nodes import Check
from openpersonalize.errors import ValidationError

__all__ = [
    "MAX_REPORTED",
    "NOT_NULL",
    "PATTERN_EXTENSIONS",
    "format_problems",
    "java_double",
    "java_string",
    "precompile",
    "render_path",
    "validate",
]


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
    check = ShapeCompiler().check(shape, hidden=False) if shape is not None else _no_input
    _VALIDATORS[operation] = check
    return check


def _no_input(value: Any, problems: list[Problem], parent: Path, segment: str | int) -> Any:
    return {}
