"""DatasetGroup, pagination, tags, request ids and AWS error shapes through real boto3 clients."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from botocore.exceptions import ClientError


def test_create_describe_list_delete(personalize):
    arn = personalize.create_dataset_group(name="movies", tags=[{"tagKey": "team", "tagValue": "recs"}])[
        "datasetGroupArn"
    ]
    assert arn == "arn:aws:personalize:us-east-1:123456789012:dataset-group/movies"
    group = personalize.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"]
    assert group["name"] == "movies"
    assert group["status"] == "ACTIVE"
    assert isinstance(group["creationDateTime"], dt.datetime)
    listed = personalize.list_dataset_groups()["datasetGroups"]
    assert [g["datasetGroupArn"] for g in listed] == [arn]
    assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"tagKey": "team", "tagValue": "recs"}
    ]
    personalize.delete_dataset_group(datasetGroupArn=arn)
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.describe_dataset_group(datasetGroupArn=arn)


def test_domain_is_echoed(personalize):
    out = personalize.create_dataset_group(name="shop", domain="ECOMMERCE")
    assert out["domain"] == "ECOMMERCE"
    group = personalize.describe_dataset_group(datasetGroupArn=out["datasetGroupArn"])["datasetGroup"]
    assert group["domain"] == "ECOMMERCE"


def test_duplicate_name_is_already_exists(personalize):
    personalize.create_dataset_group(name="dup")
    with pytest.raises(personalize.exceptions.ResourceAlreadyExistsException):
        personalize.create_dataset_group(name="dup")
    assert len(personalize.list_dataset_groups()["datasetGroups"]) == 1


def test_pagination_walks_every_group_newest_first(personalize):
    for i in range(7):
        personalize.create_dataset_group(name=f"g{i}")
    pages = personalize.get_paginator("list_dataset_groups").paginate(PaginationConfig={"PageSize": 3})
    names = [g["name"] for page in pages for g in page["datasetGroups"]]
    assert names == [f"g{i}" for i in reversed(range(7))]


def test_bad_next_token(personalize):
    with pytest.raises(personalize.exceptions.InvalidNextTokenException):
        personalize.list_dataset_groups(nextToken="not-a-token")


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("x" * 64, "Member must have length less than or equal to 63"),
        ("-starts-with-dash", "Member must satisfy regular expression pattern"),
        ("has space", "Member must satisfy regular expression pattern"),
    ],
)
def test_bad_names_name_the_field_and_rule(personalize, name, rule):
    with pytest.raises(ClientError) as err:
        personalize.create_dataset_group(name=name)
    error = err.value.response["Error"]
    assert error["Code"] == "InvalidInputException"
    assert "at 'name'" in error["Message"] and rule in error["Message"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert personalize.list_dataset_groups()["datasetGroups"] == []


def test_max_results_above_100_is_rejected(personalize):
    with pytest.raises(ClientError) as err:
        personalize.list_dataset_groups(maxResults=500)
    assert "at 'maxResults'" in err.value.response["Error"]["Message"]


def test_unknown_arn_is_not_found(personalize):
    with pytest.raises(personalize.exceptions.ResourceNotFoundException) as err:
        personalize.describe_dataset_group(
            datasetGroupArn="arn:aws:personalize:us-east-1:123456789012:dataset-group/nope"
        )
    assert "dataset-group/nope" in err.value.response["Error"]["Message"]


def test_delete_group_with_dataset_is_in_use(personalize):
    from tests.api.helpers import make_group

    arns = make_group(personalize)
    with pytest.raises(personalize.exceptions.ResourceInUseException):
        personalize.delete_dataset_group(datasetGroupArn=arns["group"])
    personalize.delete_dataset(datasetArn=arns["dataset"])
    personalize.delete_dataset_group(datasetGroupArn=arns["group"])


def test_region_comes_from_the_signature(server):
    client = server.client("personalize")
    client.meta.config.region_name  # noqa: B018 - the fixture client is us-east-1
    import boto3

    west = boto3.client(
        "personalize",
        endpoint_url=server.url,
        region_name="eu-west-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
    )
    arn = west.create_dataset_group(name="west")["datasetGroupArn"]
    assert arn.startswith("arn:aws:personalize:eu-west-1:")


def test_tags_round_trip(personalize):
    arn = personalize.create_dataset_group(name="tagged")["datasetGroupArn"]
    personalize.tag_resource(
        resourceArn=arn, tags=[{"tagKey": "a", "tagValue": "1"}, {"tagKey": "b", "tagValue": "2"}]
    )
    personalize.tag_resource(resourceArn=arn, tags=[{"tagKey": "a", "tagValue": "3"}])
    personalize.untag_resource(resourceArn=arn, tagKeys=["b"])
    assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == [{"tagKey": "a", "tagValue": "3"}]
    with pytest.raises(personalize.exceptions.TooManyTagsException):
        personalize.tag_resource(
            resourceArn=arn, tags=[{"tagKey": f"k{i}", "tagValue": "v"} for i in range(200)]
        )
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.list_tags_for_resource(resourceArn=arn + "x")


def test_every_operation_is_implemented_and_an_unknown_one_is_a_clear_error(server):
    from openpersonalize.api import protocol
    from openpersonalize.errors import NotImplementedYet

    control = server.services.control
    assert set(protocol.operations(protocol.SERVICES[0])) <= control.implemented()
    with pytest.raises(NotImplementedYet, match="CreateSomethingNew"):
        control.call("CreateSomethingNew", {})


def test_every_response_has_a_request_id(server):
    ok = httpx.post(
        server.url + "/",
        headers={
            "X-Amz-Target": "AmazonPersonalize.ListDatasetGroups",
            "Content-Type": "application/x-amz-json-1.1",
        },
        content=b"{}",
    )
    assert ok.status_code == 200 and ok.headers["x-amzn-RequestId"]
    bad = httpx.post(server.url + "/", headers={"X-Amz-Target": "AmazonPersonalize.Nope"}, content=b"{}")
    assert bad.status_code == 400 and bad.headers["x-amzn-RequestId"]
    assert bad.json()["__type"] == "UnknownOperationException"
    garbage = httpx.post(
        server.url + "/", headers={"X-Amz-Target": "AmazonPersonalize.ListDatasetGroups"}, content=b"{"
    )
    assert garbage.status_code == 400 and garbage.json()["__type"] == "SerializationException"
    missing = httpx.post(server.url + "/nowhere", content=b"{}")
    assert missing.status_code == 400 and "nowhere" in missing.json()["message"]
