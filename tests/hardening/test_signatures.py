"""SigV4 binds the body, the service and the time; unauthenticated requests are refused before their
body is read. Against a real `openpersonalize serve --credentials ...` process."""

from __future__ import annotations

import base64
import hashlib
import json

import httpx
import pytest

from tests.fixtures.process import serve
from tests.hardening.helpers import CREDENTIALS, KEYS, client, raw_exchange, signed_control_request, status_of

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    server = serve(tmp_path_factory.mktemp("sigv4") / "data", credentials=CREDENTIALS, workers=0)
    yield server
    server.stop()


def _send(url: str, request, body: bytes | None = None) -> httpx.Response:
    return httpx.post(
        url + "/", headers=dict(request.headers), content=request.body if body is None else body
    )


def _group_names(url: str) -> list[str]:
    return [g["name"] for g in client(url, "personalize").list_dataset_groups()["datasetGroups"]]


def test_a_signed_request_passes(secured):
    request = signed_control_request(secured.url, "CreateDatasetGroup", {"name": "signed"})
    response = _send(secured.url, request)
    assert response.status_code == 200, response.text
    assert "signed" in _group_names(secured.url)


@pytest.mark.parametrize("payload_hash_header", [False, True], ids=["plain", "with-payload-hash"])
def test_a_captured_signature_does_not_carry_another_body(secured, payload_hash_header):
    """Regression: a request signed with x-amz-content-sha256 was checked against that header, never
    against the body, so a captured request could carry any body for 15 minutes."""
    name = "intended-hashed" if payload_hash_header else "intended-plain"
    request = signed_control_request(
        secured.url, "CreateDatasetGroup", {"name": name}, payload_hash_header=payload_hash_header
    )
    response = _send(secured.url, request, json.dumps({"name": "forged"}).encode())
    assert response.status_code == 403 and response.json()["__type"] == "InvalidSignatureException"
    assert "forged" not in _group_names(secured.url)
    assert _send(secured.url, request).status_code == 200  # the genuine request still passes


def test_a_payload_hash_header_must_match_the_body(secured):
    request = signed_control_request(secured.url, "ListDatasetGroups", {})
    request.headers["X-Amz-Content-SHA256"] = hashlib.sha256(b"something else").hexdigest()
    response = _send(secured.url, request)
    assert response.status_code == 403
    assert "x-amz-content-sha256" in response.json()["message"]


def test_a_signature_for_another_service_is_refused(secured):
    """Regression: a signature scoped to s3 was accepted."""
    request = signed_control_request(secured.url, "ListDatasetGroups", {}, service="s3")
    response = _send(secured.url, request)
    assert response.status_code == 403 and "'personalize'" in response.json()["message"]


def test_an_unsigned_request_is_refused_before_its_body_is_read(secured):
    """Regression: an unsigned body was read in full before the 403."""
    head = (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: AmazonPersonalize.ListDatasetGroups\r\n"
        b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 900000\r\n\r\n"
    )
    response = raw_exchange(secured.url, head, b"{" + b" " * 100, timeout=10)  # the rest never comes
    assert status_of(response) == 403 and b"MissingAuthenticationTokenException" in response


def test_unknown_keys_and_wrong_secrets_are_refused(secured):
    for key, code in (
        ((KEYS["A"][0], "wrong-secret"), "InvalidSignatureException"),
        (("AKIDUNKNOWN", KEYS["A"][1]), "UnrecognizedClientException"),
    ):
        response = _send(secured.url, signed_control_request(secured.url, "ListDatasetGroups", {}, key))
        assert response.status_code == 403 and response.json()["__type"] == code


@pytest.mark.parametrize("path", ["/health", "/metrics"])
def test_plain_routes_honour_the_credentials(secured, path):
    assert httpx.get(secured.url + path).status_code == 401
    assert httpx.get(secured.url + path, auth=(KEYS["B"][0], "wrong")).status_code == 401
    assert httpx.get(secured.url + path, auth=KEYS["B"]).status_code == 200
    basic = base64.b64encode(f"{KEYS['A'][0]}:{KEYS['A'][1]}".encode()).decode()
    assert httpx.get(secured.url + path, headers={"Authorization": f"Basic {basic}"}).status_code == 200


def test_the_console_honours_the_credentials(secured):
    assert httpx.get(secured.url + "/console/jobs").status_code == 303  # to the sign-in page
    assert httpx.get(secured.url + "/console/jobs", auth=(KEYS["B"][0], "wrong")).status_code == 303
    assert httpx.get(secured.url + "/console/jobs", auth=KEYS["B"]).status_code == 200
    assert httpx.post(secured.url + "/console/delete", data={"arn": "x"}).status_code == 401
