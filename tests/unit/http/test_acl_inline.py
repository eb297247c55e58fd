"""The common ACLs compiled as one closure (path and header fetches with str, beg, end
and sub matching, with and without -i) match as the general matcher does: the first
occurrence of a header, blanks around a value ignored, -i folding ASCII letters only."""

from __future__ import annotations

import pytest

from weir.proto.h1 import parse_request_head
from weir.sample.acl import compile_acl
from weir.stream import Stream


def stream(*lines: bytes, target: bytes = b"/Index.HTML?q=1") -> Stream:
    raw = b"GET " + target + b" HTTP/1.1\r\n" + b"".join(x + b"\r\n" for x in lines) + b"\r\n"
    found = parse_request_head(raw)
    assert found is not None
    s = Stream("127.0.0.1", 40000, None)
    s.req = found[0]
    return s


HEAD = (
    b"Host: WWW.Example.com",
    b"User-Agent:   Mozilla/5.0 SQLMap\t",
    b"X-Tag: first",
    b"x-tag: second",
    b"X-Latin: caf\xc9",
    b"X-Empty:",
    b"X-Pad: \t Spaced \t",
)


@pytest.mark.parametrize(
    ("acl", "expected"),
    [
        ("path_beg /Index", True),
        ("path_beg /index", False),
        ("path_beg -i /index /nope", True),
        ("path_end .HTML", True),
        ("path_end -i .css .html", True),
        ("path /Index.HTML", True),
        ("path -i /index.html", True),
        ("path_sub dex", True),
        ("hdr(host) www.example.com", False),
        ("hdr(host) -i www.example.com", True),
        ("hdr_beg(host) -i www.", True),
        ("hdr_end(host) -i .COM", True),
        ("hdr_sub(user-agent) -i sqlmap nikto", True),
        ("hdr_sub(user-agent) sqlmap", False),
        ("hdr_sub(user-agent) SQLMap", True),
        ("hdr(x-pad) -i spaced", True),  # blanks around the value go
        ("hdr(x-pad) Spaced", True),
        ("hdr_end(user-agent) SQLMap", True),
        ("hdr(x-tag) first", True),  # the first occurrence
        ("hdr(x-tag) -i FIRST", True),
        ("hdr(x-tag) second", False),
        ("hdr(x-latin) -i caf\xe9", False),  # -i folds ASCII letters only, as HAProxy
        ("hdr(x-latin) -i caf\xc9", True),
        ("hdr(x-empty) -i x", False),
        ("hdr_beg(x-missing) -i x", False),
        ("hdr_beg(x-missing) x", False),
    ],
)
def test_inline_acls_match(acl: str, expected: bool) -> None:
    assert compile_acl(acl.split())(stream(*HEAD)) is expected


def test_a_stream_without_a_request_matches_nothing() -> None:
    s = Stream("127.0.0.1", 40000, None)
    for acl in ("path_beg /", "hdr(host) -i x", "hdr_sub(user-agent) x", "hdr(host) x"):
        assert compile_acl(acl.split())(s) is False
