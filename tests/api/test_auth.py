"""SigV4 verification when the server is given credentials (all three services sign as 'personalize')."""

from __future__ import annotations

import datetime as dt

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from openpersonalize.api.auth import Key, SigV4Verifier, parse_credentials
from tests.fixtures.server import start_server


@pytest.fixture
def secured(tmp_path):
    live = start_server(tmp_path / "data", credentials="AKIDGOOD:good-secret,AKIDOTHER:other-secret")
    yield live
    live.stop()


def _client(url, service, key="AKIDGOOD", secret="good-secret"):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-west-2",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def test_correctly_signed_requests_pass(secured):
    arn = _client(secured.url, "personalize").create_dataset_group(name="g")["datasetGroupArn"]
    assert ":us-west-2:" in arn
    other = _client(secured.url, "personalize", "AKIDOTHER", "other-secret")
    assert other.list_dataset_groups()["datasetGroups"][0]["datasetGroupArn"] == arn
    with pytest.raises(ClientError) as err:  # signed fine, then rejected on its merits
        _client(secured.url, "personalize-events").put_events(
            trackingId="t", sessionId="s", eventList=[{"eventType": "c", "itemId": "i", "sentAt": 1}]
        )
    assert err.value.response["Error"]["Code"] == "InvalidInputException"


@pytest.mark.parametrize(
    ("key", "secret", "code"),
    [
        ("AKIDGOOD", "wrong", "InvalidSignatureException"),
        ("AKIDNOPE", "good-secret", "UnrecognizedClientException"),
    ],
)
def test_bad_credentials_are_refused(secured, key, secret, code):
    for service, call in (
        ("personalize", lambda c: c.list_dataset_groups()),
        (
            "personalize-runtime",
            lambda c: c.get_recommendations(
                campaignArn="arn:aws:personalize:us-west-2:1:campaign/c", userId="u"
            ),
        ),
    ):
        with pytest.raises(ClientError) as err:
            call(_client(secured.url, service, key, secret))
        assert err.value.response["Error"]["Code"] == code
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert _client(secured.url, "personalize").list_dataset_groups()["datasetGroups"] == []


def test_unsigned_request_is_refused(secured):
    response = httpx.post(
        secured.url + "/", headers={"X-Amz-Target": "AmazonPersonalize.ListDatasetGroups"}, content=b"{}"
    )
    assert response.status_code == 403 and response.json()["__type"] == "MissingAuthenticationTokenException"


def test_old_signature_is_expired():
    verifier = SigV4Verifier({"AK": Key("s")})
    headers = {
        "authorization": "AWS4-HMAC-SHA256 Credential=AK/20200101/us-east-1/personalize/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
        "x-amz-date": "20200101T000000Z",
        "host": "localhost",
    }
    with pytest.raises(Exception, match="Signature expired"):
        verifier.check_headers(headers, now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


def test_credentials_setting_is_parsed_strictly():
    assert parse_credentials("A:x, B:y:z") == {"A": Key("x"), "B": Key("y:z")}
    assert parse_credentials("A:x:111122223333") == {"A": Key("x", "111122223333")}
    with pytest.raises(ValueError):
        parse_credentials("no-secret")
