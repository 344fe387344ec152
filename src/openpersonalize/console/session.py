"""The console's login when the server has --credentials: a cookie naming the access key, an expiry
and an HMAC of both under the key's own secret. Any server process holding the same credentials
accepts it (nothing shared to store), and it dies with the key. HTTP Basic also works, for scripts."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from openpersonalize.api.auth import Key, basic_key, matching_key
from openpersonalize.errors import ServiceError

COOKIE = "openpersonalize_console"
LIFETIME_SECONDS = 12 * 3600


def sign_in(keys: Mapping[str, Key], access_key: str, secret: str, now: float | None = None) -> str | None:
    """The cookie value for a right access key and secret, else None."""
    key = matching_key(keys, access_key, secret)
    if key is None:
        return None
    expiry = int((now or time.time()) + LIFETIME_SECONDS)
    return f"{access_key}.{expiry}.{_mac(key, access_key, expiry)}"


def account_of(keys: Mapping[str, Key], cookie: str, basic: str = "", now: float | None = None) -> str | None:
    """The signed-in caller's account, from the cookie or a Basic header; None when neither holds."""
    if basic.lower().startswith("basic "):
        try:
            return basic_key(keys, basic[6:]).account
        except ServiceError:
            return None
    access_key, _, rest = cookie.partition(".")
    expiry_text, _, mac = rest.partition(".")
    key = keys.get(access_key)
    if key is None or not (expiry_text.isascii() and expiry_text.isdigit() and len(expiry_text) <= 12):
        return None
    if int(expiry_text) < (now or time.time()) or not mac.isascii():
        return None
    if not hmac.compare_digest(mac, _mac(key, access_key, int(expiry_text))):
        return None
    return key.account


def _mac(key: Key, access_key: str, expiry: int) -> str:
    return hmac.new(
        key.secret.encode(), f"console|{access_key}|{expiry}".encode(), hashlib.sha256
    ).hexdigest()
