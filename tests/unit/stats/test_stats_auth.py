"""BasicAuth: the `stats auth` accounts and the `stats realm` challenge."""

from __future__ import annotations

import base64

from weir.stats.auth import BasicAuth


def _basic(credentials: bytes) -> bytes:
    return b"Basic " + base64.b64encode(credentials)


def test_first_declaration_of_a_user_wins() -> None:
    auth = BasicAuth([("admin", "one"), ("admin", "two")], None)
    assert auth.allows(_basic(b"admin:one"))
    assert not auth.allows(_basic(b"admin:two"))


def test_password_may_hold_colons_and_be_empty() -> None:
    auth = BasicAuth([("a", "x:y"), ("b", "")], "r")
    assert auth.allows(_basic(b"a:x:y"))
    assert auth.allows(_basic(b"b:"))
    assert not auth.allows(_basic(b"b"))


def test_missing_or_malformed_header_is_refused() -> None:
    auth = BasicAuth([("admin", "admin")], None)
    assert not auth.allows(None)
    assert not auth.allows(b"")
    assert not auth.allows(b"Basic")
    assert not auth.allows(b"Digest username=admin")


def test_realm_in_challenge() -> None:
    assert BasicAuth([], "HAProxy Stats").challenge == b'Basic realm="HAProxy Stats"'
    assert BasicAuth([], None).challenge == b'Basic realm="HAProxy Statistics"'
    assert BasicAuth([], 'a "b"').challenge == b'Basic realm="a \\"b\\""'
