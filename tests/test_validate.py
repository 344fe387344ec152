"""Server-side request validation against the three Personalize models (api/validate.py)."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

import botocore.session
import pytest
from botocore.model import OperationModel, ServiceModel, Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openpersonalize.api.java_regex import compile_java_regex, translate_java_regex
from openpersonalize.api.validate import MAX_REPORTED, java_double, validate
from openpersonalize.errors import SerializationError, ValidationError

SERVICES = ("personalize", "personalize-events", "personalize-runtime")


@cache
def model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


def op(service: str, name: str) -> OperationModel:
    return model(service).operation_model(name)


def all_operations() -> list[OperationModel]:
    return [op(service, name) for service in SERVICES for name in model(service).operation_names]


def error_of(operation: OperationModel, params: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        validate(operation, params)
    return caught.value.message


def serialization_error_of(operation: OperationModel, params: Any) -> str:
    with pytest.raises(SerializationError) as caught:
        validate(operation, params)
    return caught.value.message


# A realistic valid value, and an invalid one, for every pattern in the three models.
PATTERN_EXAMPLES: dict[str, tuple[str, str]] = {
    r"arn:([a-z\d-]+):personalize:.*:.*:.+": (
        "arn:aws:personalize:us-east-1:123456789012:dataset-group/retail",
        "arn:aws:s3:::bucket",
    ),
    r"[A-Za-z_][A-Za-z\d_]*": ("ITEM_ID", "1ITEM"),
    r"^[A-Za-z_]+$": ("Items", "Items2"),
    r"arn:aws.*:kms:.*:[0-9]{12}:key/.*": (
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:12345:key/x",
    ),
    r"^[a-zA-Z0-9][a-zA-Z0-9\-_]*": ("retail-demo_1", "-retail"),
    r"\p{ASCII}{0,1500}": ("eyJuZXh0VG9rZW4iOiAiMTAifQ==", "tökén"),
    r"arn:([a-z\d-]+):iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+": (
        "arn:aws:iam::123456789012:role/service-role/PersonalizeRole",
        "arn:aws:iam::12345678901٢:role/PersonalizeRole",  # Java's \d is ASCII only
    ),
    r"(s3|http|https)://.+": ("s3://bucket/path/interactions.csv", "ftp://bucket/x"),
    r"rate\(\d+ days?\)": ("rate(7 days)", "rate(7 weeks)"),
    r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$": ("Cost Center: Zürich/東京_2024 ٣", "team{a}"),
    r"^[\x20-\x7E]*[\x21-\x7E]+[\x20-\x7E]*$": ("email campaign #1", "   "),
    r"[A-Za-z\d_]+": ("DEVICE_TYPE", "DEVICE-TYPE"),
    r"[A-Za-z0-9_]+": ("CATEGORY_L1", "CATEGORY L1"),
}


def model_shapes() -> list[Shape]:
    return [model(service).shape_for(name) for service in SERVICES for name in model(service).shape_names]


def test_every_model_pattern_has_an_example():
    patterns = {shape.metadata["pattern"] for shape in model_shapes() if "pattern" in shape.metadata}
    assert patterns == set(PATTERN_EXAMPLES)


@pytest.mark.parametrize("pattern", sorted(PATTERN_EXAMPLES))
def test_model_patterns_compile_and_match_with_java_semantics(pattern):
    valid, invalid = PATTERN_EXAMPLES[pattern]
    compiled = compile_java_regex(pattern)
    assert compiled.fullmatch(valid)
    assert not compiled.fullmatch(invalid)
    assert compile_java_regex(pattern) is compiled  # cached


def test_translation_follows_java_classes():
    letters = compile_java_regex(r"\p{L}+")
    assert letters.fullmatch("éжñ中Ω") and not letters.fullmatch("a1")
    assert compile_java_regex(r"\p{Lu}").fullmatch("Ж") and not compile_java_regex(r"\p{Lu}").fullmatch("ж")
    assert compile_java_regex(r"\p{N}").fullmatch("٣") and compile_java_regex(r"\P{N}").fullmatch("x")
    assert compile_java_regex(r"[\p{Z}]").fullmatch("\u00a0")
    assert compile_java_regex(r"\p{IsL}").fullmatch("λ")
    assert not compile_java_regex(r"\d").fullmatch("٣")  # Java's \d is [0-9]
    assert not compile_java_regex(r"\w").fullmatch("é")
    assert not compile_java_regex(r"a.b").fullmatch("a\rb")  # "." stops at every line terminator
    assert compile_java_regex(r"\Qa.b\E").fullmatch("a.b") and not compile_java_regex(r"\Qa.b\E").fullmatch(
        "axb"
    )
    named = compile_java_regex(r"(?<word>[a-z]+)").fullmatch("abc")
    assert named is not None and named.group("word") == "abc"
    assert translate_java_regex(r"[^\d]") == "[^0-9]"


@pytest.mark.parametrize("pattern", [r"[a-z&&[^b]]", r"[\P{L}]", r"\p{Bogus}", r"\k<x>", "[abc"])
def test_unsupported_java_constructs_are_refused(pattern):
    with pytest.raises(ValueError):
        translate_java_regex(pattern)


# --- valid requests built from the models ------------------------------------------------------


def valid_value(shape: Shape, full: bool) -> Any:
    """A value meeting every constraint: required members only, or every member when ``full``."""
    meta, kind = shape.metadata, shape.type_name
    if kind == "structure":
        names = shape.members if full else shape.required_members
        return {name: valid_value(shape.members[name], full) for name in names}
    if kind in ("list", "map"):
        count = min(max(meta.get("min", 0), 1 if full else 0), meta.get("max", 1))
        if kind == "list":
            return [valid_value(shape.member, full) for _ in range(count)]
        return {valid_value(shape.key, full): valid_value(shape.value, full) for _ in range(count)}
    if kind == "string":
        if "enum" in meta:
            return meta["enum"][0]
        if "pattern" in meta:
            return PATTERN_EXAMPLES[meta["pattern"]][0]
        return "x" * min(max(meta.get("min", 1), 1), meta.get("max", 10))
    if kind in ("integer", "long", "float", "double"):
        number = 1 if kind in ("integer", "long") else 0.5
        return min(max(number, meta.get("min", number)), meta.get("max", number))
    return {"boolean": True, "timestamp": 1704067200, "blob": "AAAA"}[kind]


def as_deserialized(shape: Shape, value: Any) -> Any:
    """What validate() should return for a valid ``value``: timestamps become float seconds."""
    kind = shape.type_name
    if kind == "structure":
        return {name: as_deserialized(shape.members[name], item) for name, item in value.items()}
    if kind == "list":
        return [as_deserialized(shape.member, item) for item in value]
    if kind == "map":
        return {key: as_deserialized(shape.value, item) for key, item in value.items()}
    if kind in ("timestamp", "float", "double"):
        return float(value)
    return value


def test_there_are_79_operations():
    assert len(all_operations()) == 79


@pytest.mark.parametrize("full", [False, True], ids=["required-only", "every-member"])
def test_every_operation_accepts_a_valid_request(full):
    for operation in all_operations():
        request = valid_value(operation.input_shape, full)
        assert validate(operation, request) == as_deserialized(operation.input_shape, request), operation.name


def test_every_operation_reports_each_missing_required_member():
    for operation in all_operations():
        required = operation.input_shape.required_members
        if not required:
            assert validate(operation, {}) == {}
            continue
        message = error_of(operation, {})
        count = min(len(required), MAX_REPORTED)
        assert message.startswith(f"{count} validation error{'s' if count > 1 else ''} detected: ")
        for name in required:
            assert f"Value null at '{name}' failed to satisfy constraint: Member must not be null" in message


# --- messages, one constraint at a time ---------------------------------------------------------


def test_required_missing():
    assert error_of(op("personalize", "CreateDatasetGroup"), {}) == (
        "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null"
    )


def test_explicit_null_counts_as_missing():
    message = error_of(op("personalize", "CreateDatasetGroup"), {"name": None})
    assert "Value null at 'name'" in message


def test_max_length():
    assert error_of(op("personalize", "CreateDatasetGroup"), {"name": "x" * 100}) == (
        f"1 validation error detected: Value '{'x' * 100}' at 'name' failed to satisfy constraint: "
        "Member must have length less than or equal to 63"
    )


def test_min_length_and_pattern():
    message = error_of(op("personalize", "CreateDatasetGroup"), {"name": "bad name!"})
    assert message == (
        "1 validation error detected: Value 'bad name!' at 'name' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: ^[a-zA-Z0-9][a-zA-Z0-9\-_]*"
    )
    message = error_of(
        op("personalize-events", "PutEvents"), {"trackingId": "", "sessionId": "s", "eventList": []}
    )
    assert (
        "Value '' at 'trackingId' failed to satisfy constraint: Member must have length greater than or equal to 1"
        in message
    )
    assert (
        "at 'eventList' failed to satisfy constraint: Member must have length greater than or equal to 1"
        in message
    )


def test_integer_range():
    operation = op("personalize", "ListDatasetGroups")
    assert error_of(operation, {"maxResults": 500}) == (
        "1 validation error detected: Value '500' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 100"
    )
    assert "Member must have value greater than or equal to 1" in error_of(operation, {"maxResults": 0})
    assert validate(operation, {"maxResults": 100}) == {"maxResults": 100}


def test_enum():
    operation = op("personalize", "CreateDatasetImportJob")
    request = valid_value(operation.input_shape, full=False) | {"importMode": "PARTIAL"}
    assert error_of(operation, request) == (
        "1 validation error detected: Value 'PARTIAL' at 'importMode' failed to satisfy constraint: "
        "Member must satisfy enum value set: [FULL, INCREMENTAL]"
    )


def test_errors_are_counted_and_listed_in_model_order():
    operation = op("personalize", "CreateDatasetGroup")
    message = error_of(operation, {"domain": "BOOKS", "name": "-x", "kmsKeyArn": "nope"})
    assert message.startswith("3 validation errors detected: Value '-x' at 'name' failed")
    assert [part.split(" at ")[1].split("'")[1] for part in message.split("; ")] == [
        "name",
        "kmsKeyArn",
        "domain",
    ]


def test_at_most_ten_errors_are_reported():
    tags = [{"tagKey": "k" * 200, "tagValue": "v"} for _ in range(12)]
    message = error_of(op("personalize", "TagResource"), {"resourceArn": "x", "tags": tags})
    assert message.startswith("10 validation errors detected: ")
    assert message.count("failed to satisfy constraint") == 10


def test_string_length_counts_utf16_code_units_like_java():
    operation = op("personalize", "TagResource")
    arn = PATTERN_EXAMPLES[r"arn:([a-z\d-]+):personalize:.*:.*:.+"][0]
    astral = "\U00020000"  # a CJK letter outside the BMP: two UTF-16 code units
    assert validate(operation, {"resourceArn": arn, "tags": [{"tagKey": "k", "tagValue": astral * 128}]})
    message = error_of(operation, {"resourceArn": arn, "tags": [{"tagKey": "k", "tagValue": astral * 129}]})
    assert message == (
        "1 validation error detected: Value at 'tags.1.member.tagValue' failed to satisfy constraint: "
        "Member must have length less than or equal to 256"
    )


# --- nested paths -------------------------------------------------------------------------------


def test_list_of_structures_uses_one_based_member_paths():
    message = error_of(
        op("personalize", "CreateDatasetGroup"),
        {
            "name": "dg",
            "tags": [{"tagKey": "ok", "tagValue": "ok"}, {"tagKey": "bad{key}", "tagValue": "v"}, {}],
        },
    )
    assert message == (
        "3 validation errors detected: Value at 'tags.2.member.tagKey' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$; "
        "Value null at 'tags.3.member.tagKey' failed to satisfy constraint: Member must not be null; "
        "Value null at 'tags.3.member.tagValue' failed to satisfy constraint: Member must not be null"
    )


def test_sensitive_values_are_never_echoed():
    event = {"eventType": "click", "sentAt": 1, "itemId": "secret-item" * 30}
    request = {"trackingId": "t", "sessionId": "s", "userId": "secret-user" * 30, "eventList": [event] * 11}
    message = error_of(op("personalize-events", "PutEvents"), request)
    assert "secret" not in message
    assert (
        "Value at 'userId' failed to satisfy constraint: Member must have length less than or equal to 256"
        in message
    )
    assert (
        "Value at 'eventList' failed to satisfy constraint: Member must have length less than or equal to 10"
        in message
    )
    assert "Value at 'eventList.1.member.itemId' failed to satisfy constraint" in message


def test_nested_event_member_paths():
    request = {
        "trackingId": "t",
        "sessionId": "s",
        "eventList": [{"eventType": "click", "sentAt": 1}, {"eventType": "x"}],
    }
    assert error_of(op("personalize-events", "PutEvents"), request) == (
        "1 validation error detected: Value null at 'eventList.2.member.sentAt' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_scalar_list_elements_are_judged_once_per_list():
    operation = op("personalize", "CreateSolution")
    good = PATTERN_EXAMPLES[r"arn:([a-z\d-]+):personalize:.*:.*:.+"][0]
    request = valid_value(operation.input_shape, full=False)
    request["solutionConfig"] = {"autoMLConfig": {"recipeList": [good, "bad-1", "bad-2", None]}}
    assert error_of(operation, request) == (
        f"1 validation error detected: Value '[{good}, bad-1, bad-2, null]' at 'solutionConfig.autoMLConfig.recipeList' "
        "failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal "
        r"to 256, Member must satisfy regular expression pattern: arn:([a-z\d-]+):personalize:.*:.*:.+, "
        "Member must not be null]"
    )


def test_runtime_list_of_item_ids():
    operation = op("personalize-runtime", "GetPersonalizedRanking")
    arn = PATTERN_EXAMPLES[r"arn:([a-z\d-]+):personalize:.*:.*:.+"][0]
    message = error_of(operation, {"campaignArn": arn, "userId": "u", "inputList": ["a", "b" * 257]})
    assert message == (
        f"1 validation error detected: Value '[a, {'b' * 257}]' at 'inputList' failed to satisfy constraint: "
        "Member must satisfy constraint: [Member must have length less than or equal to 256, Member must not be null]"
    )


def test_map_keys_and_values_are_judged_once_per_map():
    operation = op("personalize", "CreateCampaign")
    request = valid_value(operation.input_shape, full=False)
    request["campaignConfig"] = {"rankingInfluence": {"POPULARITY": 1.5, "FRESHNESS": 0.5, "BOGUS": 0.1}}
    assert error_of(operation, request) == (
        "2 validation errors detected: "
        "Value '{POPULARITY=1.5, FRESHNESS=0.5, BOGUS=0.1}' at 'campaignConfig.rankingInfluence' failed to satisfy "
        "constraint: Map keys must satisfy constraint: [Member must satisfy enum value set: [POPULARITY, FRESHNESS]]; "
        "Value '{POPULARITY=1.5, FRESHNESS=0.5, BOGUS=0.1}' at 'campaignConfig.rankingInfluence' failed to satisfy "
        "constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, "
        "Member must have value greater than or equal to 0.0, Member must not be null]"
    )


def test_map_of_lists_reports_the_value_length_and_the_elements_below_it():
    operation = op("personalize", "CreateSolution")
    request = valid_value(operation.input_shape, full=False)
    columns = {"ITEMS": ["GENRE", "1BAD"], "USERS": ["C"] * 51}
    request["solutionConfig"] = {"trainingDataConfig": {"excludedDatasetColumns": columns}}
    message = error_of(operation, request)
    path = "solutionConfig.trainingDataConfig.excludedDatasetColumns"
    assert message.startswith("2 validation errors detected: ")
    assert (
        f"Value '[GENRE, 1BAD]' at '{path}.ITEMS.member' failed to satisfy constraint: Member must satisfy constraint: "
        "[Member must have length less than or equal to 150, Member must satisfy regular expression pattern: "
        r"[A-Za-z_][A-Za-z\d_]*, Member must not be null]"
    ) in message
    assert (
        f"at '{path}' failed to satisfy constraint: Map value must satisfy constraint: "
        "[Member must have length less than or equal to 50, Member must not be null]"
    ) in message


def test_sensitive_map_values_hide_the_whole_map():
    operation = op("personalize-runtime", "GetRecommendations")
    message = error_of(
        operation, {"context": {"DEVICE-TYPE": "secret-phone"}, "filterValues": {"GENRE": "s" * 1001}}
    )
    assert "secret" not in message and "sss" not in message
    assert (
        "Value at 'context' failed to satisfy constraint: Map keys must satisfy constraint: "
        r"[Member must have length less than or equal to 150, Member must satisfy regular expression pattern: [A-Za-z\d_]+]"
    ) in message
    assert (
        "Value at 'filterValues' failed to satisfy constraint: Map value must satisfy constraint: ["
        in message
    )


# --- types and conversions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"maxResults": "abc"},
            "class java.lang.String can not be converted to an Integer (at 'maxResults')",
        ),
        (
            {"maxResults": True},
            "class java.lang.Boolean can not be converted to an Integer (at 'maxResults')",
        ),
        ({"maxResults": [1]}, "Start of list found where not expected (at 'maxResults')"),
        ({"maxResults": 2**31}, "Numeric value (2147483648) out of range of int (at 'maxResults')"),
        (
            {"nextToken": 5},
            "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String (at 'nextToken')",
        ),
        ({"nextToken": {"a": 1}}, "Start of structure or map found where not expected. (at 'nextToken')"),
    ],
)
def test_wrong_json_types_are_serialization_errors(params, expected):
    assert serialization_error_of(op("personalize", "ListDatasetGroups"), params) == expected


def test_wrong_types_in_nested_members_name_the_path():
    request = {
        "trackingId": "t",
        "sessionId": "s",
        "eventList": [{"eventType": "click", "sentAt": 1, "eventValue": "9"}],
    }
    assert serialization_error_of(op("personalize-events", "PutEvents"), request) == (
        "class java.lang.String can not be converted to an Float (at 'eventList.1.member.eventValue')"
    )
    assert serialization_error_of(op("personalize-events", "PutEvents"), {"eventList": {"a": 1}}) == (
        "Start of structure or map found where not expected. (at 'eventList')"
    )
    assert serialization_error_of(op("personalize-events", "PutEvents"), {"eventList": ["x"]}) == (
        "Expected null (at 'eventList.1.member')"
    )
    assert serialization_error_of(op("personalize", "CreateSolution"), {"performAutoTraining": "yes"}) == (
        "'YES' can not be converted to an Boolean (at 'performAutoTraining')"
    )
    assert serialization_error_of(op("personalize", "CreateDatasetGroup"), {"tags": "a"}) == (
        "Expected list or null (at 'tags')"
    )
    with pytest.raises(SerializationError, match="^Start of list found where not expected$"):
        validate(op("personalize", "ListRecipes"), [])  # type: ignore[arg-type]


def test_numbers_are_deserialized_like_coral():
    operation = op("personalize-runtime", "GetRecommendations")
    assert validate(operation, {"numResults": 2.9})["numResults"] == 2  # fractions are truncated
    create_campaign = op("personalize", "CreateCampaign")
    required = valid_value(create_campaign.input_shape, full=False)
    result = validate(create_campaign, required | {"minProvisionedTPS": 3.0})
    assert result["minProvisionedTPS"] == 3 and type(result["minProvisionedTPS"]) is int
    config = {"campaignConfig": {"rankingInfluence": {"FRESHNESS": 1}}}
    weight = validate(create_campaign, required | config)["campaignConfig"]["rankingInfluence"]["FRESHNESS"]
    assert weight == 1.0 and type(weight) is float


@pytest.mark.parametrize(
    ("sent_at", "seconds"),
    [
        (1704067200, 1704067200.0),
        (1704067200.567, 1704067200.567),
        ("2024-01-01T00:00:00Z", 1704067200.0),
        ("2024-01-01T01:00:00+01:00", 1704067200.0),
        ("2024-01-01T00:00:00.250", 1704067200.25),  # no offset: UTC
        ("1704067200", 1704067200.0),
    ],
)
def test_timestamps_become_float_epoch_seconds(sent_at, seconds):
    request = {"trackingId": "t", "sessionId": "s", "eventList": [{"eventType": "click", "sentAt": sent_at}]}
    sent = validate(op("personalize-events", "PutEvents"), request)["eventList"][0]["sentAt"]
    assert type(sent) is float and sent == pytest.approx(seconds)


@pytest.mark.parametrize("sent_at", ["yesterday", True, [1], float("inf")])
def test_unreadable_timestamps_are_refused(sent_at):
    request = {"trackingId": "t", "sessionId": "s", "eventList": [{"eventType": "click", "sentAt": sent_at}]}
    message = serialization_error_of(op("personalize-events", "PutEvents"), request)
    assert message.endswith("(at 'eventList.1.member.sentAt')")


def test_unknown_members_and_nulls_are_dropped_and_input_is_not_mutated():
    operation = op("personalize", "CreateDatasetGroup")
    request = {"name": "dg", "Name": "other", "color": [1, {"x": None}], "domain": None}
    assert validate(operation, request) == {"name": "dg"}
    assert request == {"name": "dg", "Name": "other", "color": [1, {"x": None}], "domain": None}


def test_oversized_strings_skip_the_backtracking_pattern():
    # ".*:.*:.+" on hundreds of colons would backtrack for seconds; the length rule rejects it first.
    operation = op("personalize", "DescribeDatasetGroup")
    arn = "arn:aws:personalize:" + ":" * 5000 + "\n"
    assert error_of(operation, {"datasetGroupArn": arn}).endswith(
        "Member must have length less than or equal to 256"
    )


def test_java_double_rendering():
    assert [java_double(x) for x in (1.0, 0.5, 100.0, 1e7, 1.5e-5, -2.5e10, 0.001)] == [
        "1.0",
        "0.5",
        "100.0",
        "1.0E7",
        "1.5E-5",
        "-2.5E10",
        "0.001",
    ]


# --- synthetic shapes the Personalize models do not use (long, blob, double bounds) ------------

SYNTHETIC = ServiceModel(
    {
        "metadata": {
            "protocol": "json",
            "apiVersion": "2020-01-01",
            "jsonVersion": "1.1",
            "serviceId": "Synthetic",
        },
        "operations": {
            "Op": {"name": "Op", "http": {"method": "POST", "requestUri": "/"}, "input": {"shape": "In"}}
        },
        "shapes": {
            "In": {
                "type": "structure",
                "required": ["name"],
                "members": {
                    "name": {"shape": "Name"},
                    "maxResults": {"shape": "Max"},
                    "big": {"shape": "Big"},
                    "payload": {"shape": "Payload"},
                    "weight": {"shape": "Weight"},
                    "things": {"shape": "Things"},
                    "Nested": {"shape": "Node"},
                },
            },
            "Name": {"type": "string", "min": 1, "max": 63, "pattern": "^[a-zA-Z0-9][a-zA-Z0-9\\-_]*"},
            "Max": {"type": "integer", "min": 1, "max": 100},
            "Big": {"type": "long", "min": 0},
            "Payload": {"type": "blob", "max": 3},
            "Weight": {"type": "double", "min": 0, "max": 1},
            "Things": {"type": "map", "key": {"shape": "Name"}, "value": {"shape": "Thing"}},
            "Thing": {"type": "structure", "required": ["size"], "members": {"size": {"shape": "Max"}}},
            "Node": {"type": "structure", "members": {"Child": {"shape": "Node"}, "Size": {"shape": "Max"}}},
        },
    },
    service_name="synthetic",
)


def synthetic(params: dict[str, Any]) -> dict[str, Any]:
    return validate(SYNTHETIC.operation_model("Op"), params)


def test_two_members_in_one_message():
    with pytest.raises(ValidationError) as caught:
        synthetic({"name": "x" * 10 + "!", "maxResults": 500})
    assert caught.value.message == (
        "2 validation errors detected: Value 'xxxxxxxxxx!' at 'name' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: ^[a-zA-Z0-9][a-zA-Z0-9\-_]*; "
        "Value '500' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100"
    )


def test_long_blob_and_double_constraints():
    assert synthetic({"name": "n", "big": 2**40, "payload": "AAAA", "weight": 1}) == {
        "name": "n",
        "big": 2**40,
        "payload": "AAAA",
        "weight": 1.0,
    }
    with pytest.raises(ValidationError) as caught:
        synthetic({"name": "n", "big": -1, "payload": "AAAAAA==", "weight": 1.5})
    assert caught.value.message == (
        "3 validation errors detected: "
        "Value '-1' at 'big' failed to satisfy constraint: Member must have value greater than or equal to 0; "
        "Value 'AAAAAA==' at 'payload' failed to satisfy constraint: Member must have length less than or equal to 3; "
        "Value '1.5' at 'weight' failed to satisfy constraint: Member must have value less than or equal to 1.0"
    )
    with pytest.raises(SerializationError, match="can not be converted to a Blob"):
        synthetic({"name": "n", "payload": "not base64!"})
    with pytest.raises(SerializationError, match=r"out of range of long \(at 'big'\)"):
        synthetic({"name": "n", "big": 2**63})


def test_map_of_structures_and_recursive_shapes_use_member_paths():
    with pytest.raises(ValidationError) as caught:
        synthetic(
            {
                "name": "n",
                "things": {"a": {}, "b": {"size": 0}, "c": None},
                "Nested": {"Child": {"Child": {"Size": 0}}},
            }
        )
    assert caught.value.message == (
        "4 validation errors detected: "
        "Value null at 'things.a.member.size' failed to satisfy constraint: Member must not be null; "
        "Value '0' at 'things.b.member.size' failed to satisfy constraint: Member must have value greater than or equal to 1; "
        "Value null at 'things.c.member' failed to satisfy constraint: Member must not be null; "
        "Value '0' at 'nested.child.child.size' failed to satisfy constraint: Member must have value greater than or equal to 1"
    )


# --- fuzzing ---------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
OPERATIONS = all_operations()


@st.composite
def requests(draw: st.DrawFn) -> tuple[OperationModel, Any]:
    operation = draw(st.sampled_from(OPERATIONS))
    names = list(operation.input_shape.members)
    valid = valid_value(operation.input_shape, full=True)
    keys = draw(st.lists(st.sampled_from(names) | st.text(max_size=8), max_size=len(names) + 2))
    # Start from a valid request so mutations reach deep members, then overwrite some of them.
    params = dict(valid) if draw(st.booleans()) else {}
    for key in keys:
        params[key] = draw(json_values)
    return operation, params


def assert_only_service_errors(operation: OperationModel, params: Any) -> None:
    try:
        result = validate(operation, params)
    except ValidationError as exc:
        count = int(exc.message.split(" ", 1)[0])
        assert 1 <= count <= MAX_REPORTED
        assert exc.message.count("failed to satisfy constraint") == count
    except SerializationError:
        pass
    else:
        assert isinstance(result, dict)
        assert set(result) <= set(operation.input_shape.members)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_fuzzed_requests_only_raise_service_errors(case):
    assert_only_service_errors(*case)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(OPERATIONS), json_values)
def test_fuzzed_bodies_of_any_json_type_only_raise_service_errors(operation, body):
    assert_only_service_errors(operation, body)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(OPERATIONS), st.data())
def test_fuzzed_deep_mutations_only_raise_service_errors(operation, data):
    params = valid_value(operation.input_shape, full=True)
    node = params
    # Walk down a random path of the valid request and replace what is there.
    while isinstance(node, dict | list) and node:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = data.draw(st.sampled_from(keys))
        if not isinstance(node[key], dict | list) or data.draw(st.booleans()):
            node[key] = data.draw(json_values)
            break
        node = node[key]
    assert_only_service_errors(operation, params)


# --- micro-benchmark (runs, never timed-asserted) -----------------------------------------------


def put_events_body(events: int = 10) -> dict[str, Any]:
    return {
        "trackingId": "0b5d2f3c-1111-2222-3333-444455556666",
        "userId": "user-1",
        "sessionId": "session-1",
        "eventList": [
            {
                "eventId": f"event-{index}",
                "eventType": "click",
                "itemId": f"item-{index}",
                "sentAt": 1704067200 + index,
                "properties": '{"discount": "yes"}',
                "impression": ["item-1", "item-2", "item-3"],
            }
            for index in range(events)
        ],
    }


def microseconds_per_put_events(calls: int) -> float:
    operation, body = op("personalize-events", "PutEvents"), put_events_body()
    validate(operation, body)
    start = time.perf_counter()
    for _ in range(calls):
        validate(operation, body)
    return (time.perf_counter() - start) / calls * 1e6


def test_put_events_micro_benchmark_runs():
    assert microseconds_per_put_events(200) > 0


if __name__ == "__main__":
    print(f"PutEvents, 10 events: {microseconds_per_put_events(20000):.1f} us per validate()")


def test_an_over_long_value_is_echoed_cut_short():
    """Regression: a 50 MB name came back in full in its error message."""
    message = error_of(op("personalize", "CreateDatasetGroup"), {"name": "n" * 5_000_000})
    assert len(message) < 1500
    assert message.startswith("1 validation error detected: Value 'nnnn")
    assert "... (5000000 characters)' at 'name' failed to satisfy constraint" in message
