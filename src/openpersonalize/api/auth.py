"""AWS Signature Version 4 verification, on when the server is given credentials.

With no credentials configured any signature is accepted (the embedded default), as AWS SDKs
always sign. With credentials, a request must be signed with one of the configured key pairs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Mapping
from urllib.parse import quote

from openpersonalize.errors import ServiceError

MAX_SKEW = dt.timedelta(minutes=15)
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


class MissingAuthenticationToken(ServiceError):
    code = "MissingAuthenticationTokenException"
    status = rest_status = 403


class UnrecognizedClient(ServiceError):
    code = "UnrecognizedClientException"
    status = rest_status = 403


class InvalidSignature(ServiceError):
    code = "InvalidSignatureException"
    status = rest_status = 403


class SigV4Verifier:
    def __init__(self, credentials: Mapping[str, str]) -> None:
        self.credentials = dict(credentials)

    def verify(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        now: dt.datetime | None = None,
    ) -> None:
        header = headers.get("authorization")
        if not header:
            raise MissingAuthenticationToken("Missing Authentication Token")
        match = _AUTH.match(header.strip())
        if match is None:
            raise InvalidSignature("The Authorization header is not a valid AWS Signature Version 4 header.")
        secret = self.credentials.get(match["key"])
        if secret is None:
            raise UnrecognizedClient("The security token included in the request is invalid.")
        amz_date = headers.get("x-amz-date", "")
        try:
            signed_at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            raise InvalidSignature("The request has no valid X-Amz-Date header.") from None
        now = now or dt.datetime.now(dt.UTC)
        if abs(now - signed_at) > MAX_SKEW:
            raise InvalidSignature(
                f"Signature expired: {amz_date} is now earlier or later than 15 minutes from now."
            )
        signed = match["signed"].split(";")
        canonical = "\n".join(
            [
                method,
                quote(path or "/", safe="/~"),
                _canonical_query(query),
                "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed),
                match["signed"],
                headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest(),
            ]
        )
        scope = f"{match['date']}/{match['region']}/{match['service']}/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = ("AWS4" + secret).encode()
        for part in (match["date"], match["region"], match["service"], "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, match["signature"]):
            raise InvalidSignature(
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method."
            )


def _canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = [part.partition("=") for part in query.split("&") if part]
    return "&".join(f"{k}={v}" for k, _, v in sorted((k, s, v) for k, s, v in pairs))


def parse_credentials(text: str) -> dict[str, str]:
    """'AKID1:secret1,AKID2:secret2' -> {AKID1: secret1, ...}."""
    pairs = [item.split(":", 1) for item in text.split(",") if item.strip()]
    if any(len(p) != 2 or not p[0].strip() or not p[1] for p in pairs):
        raise ValueError("credentials must look like ACCESS_KEY_ID:SECRET[,ACCESS_KEY_ID:SECRET...]")
    return {k.strip(): v for k, v in pairs}
