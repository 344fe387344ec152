"""What each dataset type requires and reserves, for custom dataset groups and for each domain.

Sources: spec §11.2 (custom dataset groups, current guide) and §8 (ECOMMERCE / VIDEO_ON_DEMAND
default schemas). A domain's table only adds or tightens rules on top of the custom table.
"""

from __future__ import annotations

from dataclasses import dataclass

DOMAINS = ("ECOMMERCE", "VIDEO_ON_DEMAND")

# Actions / Action_Interactions datasets cannot be created in a domain dataset group (spec §8).
DOMAIN_DATASET_TYPES = ("INTERACTIONS", "ITEMS", "USERS")

# The record "name" of a schema for each dataset type (the guide's examples); matched ignoring case
# and underscores, so "Action_Interactions" is accepted too.
RECORD_NAMES = {
    "INTERACTIONS": "Interactions",
    "ITEMS": "Items",
    "USERS": "Users",
    "ACTIONS": "Actions",
    "ACTION_INTERACTIONS": "ActionInteractions",
}

STRING = ("string",)
LONG = ("long",)
# Where the guide names "float" or "long" for a value (not an id or a timestamp) we also accept
# the wider/narrower sibling: the data reads the same and clients copy either from examples.
FLOATING = ("float", "double")
INTEGRAL = ("int", "long")


@dataclass(frozen=True)
class FieldRule:
    """The rule for one required or reserved field name of a dataset type.

    ``categorical`` / ``textual``: True = the field must carry the flag, False = it must not,
    None = either is fine.
    """

    name: str
    types: tuple[str, ...]
    required: bool = False
    categorical: bool | None = None
    textual: bool | None = False


def _id(name: str) -> FieldRule:
    return FieldRule(name, STRING, required=True, categorical=False)


def _plain_string(name: str, *, required: bool = False) -> FieldRule:
    return FieldRule(name, STRING, required=required, categorical=False)


def _categorical(name: str, *, required: bool = False) -> FieldRule:
    return FieldRule(name, STRING, required=required, categorical=True)


_TIMESTAMP = FieldRule("TIMESTAMP", LONG, required=True)
_CREATION_TIMESTAMP = FieldRule("CREATION_TIMESTAMP", LONG)

CUSTOM_RULES: dict[str, tuple[FieldRule, ...]] = {
    "INTERACTIONS": (
        _id("USER_ID"),
        _id("ITEM_ID"),
        _TIMESTAMP,
        _plain_string("EVENT_TYPE"),
        FieldRule("EVENT_VALUE", FLOATING),
        _plain_string("IMPRESSION"),
        _plain_string("RECOMMENDATION_ID"),
        _plain_string("EVENT_ATTRIBUTION_SOURCE"),
    ),
    "USERS": (_id("USER_ID"),),
    "ITEMS": (_id("ITEM_ID"), _CREATION_TIMESTAMP),
    "ACTIONS": (
        _id("ACTION_ID"),
        _CREATION_TIMESTAMP,
        FieldRule("VALUE", INTEGRAL),
        FieldRule("TYPE", STRING),
        FieldRule("EXPIRATION_TIMESTAMP", LONG),
        FieldRule("REPEAT_FREQUENCY", INTEGRAL),
    ),
    "ACTION_INTERACTIONS": (
        _id("USER_ID"),
        _id("ACTION_ID"),
        _TIMESTAMP,
        _plain_string("EVENT_TYPE", required=True),
        _plain_string("IMPRESSION"),
        _plain_string("RECOMMENDATION_ID"),
    ),
}

_DOMAIN_INTERACTIONS = (_plain_string("EVENT_TYPE", required=True),)

DOMAIN_RULES: dict[tuple[str, str], tuple[FieldRule, ...]] = {
    ("ECOMMERCE", "INTERACTIONS"): _DOMAIN_INTERACTIONS,
    ("VIDEO_ON_DEMAND", "INTERACTIONS"): _DOMAIN_INTERACTIONS,
    ("ECOMMERCE", "ITEMS"): (
        FieldRule("PRICE", FLOATING, required=True),
        _categorical("CATEGORY_L1", required=True),
        _categorical("CATEGORY_L2"),
        _categorical("CATEGORY_L3"),
        FieldRule("PRODUCT_DESCRIPTION", STRING, categorical=False, textual=True),
        _categorical("AGE_GROUP"),
        _categorical("ADULT"),
        _categorical("GENDER"),
    ),
    ("VIDEO_ON_DEMAND", "ITEMS"): (
        _categorical("GENRES", required=True),
        FieldRule("CREATION_TIMESTAMP", LONG, required=True),
        FieldRule("PRICE", FLOATING),
        FieldRule("DURATION", FLOATING),
        FieldRule("AVERAGE_RATING", FLOATING),
        _categorical("GENRE_L2"),
        _categorical("GENRE_L3"),
        _categorical("CONTENT_OWNER"),
        _categorical("CONTENT_CLASSIFICATION"),
        FieldRule("PRODUCT_DESCRIPTION", STRING, categorical=False, textual=True),
    ),
    ("VIDEO_ON_DEMAND", "USERS"): (_categorical("SUBSCRIPTION_MODEL"),),
}

# Datasets describing one entity per row: every field but the id is a metadata field.
ENTITY_ID_FIELD = {"USERS": "USER_ID", "ITEMS": "ITEM_ID", "ACTIONS": "ACTION_ID"}

# Max metadata fields (spec §11.2, §19). For the two interaction types this counts only custom
# columns, i.e. fields that are neither required nor reserved.
METADATA_LIMITS = {"USERS": 25, "ITEMS": 100, "ACTIONS": 10, "INTERACTIONS": 5, "ACTION_INTERACTIONS": 5}


def field_rules(dataset_type: str, domain: str | None = None) -> dict[str, FieldRule]:
    """The rules by field name for a (normalized) dataset type, with the domain's rules on top."""
    rules = {rule.name: rule for rule in CUSTOM_RULES[dataset_type]}
    if domain is not None:
        rules.update({rule.name: rule for rule in DOMAIN_RULES.get((domain, dataset_type), ())})
    return rules
