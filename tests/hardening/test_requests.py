"""Careless and hostile requests: oversized bodies, clients that hang up, methods that are not
operations. Against a real `openpersonalize serve` process."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.fixtures.process import serve
from tests.hardening.helpers import raw_exchange, status_of

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = serve(tmp_path_factory.mktemp("requests") / "data", workers=0)
    yield live
    live.stop()


def _control(url: str, operation: str, content: bytes) -> httpx.Response:
    headers = {"X-Amz-Target": f"AmazonPersonalize.{operation}", "Content-Type": "application/x-amz-json-1.1"}
    return httpx.post(url + "/", headers=headers, content=content, timeout=30)


def test_an_oversized_body_is_refused_unread(server):
    """Regression: a 42 MB PutEvents was decoded on the event loop, stalling every other request."""
    head = (
        b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 44000000\r\n\r\n"
    )
    response = raw_exchange(server.url, head, b'{"trackingId": "', timeout=10)  # the rest never comes
    assert status_of(response) == 413 and b"RequestEntityTooLargeException" in response
    assert httpx.get(server.url + "/health").status_code == 200


def test_a_body_without_a_length_is_cut_off_at_the_limit(server):
    def chunks():
        yield b'{"name": "'
        for _ in range(300):
            yield b"x" * 10_000  # 3 MB in all, over the 1 MB control-plane limit

    headers = {
        "X-Amz-Target": "AmazonPersonalize.CreateDatasetGroup",
        "Content-Type": "application/x-amz-json-1.1",
    }
    response = httpx.post(server.url + "/", headers=headers, content=chunks(), timeout=30)
    assert response.status_code == 413 and response.json()["__type"] == "RequestEntityTooLargeException"


def test_a_long_value_under_the_limit_is_not_echoed_in_full(server):
    """Regression: a 50 MB name was echoed back in full in the error message."""
    response = _control(server.url, "CreateDatasetGroup", json.dumps({"name": "n" * 900_000}).encode())
    assert response.status_code == 400 and len(response.content) < 2_000
    assert "(900000 characters)" in response.json()["message"]


@pytest.mark.parametrize("method", ["OPTIONS", "HEAD", "GET", "PUT", "DELETE"])
def test_methods_that_are_not_operations_answer_in_the_aws_error_format(server, method):
    response = httpx.request(method, server.url + "/")
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert response.headers["x-amzn-RequestId"]
    if method != "HEAD":
        assert response.json()["__type"] == "UnknownOperationException"


def test_a_client_that_hangs_up_mid_body_is_not_an_internal_error(server):
    head = (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: AmazonPersonalize.ListDatasetGroups\r\n"
        b"Content-Length: 5000\r\n\r\n"
    )
    for _ in range(5):
        raw_exchange(server.url, head, b'{"maxResults": ', close_early=True)
    assert _control(server.url, "ListDatasetGroups", b"{}").status_code == 200
    log = server.log_text()
    assert "Traceback" not in log and "internal error" not in log.lower()
