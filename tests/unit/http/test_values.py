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
