"""Turn personalize-events records into schema rows (spec §12.3): properties JSON -> typed columns."""

from __future__ import annotations

import math
from typing import Any

import orjson

from openpersonalize.data.fields import ParsedSchema, SchemaField
from openpersonalize.errors import InvalidInput

# Keys a PutEvents `properties` string may not carry (case-insensitive): they have their own members.
RESERVED_EVENT_KEYS = frozenset(
    {"userid", "sessionid", "eventtype", "timestamp", "recommendationid", "impression"}
)
ID_MAX = 256
STRING_MAX = 1000
TEXTUAL_MAX = 20_000
FLOAT32_MAX = 3.4028234663852886e38


def parse_properties(
    raw: str | None,
    schema: ParsedSchema,
    where: str,
    *,
    reserved: frozenset[str] = frozenset(),
    skip: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Map a `properties` JSON string with lowerCamelCase keys onto the schema's columns.

    ``where`` names the record in error messages (e.g. "eventList[2].properties").
    ``skip`` are columns that come from other members and may not appear in properties.
    """
    if raw is None or raw == "":
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidInput(f"{where} must be a JSON object encoded as a string; got invalid JSON.") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be a JSON object encoded as a string.")
    by_camel = {f.camel_name.lower(): f for f in schema.fields if f.name not in skip}
    row: dict[str, Any] = {}
    for key, item in value.items():
        lowered = key.lower()
        if lowered in reserved:
            raise InvalidInput(f"{where}: '{key}' is not allowed in properties; use its own request member.")
        target = by_camel.get(lowered) or by_camel.get(lowered.replace("_", ""))
        if target is None:
            raise InvalidInput(
                f"{where}: '{key}' does not match any field of the {schema.record_name} schema "
                f"(keys are the lowerCamelCase form of the field names, e.g. NUM_RATINGS -> numRatings)."
            )
        row[target.name] = coerce(target, item, f"{where}.{key}")
    return row


def coerce(field: SchemaField, value: Any, where: str) -> Any:
    """Check one value against its Avro field type; returns the stored form."""
    if value is None:
        if not field.nullable:
            raise InvalidInput(f"{where}: {field.name} may not be null.")
        return None
    kind = field.type
    if kind == "string":
        if isinstance(value, list) and field.categorical:
            value = "|".join(str(v) for v in value)
        if not isinstance(value, str):
            if isinstance(value, bool | int | float):
                value = orjson.dumps(value).decode()
            else:
                raise InvalidInput(f"{where}: {field.name} must be a string.")
        limit = TEXTUAL_MAX if field.textual else ID_MAX if field.name.endswith("_ID") else STRING_MAX
        if len(value) > limit:
            if field.textual:
                return value[:limit]  # AWS truncates long text rather than rejecting it
            raise InvalidInput(f"{where}: {field.name} is longer than {limit} characters.")
        return value
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value in ("true", "false"):
            return value == "true"
        raise InvalidInput(f"{where}: {field.name} must be a boolean (true or false).")
    if kind in ("int", "long"):
        if isinstance(value, bool):
            raise InvalidInput(f"{where}: {field.name} must be an integer ({kind}).")
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                raise InvalidInput(
                    f"{where}: {field.name} must be an integer ({kind}); got '{value}'."
                ) from None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise InvalidInput(f"{where}: {field.name} must be an integer ({kind}).")
        bound = 2**31 if kind == "int" else 2**63
        if not -bound <= value < bound:
            raise InvalidInput(f"{where}: {field.name} is out of range for {kind}.")
        return value
    # float / double
    if isinstance(value, bool):
        raise InvalidInput(f"{where}: {field.name} must be a number ({kind}).")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise InvalidInput(f"{where}: {field.name} must be a number ({kind}); got '{value}'.") from None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{where}: {field.name} must be a finite number ({kind}).")
    if kind == "float" and abs(value) > FLOAT32_MAX:
        raise InvalidInput(f"{where}: {field.name} is out of range for float (at most {FLOAT32_MAX:.7g}).")
    return float(value)


def require_fields(
    row: dict[str, Any], schema: ParsedSchema, where: str, *, may_be_null: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Fill absent nullable fields with None; a required field that is absent or null is an error
    (``may_be_null`` names the exceptions, such as USER_ID of an anonymous event)."""
    missing = [
        f.name
        for f in schema.fields
        if row.get(f.name) is None and not f.nullable and f.name not in may_be_null
    ]
    if missing:
        raise InvalidInput(f"{where}: missing required field(s) {', '.join(missing)}.")
    return {f.name: row.get(f.name) for f in schema.fields}
