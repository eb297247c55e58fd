"""Key extraction: what each hash algorithm hashes from the request (HAProxy 2.6 rules)."""

from __future__ import annotations

import pytest

from weir.balance import (
    hdr_key,
    rdp_cookie_key,
    source_key,
    uri_key,
    url_param_key,
    url_param_post_key,
)
from weir.balance.keys import uri_path


@pytest.mark.parametrize(
    ("target", "kw", "expected"),
    [
        (b"/a/b/c?x=1", {}, b"/a/b/c"),
        (b"/a/b/c?x=1", {"whole": True}, b"/a/b/c?x=1"),
        (b"/a/b/c?x=1", {"depth": 1}, b"/a"),
        (b"/a/b/c?x=1", {"depth": 2}, b"/a/b"),
        (b"/a/b/c?x=1", {"depth": 3}, b"/a/b/c"),
        (b"/a/b/c?x=1", {"depth": 9}, b"/a/b/c"),
        (b"/a/b/c?x=1/y", {"depth": 3, "whole": True}, b"/a/b/c?x=1"),
        (b"/abcdef", {"length": 3}, b"/ab"),
        (b"/a?bcdef", {"length": 5, "whole": True}, b"/a?bc"),
        (b"/a/b?c", {"length": 4, "depth": 1}, b"/a"),
        (b"http://h:80/p/q?z", {"path_only": True}, b"/p/q"),
        (b"http://h:80/p/q?z", {}, b"http://h:80/p/q"),
        (b"", {}, b""),
    ],
)
def test_uri_key(target: bytes, kw: dict[str, object], expected: bytes) -> None:
    assert uri_key(target, **kw) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (b"/p?q", b"/p?q"),
        (b"http://host/p?q", b"/p?q"),
        (b"https://user@host:8443/x", b"/x"),
        (b"http://host", b""),
        (b"host:443", b""),
        (b"*", b""),
        (b"", b""),
    ],
)
def test_uri_path(target: bytes, expected: bytes) -> None:
    assert uri_path(target) == expected


@pytest.mark.parametrize(
    ("query", "name", "expected"),
    [
        (b"id=42&x=1", b"id", b"42"),
        (b"x=1&id=42", b"id", b"42"),
        (b"x=1&id=42&id=7", b"id", b"42"),
        (b"uid=1&id=2", b"id", b"2"),
        (b"id=", b"id", b""),
        (b"id=&x=1", b"id", b""),
        (b"id", b"id", None),
        (b"ID=42", b"id", None),
        (b"x=1", b"id", None),
        (b"", b"id", None),
        (b"x=id=3", b"id", None),
    ],
)
def test_url_param_key(query: bytes, name: bytes, expected: bytes | None) -> None:
    assert url_param_key(query, name) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"user=alice&x=1", b"alice"),
        (b"user=", b""),
        (b"user= alice", b""),  # white space ends the value at once
        (b"user=\x00\x01", None),  # not URL-encoded: no parameters in this body
        (b"other=1", None),
    ],
)
def test_url_param_post_key(body: bytes, expected: bytes | None) -> None:
    assert url_param_post_key(body, b"user") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"www.example.com", b"example"),
        (b"example.com", b"example"),
        (b"haproxy.1wt.eu", b"1wt"),  # HAProxy's documented example
        (b"a.b.c.d.org", b"d"),
        (b"localhost", b"localhost"),
        (b".com", b".com"),
        (b"x.", b"x"),
        (b"a..b", b"a."),
    ],
)
def test_hdr_use_domain_only(value: bytes, expected: bytes) -> None:
    assert hdr_key(value, use_domain_only=True) == expected


def test_hdr_absent_or_empty_means_round_robin() -> None:
    assert hdr_key(None) is None
    assert hdr_key(b"") is None
    assert hdr_key(b"Mozilla/5.0") == b"Mozilla/5.0"


def test_source_key() -> None:
    assert source_key("10.1.2.3") == bytes([10, 1, 2, 3])
    assert source_key("2001:db8::1") == bytes.fromhex("20010db8000000000000000000000001")
    assert len(source_key("::ffff:10.1.2.3")) == 16
    with pytest.raises(ValueError, match="does not appear"):
        source_key("not-an-ip")


_TPKT = b"\x03\x00\x00\x2c\x27\xe0\x00\x00\x00\x00\x00"  # 11-byte TPKT + X.224 CR header


@pytest.mark.parametrize(
    ("payload", "name", "expected"),
    [
        (_TPKT + b"Cookie: mstshash=alice\r\n", b"mstshash", b"alice"),
        (_TPKT + b"cookie:   MSTSHASH=bob\r\nrest", b"mstshash", b"bob"),
        (_TPKT + b"Cookie: msts=x\r\n", b"", b"x"),
        (_TPKT + b"Cookie: other=x\r\n", b"mstshash", None),
        (_TPKT + b"Cookie: mstshash=\r\n", b"mstshash", None),
        (_TPKT + b"Cookie: mstshash=alice", b"mstshash", None),  # incomplete line
        (_TPKT + b"Cookie: mstshash=alice\rX", b"mstshash", None),
        (_TPKT + b"Hello: mstshash=alice\r\n", b"mstshash", None),
        (b"short", b"mstshash", None),
    ],
)
def test_rdp_cookie_key(payload: bytes, name: bytes, expected: bytes | None) -> None:
    assert rdp_cookie_key(payload, name) == expected
