"""Which rule values are free of CR, LF and NUL by construction (the rule writing them
into a head then skips its run-time check)."""

from __future__ import annotations

import pytest

from weir.http.values import is_clean


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
