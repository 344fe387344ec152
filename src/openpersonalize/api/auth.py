"""AWS Signature Version 4 verification, on when the server is given credentials.

With no credentials configured any signature is accepted (the embedded default), as AWS SDKs
always sign. With credentials, a request must be signed by one of the configured keys, for the
`personalize` service, within 15 minutes of now, over the very body it carries: the signature is
recomputed with botocore's own signer from the body's SHA-256, and an `x-amz-content-sha256`
header must match that body.

Verification has two steps so that a request is refused before its body is read whenever the
headers alone condemn it (no or malformed Authorization, unknown key, wrong service, stale
date): `check_headers`, then `verify` once the (size-limited) body is in.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from openpersonalize.errors import ServiceError
from openpersonalize.scope import DEFAULT_ACCOUNT

MAX_SKEW = dt.timedelta(minutes=15)
SERVICE = "personalize"  # the signing name of all three services in botocore's models
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
_ACCOUNT = re.compile(r"\d{12}")


class MissingAuthenticationToken(ServiceError):
    code = "MissingAuthenticationTokenException"
    status = rest_status = 403


class UnrecognizedClient(ServiceError):
    code = "UnrecognizedClientException"
    status = rest_status = 403


class InvalidSignature(ServiceError):
    code = "InvalidSignatureException"
    status = rest_status = 403


@dataclass(frozen=True)
class Key:
    secret: str
    account: str = DEFAULT_ACCOUNT


@dataclass(frozen=True)
class SignedRequest:
    """What the headers say about a request's signature, checked as far as they can be."""

    access_key: str
    region: str
    amz_date: str
    signed_headers: tuple[str, ...]
    signature: str
    key: Key


class _ExactHeadersSigner(SigV4Auth):
    """botocore's signer, told to sign exactly the headers the client signed (no more, no less)."""

    def __init__(self, credentials: Credentials, region: str, headers: HTTPHeaders) -> None:
        super().__init__(credentials, SERVICE, region)
        self._headers = headers

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        return self._headers


class SigV4Verifier:
    def __init__(self, keys: Mapping[str, Key]) -> None:
        self.keys = dict(keys)

    def check_headers(self, headers: Mapping[str, str], now: dt.datetime | None = None) -> SignedRequest:
        """Everything that can be checked before the body is read."""
        header = headers.get("authorization")
        if not header:
            raise MissingAuthenticationToken("Missing Authentication Token")
        match = _AUTH.match(header.strip())
        if match is None:
            raise InvalidSignature("The Authorization header is not a valid AWS Signature Version 4 header.")
        key = self.keys.get(match["key"])
        if key is None:
            raise UnrecognizedClient("The security token included in the request is invalid.")
        if match["service"] != SERVICE:
            raise InvalidSignature(
                f"Credential should be scoped to correct service: '{SERVICE}'. "
                f"The credential scope names '{match['service']}'."
            )
        amz_date = headers.get("x-amz-date", "")
        try:
            signed_at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            raise InvalidSignature("The request has no valid X-Amz-Date header.") from None
        if amz_date[:8] != match["date"]:
            raise InvalidSignature("The credential scope date does not match the X-Amz-Date header.")
        now = now or dt.datetime.now(dt.UTC)
        if abs(now - signed_at) > MAX_SKEW:
            raise InvalidSignature(
                f"Signature expired: {amz_date} is now earlier or later than 15 minutes from now."
            )
        signed = tuple(match["signed"].split(";"))
        if "host" not in signed:
            raise InvalidSignature("The host header must be signed.")
        return SignedRequest(match["key"], match["region"], amz_date, signed, match["signature"], key)

    def verify(
        self,
        signed: SignedRequest,
        method: str,
        raw_path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        """Recompute the signature over this body; raise unless it is the one the client sent."""
        body_hash = hashlib.sha256(body).hexdigest()
        claimed = headers.get("x-amz-content-sha256")
        if claimed is not None and claimed != body_hash:
            raise InvalidSignature(
                "The provided 'x-amz-content-sha256' header does not match what was computed."
            )
        to_sign = HTTPHeaders()
        getlist = getattr(headers, "getlist", None)
        for name in signed.signed_headers:
            for value in getlist(name) if getlist is not None else [headers.get(name, "")]:
                to_sign[name] = value
        url = f"http://{headers.get('host', '')}{raw_path}" + (f"?{query}" if query else "")
        request = AWSRequest(method=method, url=url, data=body)
        request.context["timestamp"] = signed.amz_date
        signer = _ExactHeadersSigner(
            Credentials(signed.access_key, signed.key.secret), signed.region, to_sign
        )
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, signed.signature):
            raise InvalidSignature(
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method."
            )


class SigV4OrBasic:
    """Authentication for the plain routes (/health, /metrics) that scrapers and probes call: a
    SigV4-signed request, or HTTP Basic with a configured access key id and its secret."""

    def __init__(self, verifier: SigV4Verifier) -> None:
        self.verifier = verifier

    def check(self, method: str, raw_path: str, query: str, headers: Mapping[str, str]) -> str:
        """The caller's account, once its signature or Basic credentials check out."""
        header = headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            signed = self.verifier.check_headers(headers)
            self.verifier.verify(signed, method, raw_path, query, headers, b"")
            return signed.key.account
        return basic_key(self.verifier.keys, value).account


def basic_key(keys: Mapping[str, Key], credential: str) -> Key:
    """The key an HTTP Basic credential (base64 of 'key id:secret') names, its secret checked in
    constant time."""
    try:
        access_key, _, secret = base64.b64decode(credential.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        raise InvalidSignature("The Basic authorization header is malformed.") from None
    key = matching_key(keys, access_key, secret)
    if key is None:
        raise UnrecognizedClient("The security token included in the request is invalid.")
    return key


def matching_key(keys: Mapping[str, Key], access_key: str, secret: str) -> Key | None:
    """The key with this id, if this is its secret (compared in constant time)."""
    key = keys.get(access_key)
    if key is None or not hmac.compare_digest(key.secret.encode(), secret.encode()):
        return None
    return key


def parse_credentials(text: str) -> dict[str, Key]:
    """'AKID1:secret1[:account1],AKID2:secret2[:account2]' -> {AKID1: Key(secret1, account1), ...}."""
    keys: dict[str, Key] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        access_key, _, rest = item.partition(":")
        secret, account = rest, DEFAULT_ACCOUNT
        head, _, tail = rest.rpartition(":")
        if head and _ACCOUNT.fullmatch(tail):
            secret, account = head, tail
        if not access_key or not secret:
            raise ValueError(
                "credentials must look like ACCESS_KEY_ID:SECRET[:ACCOUNT_ID][,ACCESS_KEY_ID:SECRET...] "
                "(ACCOUNT_ID: 12 digits)"
            )
        keys[access_key] = Key(secret, account)
    return keys
