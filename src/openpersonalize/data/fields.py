"""Typed view of a dataset schema, shared by schema validation, CSV import and event ingestion."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pyarrow as pa

# Dataset types as they appear in ARNs and Describe outputs.
DATASET_TYPES = ("INTERACTIONS", "ITEMS", "USERS", "ACTIONS", "ACTION_INTERACTIONS")

# Avro primitive types Personalize accepts for a field (besides "null" in a union).
PRIMITIVE_TYPES = ("string", "int", "long", "float", "double", "boolean")


@dataclass(frozen=True)
class SchemaField:
    name: str
    type: str  # one of PRIMITIVE_TYPES
    nullable: bool = False
    categorical: bool = False
    textual: bool = False
    item_name: bool = False  # Semantic-Similarity's "itemName": true

    @property
    def camel_name(self) -> str:
        """The lowerCamelCase key of this field in a PutEvents/PutItems `properties` JSON string."""
        head, *rest = self.name.lower().split("_")
        return head + "".join(part.capitalize() for part in rest)


@dataclass(frozen=True)
class ParsedSchema:
    record_name: str
    fields: tuple[SchemaField, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> SchemaField | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def without(self, names: set[str]) -> ParsedSchema:
        """The schema less some columns (a recommender's trainingDataConfig excludes them)."""
        return dataclasses.replace(self, fields=tuple(f for f in self.fields if f.name not in names))


# Action_Interactions event types as filters name them (PutActionInteractions sends "Taken",
# "Not Taken", "Viewed"; filters say TAKEN, NOT_TAKEN, VIEWED).
ACTION_TAKEN = "taken"
ACTION_EXPOSED = ("not_taken", "viewed")


def action_event_type(value: str) -> str:
    """An action event type in its one comparable form: "Not Taken" -> "not_taken"."""
    return value.strip().lower().replace(" ", "_")


def normalize_dataset_type(value: str) -> str:
    """'Interactions' / 'interactions' / 'Action_Interactions' -> 'INTERACTIONS' / 'ACTION_INTERACTIONS'."""
    return value.strip().upper()


_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
}


def arrow_type(field: SchemaField) -> pa.DataType:
    """The Arrow type a field's values are stored as."""
    return _ARROW_TYPES[field.type]


def arrow_schema(schema: ParsedSchema) -> pa.Schema:
    """The Arrow schema a dataset with this Personalize schema is stored in, fields in order."""
    return pa.schema([pa.field(f.name, arrow_type(f), nullable=f.nullable) for f in schema.fields])
