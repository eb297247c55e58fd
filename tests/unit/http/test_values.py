"""Which rule values are free of CR, LF and NUL by construction (the rule writing them
into a head then skips its run-time check)."""

from __future__ import annotations

import pytest

from weir.http.values import header_reads, is_clean


@pytest.mark.parametrize(
    "text",
    [
        "http",
        "%[src]",
        "%[src]:%[src_port]",
        "%[req.hdr(host)]",
        "%[req.hdr(host),lower]",
        "%[path]%[query]",
        "%ci:%cp %b/%s",
        "%[fe_name]",
    ],
)
def test_clean(text: str) -> None:
    assert is_clean(text)


@pytest.mark.parametrize(
    "text",
    [
        "%[url_param(x)]",  # percent-decoded
        "%[req.hdr(x),url_dec]",
        "%[req.hdr(x),regsub(a,b)]",
        "%[req.hdr(x),b64dec]",
        "%[var(txn.x)]",
        "%[src],%[req.cook(x)]",
        "%ID",
    ],
)
def test_needs_checking(text: str) -> None:
    assert not is_clean(text)


def test_header_reads() -> None:
    assert header_reads("http") == frozenset()
    assert header_reads("%[src]:%cp %[path]") == frozenset()
    assert header_reads("%[req.hdr(Host),lower]-%[hdr(x-a)]") == {b"host", b"x-a"}
    assert header_reads("%[req.cook(sid)]") == {b"cookie"}
    assert header_reads("%[base]") is None  # Host and path: weir does not classify it
    assert header_reads("%ID") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("%[req.hdr(x-list)]", b"c"),  # the last item of the last line
        ("%[req.fhdr(x-list)]", b"b ,  c"),  # the whole last line
        ("%[req.hdr(x-one)]", b"v"),
        ("%[req.hdr(host)]", b"example.com"),
        ("<%[req.hdr(x-none)]>", b"<>"),
        ("%[src]:%[src_port]", b"127.0.0.1:40000"),
        ("a%[req.hdr(x-one)]b%[req.hdr(host)]c", b"avbexample.comc"),
    ],
)
def test_values_read_the_request(text: str, expected: bytes) -> None:
    from weir.http.values import compile_value
    from weir.proto.h1 import parse_request_head
    from weir.sample import core
    from weir.stream import Stream

    raw = b"GET / HTTP/1.1\r\nHost: example.com\r\nX-List: a\r\nX-List: b ,  c\r\nX-One: v\r\n\r\n"
    found = parse_request_head(raw)
    assert found is not None
    s = Stream("127.0.0.1", 40000, None)
    s.req = found[0]
    assert compile_value(text, core.REQ)(s) == expected


def test_a_cast_value_follows_its_sample() -> None:
    # A value remembers its last cast (an address object repeats on a connection); a
    # different sample is cast again.
    from weir.http.values import compile_value
    from weir.sample import core
    from weir.stream import Stream

    value = compile_value("%[src]", core.REQ)
    assert [value(Stream(ip, 1, None)) for ip in ("10.0.0.1", "10.0.0.1", "10.0.0.2")] == [
        b"10.0.0.1",
        b"10.0.0.1",
        b"10.0.0.2",
    ]
