"""Hypothesis-driven requests to every operation of the three services over raw HTTP (spec §1, §2).

Bodies are either arbitrary JSON (or bytes) or built from the operation's botocore input shape with
values near and beyond each constraint, plus ARNs and tracking ids of resources that exist, so the
requests reach the handlers and not only the validator. Whatever is sent, the server must answer
below 500, with an `x-amzn-RequestId` header, and errors must be JSON `{"__type", "message"}`
(plus `x-amzn-ErrorType` on the rest-json services).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.model import Shape
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from openpersonalize.api import coverage, protocol
from openpersonalize.data.dataset_reader import read_dataset
from tests.api.helpers import INTERACTIONS_SCHEMA, ITEMS_SCHEMA, USERS_SCHEMA, make_group
from tests.fixtures.server import LiveServer, start_server

OPERATIONS = [op for service in protocol.SERVICES for _, op in sorted(protocol.operations(service).items())]
# Drawn as often as all operations together: they are where handlers, not only the validator, run.
IMPLEMENTED = [op for op in OPERATIONS if coverage.implemented(op.service, op.name)]
ACCOUNT_PREFIX = "arn:aws:personalize:us-east-1:123456789012:"
FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure here is a bug, never a fluke
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def seed_group(personalize: Any, name: str) -> dict[str, Any]:
    """A group with Interactions, Items and Users datasets and an event tracker; checks they work."""
    arns = make_group(personalize, name)
    tracker = personalize.create_event_tracker(name=name, datasetGroupArn=arns["group"])
    datasets = [arns["dataset"]]
    for suffix, text, kind in (("items", ITEMS_SCHEMA, "Items"), ("users", USERS_SCHEMA, "Users")):
        schema = personalize.create_schema(name=f"{name}-{suffix}", schema=text)["schemaArn"]
        datasets.append(
            personalize.create_dataset(
                name=f"{name}-{suffix}", schemaArn=schema, datasetGroupArn=arns["group"], datasetType=kind
            )["datasetArn"]
        )
    return {
        **arns,
        "tracker": tracker["eventTrackerArn"],
        "tracking": tracker["trackingId"],
        "datasets": datasets,
    }


@pytest.fixture(scope="module")
def fuzz_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, dict[str, list[str]]]]:
    """One server for the module, with a few real resources whose ids the generators reuse."""
    live = start_server(
        tmp_path_factory.mktemp("fuzz") / "data", with_worker=False, min_import_interactions=10
    )
    personalize = live.client("personalize")
    exposed = seed_group(personalize, "fuzz")
    # A second group the shape-driven fuzzing never sees (it may delete what it knows): the
    # readability property needs its datasets to stay.
    stable = seed_group(personalize, "stable")
    known = {
        "arns": [exposed["group"], exposed["schema"], exposed["tracker"], *exposed["datasets"]],
        "ids": [exposed["tracking"], "u1", "i1", "s1"],
        "stable_tracking": [stable["tracking"]],
        "stable_datasets": list(stable["datasets"]),  # Interactions, Items, Users
    }
    yield live, known
    live.stop()


@pytest.fixture(scope="module")
def http(fuzz_server: tuple[LiveServer, dict[str, list[str]]]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fuzz_server[0].url, timeout=30) as client:
        yield client


# --- strategies ---------------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def arn_strings(known: dict[str, list[str]]) -> st.SearchStrategy[str]:
    return st.sampled_from(known["arns"]) | st.builds(
        lambda kind, name: f"{ACCOUNT_PREFIX}{kind}/{name}",
        st.sampled_from(
            ["dataset-group", "schema", "dataset", "event-tracker", "solution", "campaign", "filter"]
        ),
        st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
    )


def properties_strings() -> st.SearchStrategy[str]:
    """`properties` members: JSON objects (as strings) with schema-like camelCase keys, or junk."""
    keys = st.sampled_from(
        ["device", "price", "genres", "age", "membership", "eventValue", "userId", "colour"]
    )
    objects = st.dictionaries(keys, json_scalars, max_size=3).map(json.dumps)
    return objects | st.text(max_size=30)


def string_values(shape: Shape, member: str, known: dict[str, list[str]]) -> st.SearchStrategy[str]:
    enum = shape.metadata.get("enum")
    if enum:
        return st.sampled_from([*enum, enum[0].lower(), "NOT_A_VALUE"])
    longest = shape.metadata.get("max")
    options = [st.text(max_size=min(longest + 2, 40) if longest else 40)]
    if longest is not None and longest <= 2000:
        options.append(st.just("a" * (longest + 1)))  # just past the limit
    if member.endswith("Arn") or shape.name == "Arn":
        options.append(arn_strings(known))
    if member in ("trackingId", "userId", "itemId", "sessionId", "actionId"):
        options.append(st.sampled_from(known["ids"]))
    if member == "properties":
        options.append(properties_strings())
    if member == "schema":
        options.append(st.sampled_from([INTERACTIONS_SCHEMA, ITEMS_SCHEMA, "{}", "[]"]))
    if member in ("name", "jobName"):
        options.append(st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9_-]{0,20}", fullmatch=True))
    return st.one_of(options)


def number_values(shape: Shape) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if kind in ("integer", "long"):
        low = shape.metadata.get("min", -10)
        high = shape.metadata.get("max", 10**6)
        return st.integers(low - 2, high + 2) | st.integers(-(2**70), 2**70)
    return st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**6), 10**6)


def timestamp_values() -> st.SearchStrategy[Any]:
    return (
        st.integers(0, 2**34)  # plausible dates
        | st.integers(-(2**70), 2**70)  # beyond the long column and any date
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.sampled_from(["2024-01-01T00:00:00Z", "1700000000", "yesterday", ""])
    )


def shaped(
    shape: Shape, known: dict[str, list[str]], member: str = "", depth: int = 0
) -> st.SearchStrategy[Any]:
    """Values that fit the shape's JSON types, with contents that may break its constraints."""
    kind = shape.type_name
    if kind == "structure":
        if depth > 4:
            return st.just({})
        members = {name: shaped(m, known, name, depth + 1) for name, m in shape.members.items()}  # type: ignore[attr-defined]
        required = {k: v for k, v in members.items() if k in shape.required_members}  # type: ignore[attr-defined]
        optional = {k: v for k, v in members.items() if k not in required}
        return st.fixed_dictionaries(required, optional=optional)
    if kind == "list":
        longest = shape.metadata.get("max", 5)
        return st.lists(shaped(shape.member, known, member, depth + 1), max_size=min(longest + 1, 12))  # type: ignore[attr-defined]
    if kind == "map":
        return st.dictionaries(
            shaped(shape.key, known, "", depth + 1),  # type: ignore[attr-defined]
            shaped(shape.value, known, "", depth + 1),  # type: ignore[attr-defined]
            max_size=4,
        )
    if kind == "string":
        return string_values(shape, member, known)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return timestamp_values()
    if kind == "blob":
        return st.binary(max_size=16).map(lambda raw: base64.b64encode(raw).decode())
    return number_values(shape)


def bodies(op: protocol.Operation, known: dict[str, list[str]]) -> st.SearchStrategy[bytes]:
    shape = op.model.input_shape
    member_names = list(shape.members) if shape is not None else []
    loose = st.dictionaries(st.sampled_from(member_names) | st.text(max_size=12), json_values, max_size=6)
    well_typed = shaped(shape, known) if shape is not None else st.just({})
    return st.one_of(
        well_typed.map(lambda body: json.dumps(body).encode()),
        well_typed.map(lambda body: json.dumps(body).encode()),  # twice as likely: it goes deeper
        loose.map(lambda body: json.dumps(body).encode()),
        json_values.map(lambda body: json.dumps(body).encode()),
        st.binary(max_size=40),
    )


def broken_member(shape: Shape, known: dict[str, list[str]]) -> st.SearchStrategy[dict[str, Any]]:
    """A well-typed body with one member broken: null, a value of the wrong JSON type, or a string
    far longer than any limit."""
    members = list(shape.members)  # type: ignore[attr-defined]
    if not members:
        return st.just({})
    wrong = st.sampled_from([None, 7, 1.5, True, "text", [], ["x"], {}, {"k": "v"}, "z" * 70_000])

    def breaking(body: dict[str, Any], member: str, value: Any) -> dict[str, Any]:
        return {**body, member: value}

    return st.builds(breaking, shaped(shape, known), st.sampled_from(members), wrong)


# --- the property -------------------------------------------------------------------------------


def send(http: httpx.Client, op: protocol.Operation, body: bytes) -> httpx.Response:
    if op.service == protocol.CONTROL:
        headers = {"X-Amz-Target": protocol.TARGET_PREFIX + op.name, "Content-Type": protocol.JSON_11}
        return http.post("/", headers=headers, content=body)
    return http.post(op.model.http["requestUri"], headers={"Content-Type": "application/json"}, content=body)


def check_answer(response: httpx.Response, rest_json: bool) -> None:
    request = f"{response.request.method} {response.request.url.path} {response.request.content[:300]!r}"
    assert response.status_code < 500, f"{request} -> {response.status_code} {response.text}"
    assert response.headers.get("x-amzn-RequestId"), request
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict), request
        assert isinstance(body.get("__type"), str) and body["__type"], f"{request} -> {body}"
        assert isinstance(body.get("message"), str) and body["message"], f"{request} -> {body}"
        if rest_json:
            assert response.headers.get("x-amzn-ErrorType") == body["__type"], request
    elif response.content:
        assert isinstance(response.json(), dict), request


def outcome(response: httpx.Response) -> str:
    """A label for hypothesis' statistics: how far requests got (validation error, handler, success)."""
    if response.status_code == 200:
        return "200"
    body = response.json()
    if body.get("__type") == "SerializationException":
        return f"{response.status_code} SerializationException (decoding)"
    stage = "validation" if "validation error" in body.get("message", "") else "handler"
    return f"{response.status_code} {body.get('__type')} ({stage})"


@FUZZ
@given(data=st.data())
def test_any_request_gets_a_well_formed_answer(fuzz_server, http, data):
    _, known = fuzz_server
    op = data.draw(st.sampled_from(IMPLEMENTED) | st.sampled_from(OPERATIONS), label="operation")
    body = data.draw(bodies(op, known), label="body")
    response = send(http, op, body)
    check_answer(response, rest_json=op.service != protocol.CONTROL)
    event(outcome(response))


@pytest.mark.parametrize("op", OPERATIONS, ids=[f"{op.service}.{op.name}" for op in OPERATIONS])
@settings(FUZZ, max_examples=12)
@given(data=st.data())
def test_every_operation_survives_broken_members(fuzz_server, http, op, data):
    """Every operation of the three services, each member in turn null, of the wrong type or far
    too long: always a 4xx JSON error or a success, never a 5xx."""
    _, known = fuzz_server
    shape = op.model.input_shape
    body = data.draw(broken_member(shape, known) if shape is not None else st.just({}), label="body")
    response = send(http, op, json.dumps(body).encode())
    check_answer(response, rest_json=op.service != protocol.CONTROL)


@FUZZ
@given(
    target=st.text(max_size=40)
    | st.sampled_from([f"{protocol.TARGET_PREFIX}{op.name}" for op in OPERATIONS]),
    path=st.sampled_from(["/", "/events", "/recommendations", "/nowhere", "/events/"])
    | st.from_regex(r"/[a-z/]{0,20}", fullmatch=True),
    content_type=st.sampled_from([protocol.JSON_11, "application/json", "text/plain", ""]),
    body=json_values.map(lambda v: json.dumps(v).encode()),
)
def test_any_target_and_path_gets_a_well_formed_answer(http, target, path, content_type, body):
    headers = {"Content-Type": content_type}
    if target.isprintable() and target.isascii():
        headers["X-Amz-Target"] = target
    response = http.post(path, headers=headers, content=body)
    check_answer(response, rest_json="X-Amz-Target" not in headers and path != "/")


ids = st.text(min_size=1, max_size=12)
near_valid_events = st.fixed_dictionaries(
    {"eventType": ids, "itemId": ids, "sentAt": timestamp_values()},
    optional={
        "eventId": ids,
        "eventValue": st.floats(allow_nan=False, allow_infinity=False),
        "properties": properties_strings(),
        "impression": st.lists(ids, min_size=1, max_size=3),
        "recommendationId": ids,
    },
)
near_valid_records = st.fixed_dictionaries({}, optional={"properties": properties_strings()})


def near_valid_request(known: dict[str, list[str]]) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """Bodies that pass validation, so the handlers' own checks and the event log see random data."""
    interactions, items, users = known["stable_datasets"]
    put_events = st.fixed_dictionaries(
        {
            "trackingId": st.just(known["stable_tracking"][0]),
            "sessionId": ids,
            "eventList": st.lists(near_valid_events, min_size=1, max_size=3),
        },
        optional={"userId": ids},
    )
    put_items = st.fixed_dictionaries(
        {
            "datasetArn": st.just(items),
            "items": st.lists(
                near_valid_records.map(lambda r: {**r, "itemId": "i1"}), min_size=1, max_size=3
            ),
        }
    )
    put_users = st.fixed_dictionaries(
        {
            "datasetArn": st.just(users),
            "users": st.lists(
                near_valid_records.map(lambda r: {**r, "userId": "u1"}), min_size=1, max_size=3
            ),
        }
    )
    return st.one_of(
        put_events.map(lambda body: ("/events", body)),
        put_items.map(lambda body: ("/items", body)),
        put_users.map(lambda body: ("/users", body)),
    )


@FUZZ
@given(data=st.data())
def test_accepted_records_keep_every_dataset_readable(fuzz_server, http, data):
    live, known = fuzz_server
    path, body = data.draw(near_valid_request(known), label="request")
    response = http.post(path, json=body)
    check_answer(response, rest_json=True)
    event(outcome(response))
    if response.status_code == 200:
        s = live.services
        for arn in known["stable_datasets"]:
            # An acknowledged write must never make the dataset unreadable (or training would fail).
            read_dataset(s.ctx.store, s.ctx.interactions, arn)


def test_seeded_resources_are_reachable(fuzz_server, http):
    """The stable ids are real: a well-formed call with them succeeds (so fuzzing goes deep)."""
    live, known = fuzz_server
    body = {
        "trackingId": known["stable_tracking"][0],
        "userId": "u1",
        "sessionId": "s1",
        "eventList": [{"eventType": "click", "itemId": "i1", "sentAt": 1700000000}],
    }
    response = http.post("/events", json=body)
    assert response.status_code == 200, response.text
    described = send(
        http,
        protocol.operations(protocol.CONTROL)["DescribeDataset"],
        json.dumps({"datasetArn": known["stable_datasets"][1]}).encode(),
    )
    assert described.status_code == 200 and described.json()["dataset"]["datasetType"] == "ITEMS"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_http_methods_get_an_aws_style_error(http, method):
    response = http.request(method, "/", headers={"X-Amz-Target": f"{protocol.TARGET_PREFIX}ListSchemas"})
    check_answer(response, rest_json=False)
    assert response.status_code >= 400
