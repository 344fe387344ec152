"""Every one of the 79 operations reaches the server and gets a modelled answer, never a 500."""

from __future__ import annotations

import httpx
import pytest

from openpersonalize.api import coverage, protocol

ALL = [(s, op) for s in protocol.SERVICES for op in sorted(protocol.operations(s))]


@pytest.mark.parametrize(("service", "operation"), ALL, ids=[f"{s}:{o}" for s, o in ALL])
def test_operation_is_routed(server, service, operation):
    op = protocol.operations(service)[operation]
    if service == protocol.CONTROL:
        response = httpx.post(
            server.url + "/",
            headers={"X-Amz-Target": f"AmazonPersonalize.{operation}", "Content-Type": protocol.JSON_11},
            content=b"{}",
        )
    else:
        response = httpx.post(server.url + op.model.http["requestUri"], json={})
    assert response.headers["x-amzn-RequestId"]
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert body["__type"] and body["message"]
        if not coverage.implemented(service, operation) and not op.model.input_shape.required_members:
            assert body["__type"] == "NotImplementedException" and operation in body["message"]
