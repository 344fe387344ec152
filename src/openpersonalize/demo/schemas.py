"""Avro schemas (CreateSchema documents) of the demo datasets, valid for a custom dataset group."""

from __future__ import annotations

import json
from typing import Any

_NAMESPACE = "com.amazonaws.personalize.schema"


def _schema(name: str, fields: list[dict[str, Any]]) -> str:
    return json.dumps(
        {"type": "record", "name": name, "namespace": _NAMESPACE, "fields": fields, "version": "1.0"}
    )


INTERACTIONS_SCHEMA = _schema(
    "Interactions",
    [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "DISCOUNT", "type": "string", "categorical": True},
    ],
)

ITEMS_SCHEMA = _schema(
    "Items",
    [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "NAME", "type": "string", "itemName": True},
        {"name": "CATEGORY", "type": "string", "categorical": True},
        {"name": "STYLE", "type": "string", "categorical": True},
        {"name": "PRICE", "type": "double"},
        {"name": "DESCRIPTION", "type": "string", "textual": True},
        {"name": "CREATION_TIMESTAMP", "type": "long"},
    ],
)

USERS_SCHEMA = _schema(
    "Users",
    [
        {"name": "USER_ID", "type": "string"},
        {"name": "AGE", "type": "int"},
        {"name": "GENDER", "type": "string", "categorical": True},
        {"name": "PERSONA", "type": "string", "categorical": True},
    ],
)

SCHEMAS = {"INTERACTIONS": INTERACTIONS_SCHEMA, "ITEMS": ITEMS_SCHEMA, "USERS": USERS_SCHEMA}
