"""Clients and raw requests for probing a real `openpersonalize serve` process."""

from __future__ import annotations

import hashlib
import json
import socket
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

ACCOUNT_A, ACCOUNT_B = "111111111111", "222222222222"
KEYS = {"A": ("AKIDALPHA", "alpha-secret-value"), "B": ("AKIDBRAVO", "bravo-secret-value")}
CREDENTIALS = f"{KEYS['A'][0]}:{KEYS['A'][1]}:{ACCOUNT_A},{KEYS['B'][0]}:{KEYS['B'][1]}:{ACCOUNT_B}"


def client(url: str, service: str, who: str = "A", region: str = "us-east-1") -> Any:
    key, secret = KEYS[who]
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def signed_control_request(
    url: str,
    operation: str,
    body: dict[str, Any],
    key: tuple[str, str] = KEYS["A"],
    service: str = "personalize",
    payload_hash_header: bool = False,
) -> AWSRequest:
    """A JSON 1.1 control-plane request signed by botocore, as the SDKs send it (some SDKs also
    sign an x-amz-content-sha256 header: ``payload_hash_header``)."""
    key_id, secret = key
    data = json.dumps(body).encode()
    headers = {"X-Amz-Target": f"AmazonPersonalize.{operation}", "Content-Type": "application/x-amz-json-1.1"}
    if payload_hash_header:
        headers["X-Amz-Content-SHA256"] = hashlib.sha256(data).hexdigest()
    request = AWSRequest(method="POST", url=url + "/", data=data, headers=headers)
    SigV4Auth(Credentials(key_id, secret), service, "us-east-1").add_auth(request)
    return request


def raw_exchange(
    url: str, head: bytes, body: bytes = b"", *, close_early: bool = False, timeout: float = 10
) -> bytes:
    """Send raw bytes to the server and return what it answers (b'' when ``close_early``)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head + body)
        if close_early:
            return b""
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                break
        return b"".join(chunks)


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return True


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response else 0
