"""Personalize schema rules: Avro syntax (fastavro) plus the service's own constraints.

- ``parse_schema``: CreateSchema time. The document is a flat Avro record whose fields use the
  primitive types Personalize accepts; when its record name names a dataset type, the schema
  must also fit that type (and the domain, if given).
- ``check_dataset_type``: CreateDataset time. The schema fits the dataset type and the dataset
  group's domain (spec §11.2, §8).
- ``check_replacement``: UpdateDataset. The new schema keeps every existing field.
- ``arrow_schema``: how a dataset with this schema is stored.

Every violation raises ``InvalidInput`` whose message names the field and the rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import fastavro
import orjson

from openpersonalize.data.domain_schemas import (
    DOMAIN_DATASET_TYPES,
    DOMAINS,
    ENTITY_ID_FIELD,
    METADATA_LIMITS,
    RECORD_NAMES,
    FieldRule,
    field_rules,
)
from openpersonalize.data.fields import (
    DATASET_TYPES,
    PRIMITIVE_TYPES,
    ParsedSchema,
    SchemaField,
    arrow_schema,
    normalize_dataset_type,
)
from openpersonalize.errors import InvalidInput

_AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FLAGS = ("categorical", "textual", "itemName")
_ALLOWED_TYPES = ", ".join(PRIMITIVE_TYPES)


def _fail(message: str) -> InvalidInput:
    return InvalidInput(f"Invalid schema: {message}")


# --- CreateSchema ----------------------------------------------------------------------------


def parse_schema(text: str, domain: str | None = None) -> ParsedSchema:
    """Parse and check a CreateSchema document; ``domain`` is CreateSchema's optional domain."""
    _check_domain(domain)
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise _fail(f"not valid JSON ({exc}).") from None
    record_name = _check_record(document)
    raw_fields = document["fields"]
    parsed = ParsedSchema(
        record_name=record_name,
        fields=tuple(_parse_field(raw, position) for position, raw in enumerate(raw_fields, start=1)),
    )
    _check_unique_names(parsed)
    _check_single_flag_use(parsed, "textual")
    _check_single_flag_use(parsed, "item_name")
    _check_avro(document)

    dataset_type = record_dataset_type(parsed)
    if domain is not None and dataset_type is None:
        raise _fail(
            "a domain schema's record name must name the dataset type it describes ("
            + ", ".join(RECORD_NAMES[t] for t in DOMAIN_DATASET_TYPES)
            + f"), got '{record_name}'."
        )
    if dataset_type is not None:
        check_dataset_type(parsed, dataset_type, domain)
    return parsed


def record_dataset_type(schema: ParsedSchema) -> str | None:
    """The dataset type the record name names ('ActionInteractions' -> 'ACTION_INTERACTIONS'), if any."""
    key = _alphanumeric_key(schema.record_name)
    return next((t for t in DATASET_TYPES if _alphanumeric_key(t) == key), None)


def _alphanumeric_key(name: str) -> str:
    # Field names must differ in more than case or punctuation: the camelCase `properties` keys of
    # PutEvents/PutItems could not tell them apart. Record names are matched to types the same way.
    return re.sub(r"[^0-9A-Za-z]", "", name).upper()


def _check_record(document: Any) -> str:
    if not isinstance(document, dict):
        raise _fail("the document must be a JSON object describing an Avro record.")
    if document.get("type") != "record":
        got = f", got {_show(document['type'])}" if "type" in document else ""
        raise _fail(f'"type" must be "record"{got}.')
    name = document.get("name")
    if not isinstance(name, str) or not all(_AVRO_NAME.fullmatch(part) for part in name.split(".")):
        raise _fail(f'the record "name" must be an Avro name ([A-Za-z_][A-Za-z0-9_]*), got {_show(name)}.')
    namespace = document.get("namespace")
    if namespace is not None and not (
        isinstance(namespace, str)
        and (namespace == "" or all(_AVRO_NAME.fullmatch(part) for part in namespace.split(".")))
    ):
        raise _fail(f'"namespace" must be dot-separated Avro names, got {_show(namespace)}.')
    fields = document.get("fields")
    if not isinstance(fields, list) or not fields:
        raise _fail('"fields" must be a non-empty list of field objects.')
    return name.rsplit(".", 1)[-1]


def _parse_field(raw: Any, position: int) -> SchemaField:
    if not isinstance(raw, dict) or "name" not in raw or "type" not in raw:
        raise _fail(f'field #{position} must be a JSON object with a "name" and a "type".')
    name = raw["name"]
    if not isinstance(name, str) or not _AVRO_NAME.fullmatch(name):
        raise _fail(
            f"field #{position} has name {_show(name)}; a field name must be letters, digits and "
            "underscores, not starting with a digit."
        )
    primitive, nullable = _field_type(name, raw["type"])
    flags: dict[str, bool] = {}
    for flag in _FLAGS:
        value = raw.get(flag, False)
        if not isinstance(value, bool):
            raise _fail(f"field '{name}' has \"{flag}\": {_show(value)}; it must be true or false.")
        flags[flag] = value
        if value and primitive != "string":
            raise _fail(f"field '{name}' is {flag} (\"{flag}\": true), but only string fields can be.")
    if flags["categorical"] and flags["textual"]:
        raise _fail(f"field '{name}' cannot be both categorical and textual.")
    return SchemaField(
        name=name,
        type=primitive,
        nullable=nullable,
        categorical=flags["categorical"],
        textual=flags["textual"],
        item_name=flags["itemName"],
    )


def _field_type(name: str, declared: Any) -> tuple[str, bool]:
    """(primitive type, nullable) of a field's Avro type, or InvalidInput if Personalize can't store it."""
    if isinstance(declared, list):
        members = [_primitive_name(member) for member in declared]
        non_null = [m for m in members if m != "null"]
        nulls = len(members) - len(non_null)
        # Avro allows a union of one type (["string"] is "string"), and "null" in either place.
        if len(non_null) == 1 and non_null[0] in PRIMITIVE_TYPES and nulls <= 1:
            return str(non_null[0]), nulls == 1
        raise _fail(
            f"field '{name}' has union type {_show(declared)}; a union must hold exactly one of "
            f'{_ALLOWED_TYPES}, alone or with "null".'
        )
    primitive = _primitive_name(declared)
    if primitive in PRIMITIVE_TYPES:
        return str(primitive), False
    kind = declared.get("type") if isinstance(declared, dict) else declared
    raise _fail(
        f"field '{name}' has type {_show(kind)}; schemas are flat, so a field's type must be one of "
        f'{_ALLOWED_TYPES}, or a union of one of them with "null".'
    )


def _primitive_name(declared: Any) -> str | None:
    """'string' for "string" and for {"type": "string", ...}; None for anything not a primitive."""
    if isinstance(declared, dict):
        declared = declared.get("type")
    if isinstance(declared, str) and (declared in PRIMITIVE_TYPES or declared == "null"):
        return declared
    return None


def _check_unique_names(schema: ParsedSchema) -> None:
    seen: dict[str, str] = {}
    for name in schema.names:
        key = _alphanumeric_key(name)
        if key in seen:
            raise _fail(
                f"field names '{seen[key]}' and '{name}' collide: field names must be unique ignoring "
                "case and non-alphanumeric characters."
            )
        seen[key] = name


def _check_single_flag_use(schema: ParsedSchema, attribute: str) -> None:
    flagged = [f.name for f in schema.fields if getattr(f, attribute)]
    if len(flagged) > 1:
        flag = "itemName" if attribute == "item_name" else attribute
        raise _fail(
            f'at most 1 field may be {flag} ("{flag}": true), got {len(flagged)}: '
            + ", ".join(f"'{n}'" for n in flagged)
            + "."
        )


def _check_avro(document: dict[str, Any]) -> None:
    """Whatever Avro itself rejects (e.g. a field default that doesn't match its type)."""
    try:
        fastavro.parse_schema(document)
    except Exception as exc:  # fastavro's exception types are not a stable contract
        raise _fail(f"not a valid Avro schema ({exc}).") from None


def _show(value: Any) -> str:
    """A short rendering of a JSON value for a message."""
    shown = orjson.dumps(value).decode()
    return shown if len(shown) <= 80 else shown[:77] + "..."


# --- CreateDataset ---------------------------------------------------------------------------


def check_dataset_type(schema: ParsedSchema, dataset_type: str, domain: str | None = None) -> None:
    """The schema fits ``dataset_type`` (any case) in a dataset group of ``domain`` (None = custom)."""
    kind = normalize_dataset_type(dataset_type)
    if kind not in DATASET_TYPES:
        raise InvalidInput(
            f"Invalid dataset type '{dataset_type}': must be one of "
            "Interactions, Items, Users, Actions, Action_Interactions."
        )
    _check_domain(domain)
    if domain is not None and kind not in DOMAIN_DATASET_TYPES:
        raise InvalidInput(f"{kind} datasets cannot be created in a domain dataset group (domain {domain}).")

    prefix = f"Invalid schema for dataset type {kind}" + (f" in domain {domain}" if domain else "")

    def fail(message: str) -> InvalidInput:
        return InvalidInput(f"{prefix}: {message}")

    if record_dataset_type(schema) != kind:
        raise fail(f"the record name must be '{RECORD_NAMES[kind]}', got '{schema.record_name}'.")
    rules = field_rules(kind, domain)
    for rule in rules.values():
        problem = _rule_problem(rule, schema.field(rule.name))
        if problem:
            raise fail(problem)
    for field in schema.fields:
        if field.textual and kind != "ITEMS":
            raise fail(f"field '{field.name}' is textual, but only Items datasets can have textual fields.")
        if field.item_name and kind != "ITEMS":
            raise fail(
                f"field '{field.name}' is itemName, but only Items datasets can have an itemName field."
            )
    _check_metadata_count(schema, kind, rules, fail)


def _check_domain(domain: str | None) -> None:
    if domain is not None and domain not in DOMAINS:
        raise InvalidInput(f"Invalid domain '{domain}': must be one of {', '.join(DOMAINS)}.")


def _rule_problem(rule: FieldRule, field: SchemaField | None) -> str | None:
    expected = " or ".join(rule.types)
    if field is None:
        return f"required field '{rule.name}' ({expected}) is missing." if rule.required else None
    if field.type not in rule.types:
        return f"field '{rule.name}' must be of type {expected}, got {field.type}."
    if rule.required and field.nullable:
        return f"field '{rule.name}' is required and cannot be nullable (remove \"null\" from its type)."
    if rule.categorical is not None and field.categorical != rule.categorical:
        if rule.categorical:
            return f"field '{rule.name}' must be categorical (\"categorical\": true)."
        return f"field '{rule.name}' is reserved and cannot be categorical."
    if rule.textual is not None and field.textual != rule.textual:
        if rule.textual:
            return f"field '{rule.name}' must be textual (\"textual\": true)."
        return f"field '{rule.name}' is reserved and cannot be textual."
    return None


def _check_metadata_count(
    schema: ParsedSchema, kind: str, rules: dict[str, FieldRule], fail: Callable[[str], InvalidInput]
) -> None:
    limit = METADATA_LIMITS[kind]
    id_field = ENTITY_ID_FIELD.get(kind)
    if id_field is not None:
        metadata = [name for name in schema.names if name != id_field]
        if not metadata:
            raise fail(f"a {kind} schema needs at least 1 metadata field besides '{id_field}'.")
        if len(metadata) > limit:
            raise fail(
                f"at most {limit} metadata fields are allowed besides '{id_field}', got {len(metadata)}."
            )
        return
    custom = [name for name in schema.names if name not in rules]
    if len(custom) > limit:
        raise fail(
            f"at most {limit} custom metadata fields (fields that are not required or reserved) are "
            f"allowed, got {len(custom)}: " + ", ".join(f"'{n}'" for n in custom) + "."
        )


# --- UpdateDataset ---------------------------------------------------------------------------


def check_replacement(old: ParsedSchema, new: ParsedSchema) -> None:
    """``new`` may replace ``old`` on a dataset: every existing field stays, with the same type.

    A field may become nullable (existing rows still fit) but not the reverse. New fields may be
    added; the caller still checks ``new`` with ``check_dataset_type`` for the dataset's type.
    """
    if record_dataset_type(old) != record_dataset_type(new):
        raise InvalidInput(
            f"Invalid replacement schema: record name '{new.record_name}' does not describe the same "
            f"dataset type as '{old.record_name}'."
        )
    for before in old.fields:
        after = new.field(before.name)
        if after is None:
            raise InvalidInput(
                f"Invalid replacement schema: field '{before.name}' is missing; a replacement schema must "
                "keep every field of the current schema."
            )
        if after.type != before.type:
            raise InvalidInput(
                f"Invalid replacement schema: field '{before.name}' must keep its type {before.type}, "
                f"got {after.type}."
            )
        if before.nullable and not after.nullable:
            raise InvalidInput(
                f"Invalid replacement schema: field '{before.name}' is nullable in the current schema "
                "and must stay nullable."
            )


__all__ = ["arrow_schema", "check_dataset_type", "check_replacement", "parse_schema", "record_dataset_type"]
