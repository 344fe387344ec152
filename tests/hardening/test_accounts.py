"""Each access key acts in its own account, and each signed region is its own endpoint: a caller sees
and touches only its own resources. Against a real `openpersonalize serve --credentials ...` process."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import ITEMS_SCHEMA, make_group
from tests.fixtures.process import serve
from tests.hardening.helpers import ACCOUNT_A, ACCOUNT_B, CREDENTIALS, client

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def accounts(tmp_path_factory):
    server = serve(tmp_path_factory.mktemp("accounts") / "data", credentials=CREDENTIALS, workers=0)
    a, b = client(server.url, "personalize", "A"), client(server.url, "personalize", "B")
    world = {"server": server, "a": a, "b": b, "arns_a": make_group(a, "same-name")}
    world["arns_b"] = make_group(b, "same-name")  # the same name is free in another account
    world["tracking_a"] = a.create_event_tracker(name="t", datasetGroupArn=world["arns_a"]["group"])[
        "trackingId"
    ]
    schema = a.create_schema(name="items", schema=ITEMS_SCHEMA)["schemaArn"]
    world["items_a"] = a.create_dataset(
        name="items", schemaArn=schema, datasetGroupArn=world["arns_a"]["group"], datasetType="Items"
    )["datasetArn"]
    yield world
    server.stop()


def _error(call) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as error:
        call()
    response = error.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def test_arns_carry_the_callers_account(accounts):
    assert f":{ACCOUNT_A}:dataset-group/same-name" in accounts["arns_a"]["group"]
    assert f":{ACCOUNT_B}:dataset-group/same-name" in accounts["arns_b"]["group"]


def test_lists_show_only_the_callers_resources(accounts):
    """Regression: every key mapped to account 123456789012 and saw every resource."""
    for who, other in (("a", "arns_b"), ("b", "arns_a")):
        listed = [g["datasetGroupArn"] for g in accounts[who].list_dataset_groups()["datasetGroups"]]
        assert listed == [accounts["arns_a" if who == "a" else "arns_b"]["group"]]
        assert accounts[other]["group"] not in listed
    schemas = [s["schemaArn"] for s in accounts["b"].list_schemas()["schemas"]]
    assert all(f":{ACCOUNT_B}:" in arn for arn in schemas)


@pytest.mark.parametrize(
    "call",
    [
        lambda b, arns: b.describe_dataset_group(datasetGroupArn=arns["group"]),
        lambda b, arns: b.delete_dataset_group(datasetGroupArn=arns["group"]),
        lambda b, arns: b.tag_resource(resourceArn=arns["group"], tags=[{"tagKey": "k", "tagValue": "v"}]),
        lambda b, arns: b.list_datasets(datasetGroupArn=arns["group"]),
        lambda b, arns: b.create_solution(
            name="s", datasetGroupArn=arns["group"], recipeArn="arn:aws:personalize:::recipe/aws-sims"
        ),
        lambda b, arns: b.delete_schema(schemaArn=arns["schema"]),
    ],
    ids=["describe", "delete", "tag", "list-children", "create-child", "delete-schema"],
)
def test_another_accounts_arn_is_access_denied(accounts, call):
    code, status, message = _error(lambda: call(accounts["b"], accounts["arns_a"]))
    assert (code, status) == ("AccessDeniedException", 400)
    assert f"arn:aws:iam::{ACCOUNT_B}:root is not authorized to perform: personalize:" in message
    assert accounts["a"].describe_dataset_group(datasetGroupArn=accounts["arns_a"]["group"])["datasetGroup"]
    assert accounts["a"].describe_schema(schemaArn=accounts["arns_a"]["schema"])["schema"]


def test_another_regions_resources_do_not_exist_there(accounts):
    """Regression: a list signed for eu-west-1 showed us-east-1 resources."""
    server = accounts["server"]
    europe = client(server.url, "personalize", "A", region="eu-west-1")
    assert europe.list_dataset_groups()["datasetGroups"] == []
    code, status, _ = _error(
        lambda: europe.describe_dataset_group(datasetGroupArn=accounts["arns_a"]["group"])
    )
    assert (code, status) == ("ResourceNotFoundException", 400)
    made = europe.create_dataset_group(name="same-name")["datasetGroupArn"]
    assert f":eu-west-1:{ACCOUNT_A}:" in made
    assert len(accounts["a"].list_dataset_groups()["datasetGroups"]) == 1


def test_runtime_and_events_are_scoped_too(accounts):
    server = accounts["server"]
    campaign_a = f"arn:aws:personalize:us-east-1:{ACCOUNT_A}:campaign/c"
    runtime_b = client(server.url, "personalize-runtime", "B")
    code, status, _ = _error(lambda: runtime_b.get_recommendations(campaignArn=campaign_a, userId="u"))
    assert (code, status) == ("AccessDeniedException", 403)
    events_b = client(server.url, "personalize-events", "B")
    code, _, _ = _error(
        lambda: events_b.put_events(
            trackingId=accounts["tracking_a"],
            sessionId="s",
            userId="u",
            eventList=[{"eventType": "click", "itemId": "i", "sentAt": time.time()}],
        )
    )
    assert code == "InvalidInputException"
    code, status, _ = _error(
        lambda: events_b.put_items(datasetArn=accounts["items_a"], items=[{"itemId": "i"}])
    )
    assert (code, status) == ("AccessDeniedException", 403)
    # The owner's own calls go through.
    client(server.url, "personalize-events", "A").put_items(
        datasetArn=accounts["items_a"], items=[{"itemId": "i"}]
    )
