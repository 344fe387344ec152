"""Personalize schema rules: CreateSchema parsing, dataset-type fit, replacement, Arrow storage schema."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openpersonalize.data.fields import SchemaField
from openpersonalize.data.schema import (
    arrow_schema,
    check_dataset_type,
    check_replacement,
    parse_schema,
    record_dataset_type,
)
from openpersonalize.errors import InvalidInput


def doc(name: str, *fields: Any, **extra: Any) -> str:
    return json.dumps({"type": "record", "name": name, "fields": list(fields), **extra})


def f(name: str, type_: Any, **flags: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **flags}


def nullable(type_: str) -> list[str]:
    return ["null", type_]


USER_ID = f("USER_ID", "string")
ITEM_ID = f("ITEM_ID", "string")
ACTION_ID = f("ACTION_ID", "string")
TIMESTAMP = f("TIMESTAMP", "long")
EVENT_TYPE = f("EVENT_TYPE", "string")


def rejects(match: str, text: str, domain: str | None = None) -> None:
    with pytest.raises(InvalidInput, match=match):
        parse_schema(text, domain)


def rejects_type(match: str, text: str, dataset_type: str, domain: str | None = None) -> None:
    # parse_schema already checks a schema named after a dataset type; parse the same fields under a
    # neutral record name so that the CreateDataset check itself is what is under test.
    document = json.loads(text)
    schema = parse_schema(json.dumps({**document, "name": "Unlinked"}))
    schema = dataclasses.replace(schema, record_name=document["name"])
    with pytest.raises(InvalidInput, match=match):
        check_dataset_type(schema, dataset_type, domain)


# --- valid schemas, one per dataset type (guide examples) -----------------------------------

SPEC_EXAMPLE = {
    "type": "record",
    "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]},
        {"name": "GENRES", "type": ["null", "string"], "categorical": True},
        {"name": "DESCRIPTION", "type": ["null", "string"], "textual": True},
        {"name": "TIMESTAMP", "type": "long"},
    ],
    "version": "1.0",
}

INTERACTIONS = doc(
    "Interactions",
    USER_ID,
    ITEM_ID,
    EVENT_TYPE,
    f("EVENT_VALUE", nullable("float")),
    f("IMPRESSION", nullable("string")),
    f("LOCATION", "string", categorical=True),
    f("DEVICE", nullable("string"), categorical=True),
    TIMESTAMP,
    namespace="com.amazonaws.personalize.schema",
    version="1.0",
)
USERS = doc("Users", USER_ID, f("AGE", "int"), f("GENDER", "string", categorical=True))
ITEMS = doc(
    "Items",
    ITEM_ID,
    f("GENRES", nullable("string"), categorical=True),
    f("DESCRIPTION", nullable("string"), textual=True),
    f("TITLE", "string", itemName=True),
    f("CREATION_TIMESTAMP", "long"),
)
ACTIONS = doc(
    "Actions",
    ACTION_ID,
    f("VALUE", nullable("long")),
    f("TYPE", nullable("string")),
    f("EXPIRATION_TIMESTAMP", nullable("long")),
    f("REPEAT_FREQUENCY", nullable("long")),
    f("CREATION_TIMESTAMP", "long"),
    f("MEMBERSHIP_LEVEL", "string", categorical=True),
)
ACTION_INTERACTIONS = doc(
    "ActionInteractions", USER_ID, ACTION_ID, TIMESTAMP, EVENT_TYPE, f("IMPRESSION", nullable("string"))
)


@pytest.mark.parametrize(
    ("text", "dataset_type"),
    [
        (INTERACTIONS, "INTERACTIONS"),
        (USERS, "Users"),
        (ITEMS, "items"),
        (ACTIONS, "Actions"),
        (ACTION_INTERACTIONS, "Action_Interactions"),
    ],
)
def test_valid_schema_fits_its_dataset_type(text: str, dataset_type: str) -> None:
    schema = parse_schema(text)
    check_dataset_type(schema, dataset_type)
    assert schema.names == tuple(field["name"] for field in json.loads(text)["fields"])


def test_parse_reads_types_nullability_and_flags() -> None:
    schema = parse_schema(ITEMS)
    assert schema.record_name == "Items"
    assert schema.field("ITEM_ID") == SchemaField("ITEM_ID", "string")
    assert schema.field("GENRES") == SchemaField("GENRES", "string", nullable=True, categorical=True)
    assert schema.field("DESCRIPTION") == SchemaField("DESCRIPTION", "string", nullable=True, textual=True)
    assert schema.field("TITLE") == SchemaField("TITLE", "string", item_name=True)
    assert schema.field("CREATION_TIMESTAMP") == SchemaField("CREATION_TIMESTAMP", "long")


def test_spec_example_syntax_parses_and_textual_is_only_for_items() -> None:
    # §11.1's example shows the syntax; its textual field keeps it from being an Interactions dataset.
    generic = parse_schema(json.dumps({**SPEC_EXAMPLE, "name": "Example"}))
    assert generic.field("EVENT_VALUE") == SchemaField("EVENT_VALUE", "float", nullable=True)
    assert generic.field("GENRES") == SchemaField("GENRES", "string", nullable=True, categorical=True)
    assert record_dataset_type(generic) is None
    rejects(r"'DESCRIPTION' is textual, but only Items datasets", json.dumps(SPEC_EXAMPLE))


def test_union_order_and_dict_type_forms_are_accepted() -> None:
    schema = parse_schema(
        doc(
            "Users",
            USER_ID,
            f("A", ["long", "null"]),
            f("B", {"type": "double"}),
            f("C", ["null", {"type": "int"}]),
        )
    )
    assert schema.field("A") == SchemaField("A", "long", nullable=True)
    assert schema.field("B") == SchemaField("B", "double")
    assert schema.field("C") == SchemaField("C", "int", nullable=True)


def test_record_name_maps_to_dataset_type() -> None:
    assert record_dataset_type(parse_schema(ACTION_INTERACTIONS)) == "ACTION_INTERACTIONS"
    assert record_dataset_type(parse_schema(doc("com.example.Users", USER_ID, f("AGE", "int")))) == "USERS"
    assert record_dataset_type(parse_schema(doc("MovieRatings", USER_ID))) is None


def test_a_schema_whose_name_names_no_dataset_type_parses_but_fits_no_dataset() -> None:
    schema = parse_schema(doc("MovieRatings", USER_ID, ITEM_ID, TIMESTAMP))
    with pytest.raises(
        InvalidInput, match=r"INTERACTIONS: the record name must be 'Interactions', got 'MovieRatings'"
    ):
        check_dataset_type(schema, "Interactions")


# --- CreateSchema: document-level rules -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", r"not valid JSON"),
        ("{'type': 'record'}", r"not valid JSON"),
        ('["string"]', r"must be a JSON object describing an Avro record"),
        ('{"type": "enum", "name": "Items", "symbols": ["A"]}', r'"type" must be "record", got "enum"'),
        ('{"name": "Items", "fields": []}', r'"type" must be "record"\.'),
        (doc("Inter actions", USER_ID), r'record "name" must be an Avro name'),
        (doc("Users", USER_ID, namespace="a..b"), r'"namespace" must be dot-separated Avro names'),
        ('{"type": "record", "name": "Users"}', r'"fields" must be a non-empty list'),
        (doc("Users"), r'"fields" must be a non-empty list'),
        (doc("Users", USER_ID, "AGE"), r'field #2 must be a JSON object with a "name" and a "type"'),
        (doc("Users", USER_ID, {"name": "AGE"}), r"field #2 must be a JSON object"),
    ],
)
def test_document_level_errors(text: str, match: str) -> None:
    rejects(match, text)


@pytest.mark.parametrize("name", ["USER-ID", "1ST", "", "A B", 7])
def test_field_names_must_be_avro_names(name: Any) -> None:
    rejects(r"field #2 has name .*letters, digits and underscores", doc("Users", USER_ID, f(name, "int")))


# --- CreateSchema: field types ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "shown"),
    [
        ("bytes", '"bytes"'),
        ("strin", '"strin"'),
        ({"type": "array", "items": "string"}, '"array"'),
        ({"type": "map", "values": "string"}, '"map"'),
        ({"type": "record", "name": "Inner", "fields": []}, '"record"'),
        ({"type": "enum", "name": "E", "symbols": ["A"]}, '"enum"'),
        ({"type": "fixed", "name": "F", "size": 2}, '"fixed"'),
        ("null", '"null"'),
    ],
)
def test_field_types_must_be_flat_primitives(type_: Any, shown: str) -> None:
    rejects(
        rf"field 'GENRE' has type {re.escape(shown)}; schemas are flat.*string, int, long, float, double, boolean",
        doc("Users", USER_ID, f("GENRE", type_)),
    )


@pytest.mark.parametrize(
    "union", [["null"], ["null", "null"], ["string", "int"], ["null", "string", "int"], ["null", "bytes"]]
)
def test_unions_hold_exactly_one_primitive_with_or_without_null(union: list[str]) -> None:
    rejects(
        r"field 'GENRE' has union type .*a union must hold exactly one of .*, alone or with \"null\"",
        doc("Users", USER_ID, f("GENRE", union)),
    )


@pytest.mark.parametrize(("union", "nullable"), [(["string"], False), (["string", "null"], True)])
def test_a_union_of_one_type_is_that_type(union: list[str], nullable: bool) -> None:
    """AWS's VIDEO_ON_DEMAND sample schemas declare {"type": ["string"], "categorical": true}."""
    parsed = parse_schema(doc("Users", USER_ID, f("GENRE", union, categorical=True)))
    genre = parsed.field("GENRE")
    assert genre is not None and (genre.type, genre.nullable, genre.categorical) == ("string", nullable, True)


def test_avro_rules_beyond_ours_come_from_fastavro() -> None:
    rejects(r"not a valid Avro schema", doc("Users", USER_ID, f("AGE", nullable("int"), default="old")))


# --- CreateSchema: names and flags -----------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"), [("GENRES_FIELD_1", "GENRESFIELD1"), ("GENRE", "genre"), ("AGE", "AGE")]
)
def test_field_names_must_be_unique_alphanumerically(first: str, second: str) -> None:
    rejects(
        rf"field names '{first}' and '{second}' collide",
        doc("Users", USER_ID, f(first, "int"), f(second, "int")),
    )


@pytest.mark.parametrize("flag", ["categorical", "textual", "itemName"])
def test_flags_only_on_string_fields(flag: str) -> None:
    rejects(
        rf"field 'PRICE' is {flag} \(\"{flag}\": true\), but only string fields can be",
        doc("Items", ITEM_ID, f("PRICE", "float", **{flag: True})),
    )


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_flags_must_be_booleans(value: Any) -> None:
    rejects(
        r"field 'GENRE' has \"categorical\": .*; it must be true or false",
        doc("Items", ITEM_ID, f("GENRE", "string", categorical=value)),
    )


def test_a_field_cannot_be_both_categorical_and_textual() -> None:
    rejects(
        r"field 'GENRE' cannot be both categorical and textual",
        doc("Items", ITEM_ID, f("GENRE", "string", categorical=True, textual=True)),
    )


def test_at_most_one_textual_field() -> None:
    rejects(
        r"at most 1 field may be textual .*got 2: 'DESCRIPTION', 'REVIEW'",
        doc("Items", ITEM_ID, f("DESCRIPTION", "string", textual=True), f("REVIEW", "string", textual=True)),
    )


def test_at_most_one_item_name_field() -> None:
    rejects(
        r"at most 1 field may be itemName .*'TITLE', 'NAME'",
        doc("Items", ITEM_ID, f("TITLE", "string", itemName=True), f("NAME", "string", itemName=True)),
    )


# --- CreateSchema / CreateDataset: required and reserved fields ------------------------------


def test_reserved_type_error_at_create_schema_names_field_and_type() -> None:
    rejects(
        r"INTERACTIONS: field 'TIMESTAMP' must be of type long, got string\.",
        doc("Interactions", USER_ID, ITEM_ID, f("TIMESTAMP", "string")),
    )


@pytest.mark.parametrize(
    ("dataset_type", "text", "match"),
    [
        (
            "INTERACTIONS",
            doc("Interactions", USER_ID, TIMESTAMP),
            r"required field 'ITEM_ID' \(string\) is missing",
        ),
        (
            "INTERACTIONS",
            doc("Interactions", USER_ID, f("ITEM_ID", "int"), TIMESTAMP),
            r"'ITEM_ID' must be of type string, got int",
        ),
        (
            "INTERACTIONS",
            doc("Interactions", USER_ID, ITEM_ID, f("TIMESTAMP", "int")),
            r"'TIMESTAMP' must be of type long, got int",
        ),
        (
            "INTERACTIONS",
            doc("Interactions", f("USER_ID", nullable("string")), ITEM_ID, TIMESTAMP),
            r"'USER_ID' is required and cannot be nullable",
        ),
        (
            "INTERACTIONS",
            doc("Interactions", USER_ID, ITEM_ID, TIMESTAMP, f("EVENT_TYPE", "string", categorical=True)),
            r"'EVENT_TYPE' is reserved and cannot be categorical",
        ),
        (
            "INTERACTIONS",
            doc("Interactions", USER_ID, ITEM_ID, TIMESTAMP, f("EVENT_VALUE", "string")),
            r"'EVENT_VALUE' must be of type float or double, got string",
        ),
        (
            "INTERACTIONS",
            doc("Interactions", USER_ID, ITEM_ID, TIMESTAMP, f("IMPRESSION", "long")),
            r"'IMPRESSION' must be of type string, got long",
        ),
        (
            "INTERACTIONS",
            doc("Interactions", f("USER_ID", "string", categorical=True), ITEM_ID, TIMESTAMP),
            r"'USER_ID' is reserved and cannot be categorical",
        ),
        (
            "INTERACTIONS",
            doc("Interactions", USER_ID, ITEM_ID, TIMESTAMP, f("TITLE", "string", itemName=True)),
            r"'TITLE' is itemName, but only Items datasets",
        ),
        ("USERS", doc("Users", f("AGE", "int")), r"required field 'USER_ID' \(string\) is missing"),
        (
            "ITEMS",
            doc("Items", ITEM_ID, f("CREATION_TIMESTAMP", "int")),
            r"'CREATION_TIMESTAMP' must be of type long, got int",
        ),
        ("ITEMS", doc("Items", f("TITLE", "string")), r"required field 'ITEM_ID' \(string\) is missing"),
        (
            "ACTIONS",
            doc("Actions", ACTION_ID, f("VALUE", "float")),
            r"'VALUE' must be of type int or long, got float",
        ),
        (
            "ACTIONS",
            doc("Actions", ACTION_ID, f("EXPIRATION_TIMESTAMP", "string")),
            r"'EXPIRATION_TIMESTAMP' must be of type long",
        ),
        (
            "ACTION_INTERACTIONS",
            doc("ActionInteractions", USER_ID, ACTION_ID, TIMESTAMP),
            r"required field 'EVENT_TYPE' \(string\) is missing",
        ),
        (
            "ACTION_INTERACTIONS",
            doc(
                "ActionInteractions",
                USER_ID,
                ACTION_ID,
                TIMESTAMP,
                EVENT_TYPE,
                f("NOTE", "string", textual=True),
            ),
            r"'NOTE' is textual, but only Items datasets",
        ),
    ],
)
def test_required_and_reserved_field_rules(dataset_type: str, text: str, match: str) -> None:
    rejects_type(rf"Invalid schema for dataset type {dataset_type}: .*{match}", text, dataset_type)
    rejects(match, text)  # the record name names the type, so CreateSchema already says so


def test_record_name_must_match_dataset_type() -> None:
    with pytest.raises(
        InvalidInput, match=r"dataset type ITEMS: the record name must be 'Items', got 'Users'"
    ):
        check_dataset_type(parse_schema(USERS), "Items")


def test_unknown_dataset_type() -> None:
    with pytest.raises(InvalidInput, match=r"Invalid dataset type 'Events'"):
        check_dataset_type(parse_schema(USERS), "Events")


# --- CreateDataset: metadata counts -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "id_field"), [("Users", "USER_ID"), ("Items", "ITEM_ID"), ("Actions", "ACTION_ID")]
)
def test_entity_datasets_need_a_metadata_field(name: str, id_field: str) -> None:
    rejects(rf"needs at least 1 metadata field besides '{id_field}'", doc(name, f(id_field, "string")))


@pytest.mark.parametrize(
    ("name", "id_field", "limit"),
    [("Users", "USER_ID", 25), ("Items", "ITEM_ID", 100), ("Actions", "ACTION_ID", 10)],
)
def test_entity_metadata_limits(name: str, id_field: str, limit: int) -> None:
    at_limit = [f(f"M{i}", "int") for i in range(limit)]
    parse_schema(doc(name, f(id_field, "string"), *at_limit))
    rejects(
        rf"at most {limit} metadata fields are allowed besides '{id_field}', got {limit + 1}",
        doc(name, f(id_field, "string"), *at_limit, f("EXTRA", "int")),
    )


@pytest.mark.parametrize(
    ("name", "required"),
    [
        ("Interactions", (USER_ID, ITEM_ID, TIMESTAMP)),
        ("ActionInteractions", (USER_ID, ACTION_ID, TIMESTAMP, EVENT_TYPE)),
    ],
)
def test_interactions_allow_five_custom_metadata_fields_besides_reserved(
    name: str, required: tuple[Any, ...]
) -> None:
    custom = [f(f"CONTEXT_{i}", "string", categorical=True) for i in range(5)]
    parse_schema(
        doc(
            name,
            *required,
            f("IMPRESSION", nullable("string")),
            f("RECOMMENDATION_ID", nullable("string")),
            *custom,
        )
    )
    rejects(
        r"at most 5 custom metadata fields .*got 6: 'CONTEXT_0'.*'CONTEXT_5'",
        doc(name, *required, *custom, f("CONTEXT_5", "int")),
    )


# --- domains ----------------------------------------------------------------------------------

ECOMMERCE_ITEMS = doc(
    "Items",
    ITEM_ID,
    f("PRICE", "float"),
    f("CATEGORY_L1", "string", categorical=True),
    f("CATEGORY_L2", nullable("string"), categorical=True),
    f("PRODUCT_DESCRIPTION", nullable("string"), textual=True),
    f("GENDER", nullable("string"), categorical=True),
    f("CREATION_TIMESTAMP", "long"),
)
VOD_ITEMS = doc(
    "Items",
    ITEM_ID,
    f("GENRES", "string", categorical=True),
    f("CREATION_TIMESTAMP", "long"),
    f("AVERAGE_RATING", nullable("float")),
    f("CONTENT_CLASSIFICATION", nullable("string"), categorical=True),
)
DOMAIN_INTERACTIONS = doc("Interactions", USER_ID, ITEM_ID, EVENT_TYPE, TIMESTAMP)


@pytest.mark.parametrize(
    ("domain", "text", "dataset_type"),
    [
        ("ECOMMERCE", DOMAIN_INTERACTIONS, "INTERACTIONS"),
        ("ECOMMERCE", ECOMMERCE_ITEMS, "ITEMS"),
        ("ECOMMERCE", USERS, "USERS"),
        ("VIDEO_ON_DEMAND", DOMAIN_INTERACTIONS, "INTERACTIONS"),
        ("VIDEO_ON_DEMAND", VOD_ITEMS, "ITEMS"),
        (
            "VIDEO_ON_DEMAND",
            doc("Users", USER_ID, f("SUBSCRIPTION_MODEL", "string", categorical=True)),
            "USERS",
        ),
    ],
)
def test_valid_domain_schemas(domain: str, text: str, dataset_type: str) -> None:
    check_dataset_type(parse_schema(text, domain), dataset_type, domain)


@pytest.mark.parametrize(
    ("domain", "text", "match"),
    [
        (
            "ECOMMERCE",
            doc("Interactions", USER_ID, ITEM_ID, TIMESTAMP),
            r"required field 'EVENT_TYPE' \(string\) is missing",
        ),
        ("VIDEO_ON_DEMAND", doc("Interactions", USER_ID, ITEM_ID, TIMESTAMP), r"required field 'EVENT_TYPE'"),
        (
            "ECOMMERCE",
            doc("Items", ITEM_ID, f("CATEGORY_L1", "string", categorical=True)),
            r"required field 'PRICE' \(float or double\) is missing",
        ),
        (
            "ECOMMERCE",
            doc("Items", ITEM_ID, f("PRICE", "float"), f("CATEGORY_L1", "string")),
            r"'CATEGORY_L1' must be categorical",
        ),
        (
            "ECOMMERCE",
            doc(
                "Items",
                ITEM_ID,
                f("PRICE", "float"),
                f("CATEGORY_L1", "string", categorical=True),
                f("PRODUCT_DESCRIPTION", "string"),
            ),
            r"'PRODUCT_DESCRIPTION' must be textual",
        ),
        (
            "VIDEO_ON_DEMAND",
            doc("Items", ITEM_ID, f("GENRES", "string", categorical=True)),
            r"required field 'CREATION_TIMESTAMP' \(long\) is missing",
        ),
        (
            "VIDEO_ON_DEMAND",
            doc("Items", ITEM_ID, f("GENRES", "string"), f("CREATION_TIMESTAMP", "long")),
            r"'GENRES' must be categorical",
        ),
        (
            "VIDEO_ON_DEMAND",
            doc("Users", USER_ID, f("SUBSCRIPTION_MODEL", "string")),
            r"'SUBSCRIPTION_MODEL' must be categorical",
        ),
    ],
)
def test_domain_rules(domain: str, text: str, match: str) -> None:
    rejects(rf"in domain {domain}: .*{match}", text, domain)
    custom = parse_schema(text)  # the same document is fine in a custom dataset group
    check_dataset_type(custom, custom.record_name)
    rejects_type(match, text, custom.record_name, domain)


def test_domain_schema_must_name_its_dataset_type() -> None:
    rejects(
        r"a domain schema's record name must name the dataset type it describes \(Interactions, Items, Users\), got 'Ratings'",
        doc("Ratings", USER_ID),
        "ECOMMERCE",
    )


@pytest.mark.parametrize("text", [ACTIONS, ACTION_INTERACTIONS])
def test_actions_datasets_are_not_allowed_in_domains(text: str) -> None:
    rejects(
        r"datasets cannot be created in a domain dataset group \(domain VIDEO_ON_DEMAND\)",
        text,
        "VIDEO_ON_DEMAND",
    )
    schema = parse_schema(text)
    with pytest.raises(
        InvalidInput, match=r"datasets cannot be created in a domain dataset group \(domain ECOMMERCE\)"
    ):
        check_dataset_type(schema, record_dataset_type(schema) or "", "ECOMMERCE")


def test_unknown_domain() -> None:
    rejects(r"Invalid domain 'RETAIL'", USERS, "RETAIL")


# --- UpdateDataset ----------------------------------------------------------------------------


def test_replacement_may_add_fields_and_widen_nullability() -> None:
    old = parse_schema(doc("Users", USER_ID, f("AGE", "int")))
    new = parse_schema(
        doc("Users", USER_ID, f("AGE", nullable("int")), f("TIER", "string", categorical=True))
    )
    check_replacement(old, new)


@pytest.mark.parametrize(
    ("new", "match"),
    [
        (
            doc("Users", USER_ID, f("TIER", "string")),
            r"field 'AGE' is missing; a replacement schema must keep every field",
        ),
        (
            doc("Users", USER_ID, f("AGE", "long"), f("TIER", nullable("string"))),
            r"field 'AGE' must keep its type int, got long",
        ),
        (
            doc("Users", USER_ID, f("AGE", "int"), f("TIER", "string")),
            r"field 'TIER' is nullable .* must stay nullable",
        ),
        (
            doc("Items", ITEM_ID, USER_ID, f("AGE", "int"), f("TIER", nullable("string"))),
            r"does not describe the same dataset type",
        ),
    ],
)
def test_replacement_errors(new: str, match: str) -> None:
    old = parse_schema(doc("Users", USER_ID, f("AGE", "int"), f("TIER", nullable("string"))))
    with pytest.raises(InvalidInput, match=rf"Invalid replacement schema: .*{match}"):
        check_replacement(old, parse_schema(new))


# --- Arrow storage schema ---------------------------------------------------------------------


def test_arrow_schema_maps_types_and_nullability_in_order() -> None:
    schema = parse_schema(
        doc(
            "Users",
            USER_ID,
            f("AGE", "int"),
            f("VISITS", nullable("long")),
            f("SCORE", "float"),
            f("BALANCE", nullable("double")),
            f("ACTIVE", "boolean"),
        )
    )
    assert arrow_schema(schema) == pa.schema(
        [
            pa.field("USER_ID", pa.string(), nullable=False),
            pa.field("AGE", pa.int32(), nullable=False),
            pa.field("VISITS", pa.int64(), nullable=True),
            pa.field("SCORE", pa.float32(), nullable=False),
            pa.field("BALANCE", pa.float64(), nullable=True),
            pa.field("ACTIVE", pa.bool_(), nullable=False),
        ]
    )


# --- fuzz: only ever InvalidInput -------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
# Mostly plausible pieces, so that generated documents get past the first checks and reach the
# field, dataset-type and domain rules; now and then any JSON value at all.
primitive_names = st.sampled_from(["string", "int", "long", "float", "double", "boolean", "null", "bytes"])
type_values = st.one_of(
    primitive_names,
    st.lists(primitive_names, min_size=1, max_size=3),
    st.fixed_dictionaries({"type": primitive_names | st.sampled_from(["array", "record", "enum"])}),
    json_values,
)
field_names = st.sampled_from(
    [
        "USER_ID",
        "ITEM_ID",
        "ACTION_ID",
        "TIMESTAMP",
        "EVENT_TYPE",
        "EVENT_VALUE",
        "CREATION_TIMESTAMP",
        "PRICE",
        "CATEGORY_L1",
        "GENRES",
        "A",
        "a",
        "B_1",
        "B1",
        "1X",
    ]
)
field_values: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {"name": field_names, "type": type_values},
    optional={
        "categorical": st.booleans(),
        "textual": st.booleans(),
        "itemName": st.booleans(),
        "default": json_values,
    },
)
record_parts: dict[str, st.SearchStrategy[Any]] = {
    "type": st.just("record"),
    "name": st.sampled_from(["Interactions", "Items", "Users", "Actions", "ActionInteractions", "X", "a.b"]),
    "fields": st.lists(field_values, min_size=1, max_size=8, unique_by=lambda field: str(field["name"])),
}
record_values = st.fixed_dictionaries(
    record_parts,
    optional={"namespace": st.sampled_from(["", "com.example", "bad..ns"]), "version": json_values},
)


def only_invalid_input(text: str, domain: str | None = None) -> None:
    # Any other exception escapes and fails the test.
    try:
        parse_schema(text, domain)
    except InvalidInput as exc:
        assert exc.message


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text() | json_values.map(json.dumps))
def test_arbitrary_text_raises_only_invalid_input(text: str) -> None:
    only_invalid_input(text)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(record_values, st.sampled_from([None, "ECOMMERCE", "VIDEO_ON_DEMAND"]))
def test_record_shaped_json_raises_only_invalid_input(record: dict[str, Any], domain: str | None) -> None:
    only_invalid_input(json.dumps(record), domain)
