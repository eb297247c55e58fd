"""HTTP Basic authentication for the stats page (`stats auth`, `stats realm`).

Accounts are the cleartext `user:password` pairs of the configuration, as in HAProxy;
passwords are compared in constant time. A request without valid credentials gets a 401
whose `WWW-Authenticate` names the realm (HAProxy's default realm when none is set).
"""

from __future__ import annotations

import binascii
import hmac
from base64 import b64decode
from collections.abc import Iterable

DEFAULT_REALM = "HAProxy Statistics"


class BasicAuth:
    __slots__ = ("challenge", "realm", "users")

    def __init__(self, accounts: Iterable[tuple[str, str]], realm: str | None) -> None:
        self.users: dict[bytes, bytes] = {}
        for user, password in accounts:
            # The first declaration of a user wins, as in HAProxy.
            self.users.setdefault(_raw(user), _raw(password))
        self.realm = realm if realm else DEFAULT_REALM
        quoted = self.realm.replace("\\", "\\\\").replace('"', '\\"')
        self.challenge = f'Basic realm="{quoted}"'.encode("utf-8", "surrogateescape")

    def allows(self, authorization: bytes | None) -> bool:
        """True when the Authorization header value names a declared account."""
        if authorization is None:
            return False
        scheme, _, token = authorization.strip().partition(b" ")
        if scheme.lower() != b"basic":
            return False
        try:
            decoded = b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user, colon, password = decoded.partition(b":")
        if not colon:
            return False
        expected = self.users.get(user)
        if expected is None:
            # Spend the same comparison, so timing does not tell which users exist.
            hmac.compare_digest(password, password)
            return False
        return hmac.compare_digest(expected, password)


def _raw(text: str) -> bytes:
    # Configuration text is read with surrogateescape: give back the file's own bytes.
    return text.encode("utf-8", "surrogateescape")
