"""weir.proto.h1: request/response heads from raw bytes, refusals, serialisation.

The statuses asserted for refusals are those HAProxy 2.6.12 answered on 127.0.0.1 for the
same bytes, except where the module docstring says weir is stricter.
"""

from __future__ import annotations

import pytest

from tests.helpers.attrs import attributes
from weir.proto import h1
from weir.proto.h1 import (
    V10,
    V11,
    ChunkedBody,
    ContentLengthBody,
    EmptyBody,
    H1Error,
    RequestHead,
    ResponseHead,
    UntilCloseBody,
    build_response,
    parse_request_head,
    parse_response_head,
    serialize_request,
    serialize_response,
)

BROWSER_GET = (
    b"GET /static/app.js?v=3 HTTP/1.1\r\n"
    b"Host: www.example.com\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    b"Accept: */*\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\n"
    b"Referer: https://www.example.com/\r\n"
    b"Connection: keep-alive\r\n"
    b"Cookie: session=abc123; theme=dark\r\n"
    b"\r\n"
)


def req(data: bytes, **kw: object) -> tuple[RequestHead, int]:
    found = parse_request_head(data, **kw)  # type: ignore[arg-type]
    assert found is not None, "head unexpectedly incomplete"
    return found


def resp(data: bytes, **kw: object) -> tuple[ResponseHead, int]:
    found = parse_response_head(data, **kw)  # type: ignore[arg-type]
    assert found is not None, "head unexpectedly incomplete"
    return found


def refused(data: bytes, **kw: object) -> H1Error:
    with pytest.raises(H1Error) as info:
        parse_request_head(data, **kw)  # type: ignore[arg-type]
    return info.value


def refused_response(data: bytes) -> H1Error:
    with pytest.raises(H1Error) as info:
        parse_response_head(data)
    return info.value


def head_with(*lines: bytes, start: bytes = b"GET / HTTP/1.1") -> bytes:
    return start + b"\r\n" + b"".join(x + b"\r\n" for x in lines) + b"\r\n"


# -- request heads: the common case -------------------------------------------------------


def test_browser_get_parses_fully() -> None:
    head, used = req(BROWSER_GET)
    assert used == len(BROWSER_GET)
    assert head.method == b"GET"
    assert head.target == b"/static/app.js?v=3"
    assert head.version is V11
    assert head.raw == BROWSER_GET
    assert head.path == b"/static/app.js"
    assert head.host == b"www.example.com"
    assert head.content_length is None
    assert not head.chunked
    assert head.keep_alive
    assert not head.upgrade
    assert not head.expect_continue
    assert head.headers[0] == (b"Host", b"www.example.com")
    assert head.headers[-1] == (b"Cookie", b"session=abc123; theme=dark")
    assert len(head.headers) == 8


def test_raw_is_the_received_object_when_buffer_is_exactly_the_head() -> None:
    head, _ = req(BROWSER_GET)
    assert head.raw is BROWSER_GET


def test_bytearray_and_memoryview_buffers() -> None:
    for buf in (bytearray(BROWSER_GET), memoryview(BROWSER_GET)):
        head, used = req(buf)  # type: ignore[arg-type]
        assert type(head.raw) is bytes
        assert head.raw == BROWSER_GET
        assert used == len(BROWSER_GET)


def test_bytearray_with_body_after_head() -> None:
    buf = bytearray(head_with(b"Host: a", b"Content-Length: 3", start=b"POST / HTTP/1.1") + b"abc")
    head, used = req(buf)  # type: ignore[arg-type]
    assert used == len(buf) - 3
    assert type(head.raw) is bytes
    assert head.content_length == 3


def test_parses_from_the_memos_are_identical() -> None:
    for memo in (h1._MEMO, h1._BLOCKS, h1._REQUESTS):
        memo.clear()
    first, _ = req(BROWSER_GET)
    assert h1._MEMO, "lines were memorised"
    assert h1._BLOCKS, "the header block was memorised"
    assert h1._REQUESTS, "the head was memorised"
    from_head, _ = req(bytes(BROWSER_GET))
    h1._REQUESTS.clear()
    from_block, _ = req(bytes(BROWSER_GET))
    h1._REQUESTS.clear()
    h1._BLOCKS.clear()
    from_lines, _ = req(bytes(BROWSER_GET))
    for other in (from_head, from_block, from_lines):
        assert other is not first
        for attr in attributes(RequestHead):
            if attr != "_headers":
                assert getattr(first, attr) == getattr(other, attr), attr


def test_a_memorised_response_head_is_identical() -> None:
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello"
    h1._RESPONSES.clear()
    first, used = resp(data)
    assert h1._RESPONSES, "the head was memorised"
    again, used_again = resp(bytes(data))
    assert used == used_again
    for attr in attributes(ResponseHead):
        if attr != "_headers":
            assert getattr(first, attr) == getattr(again, attr), attr
    with pytest.raises(H1Error) as info:
        parse_response_head(data, max_headers=2)
    assert info.value.status == 502


def test_heads_with_a_body_are_not_memorised() -> None:
    h1._REQUESTS.clear()
    req(head_with(b"Host: a", b"Content-Length: 3", start=b"POST / HTTP/1.1") + b"abc")
    assert not h1._REQUESTS


def test_a_memorised_block_still_counts_its_lines() -> None:
    head = head_with(*(b"X-%d: v" % i for i in range(20)))
    parse_request_head(head, max_headers=101)
    with pytest.raises(H1Error) as info:
        parse_request_head(head, max_headers=10)
    assert info.value.status == 400


def test_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(h1, "_MEMO_ENTRIES", 8)
    for i in range(50):
        req(head_with(b"X-N: %d" % i))
        assert len(h1._MEMO) <= 8
        assert len(h1._BLOCKS) <= 8


def test_invalid_lines_are_never_memorised() -> None:
    for line in (b"X-A : b", b"X-A: a\x00", b": b", b"X-A", b" X-B: c"):
        with pytest.raises(H1Error):
            parse_request_head(head_with(b"Host: a", line))
        assert line not in h1._MEMO
    assert all(line for line in h1._MEMO)


def test_memo_hit_and_miss_give_the_same_refusal() -> None:
    data = head_with(b"Host: a", b"Content-Length: 1", b"Content-Length: 2", start=P)
    h1._MEMO.clear()
    assert refused(data).status == 400  # lines learnt
    assert refused(data).status == 400  # lines from the memo


def test_status_line_memo() -> None:
    h1._STATUS_MEMO.clear()
    data = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    first, _ = resp(data)
    second, _ = resp(bytes(data))
    assert (second.status, second.reason, second.version) == (404, b"Not Found", V11)
    assert (first.status, first.reason) == (second.status, second.reason)
    # the same text with a bare LF is not the memorised line
    third, _ = resp(b"HTTP/1.1 404 Not Found\nContent-Length: 0\r\n\r\n")
    assert third.raw == data


def test_long_lines_are_not_memorised() -> None:
    line = b"X-Long: " + b"v" * 400
    req(head_with(line))
    assert line not in h1._MEMO


def test_header_lookup() -> None:
    head, _ = req(head_with(b"Host: a", b"X-A: 1", b"x-a:2", b"X-B:   spaced \t "))
    assert head.header(b"x-a") == b"1"
    assert head.header_values(b"x-a") == [b"1", b"2"]
    assert head.header(b"x-b") == b"spaced"
    assert head.header(b"x-c") is None
    assert head.header(b"host") == b"a"
    assert head.headers == [(b"Host", b"a"), (b"X-A", b"1"), (b"x-a", b"2"), (b"X-B", b"spaced")]


def test_header_lookup_is_case_blind_and_follows_edits() -> None:
    head, _ = req(head_with(b"Host: a", b"X-MiXed:  Value ", b"x-mixed: other"))
    assert head.has_header(b"x-mixed")
    assert not head.has_header(b"x-mix")
    assert head.header_values(b"x-mixed") == [b"Value", b"other"]
    assert head.header_values(b"host") == [b"a"]
    head.set_raw(head_with(b"Host: a", b"X-New: 1"))  # what a rule's edit does
    assert head.header(b"x-new") == b"1"
    assert not head.has_header(b"x-mixed")
    assert head.headers == [(b"Host", b"a"), (b"X-New", b"1")]


def test_path_is_the_targets_path() -> None:
    head, _ = req(head_with(start=b"GET /a/b?q=1 HTTP/1.1"))
    assert head.path == b"/a/b"
    assert head.path is head.path  # worked out once
    head, _ = req(head_with(start=b"GET http://x.example HTTP/1.1"))
    assert head.path == b"/"


def test_header_lookup_does_not_match_a_longer_name() -> None:
    head, _ = req(head_with(b"X-Abc: 1", b"X-A: 2"))
    assert head.header(b"x-a") == b"2"


def test_no_headers() -> None:
    head, used = req(b"GET / HTTP/1.1\r\n\r\n")
    assert used == 18
    assert head.headers == []
    assert head.host is None
    assert head.keep_alive


def test_empty_and_blank_values() -> None:
    head, _ = req(head_with(b"X-A:", b"X-B:   "))
    assert head.headers == [(b"X-A", b""), (b"X-B", b"")]


def test_control_bytes_and_obs_text_in_values_pass_like_haproxy() -> None:
    head, _ = req(head_with(b"X-A: a\x01b\x7fc\xe9d\te"))
    assert head.header(b"x-a") == b"a\x01b\x7fc\xe9d\te"


def test_method_is_any_token_case_sensitive() -> None:
    head, _ = req(head_with(start=b"get / HTTP/1.1"))
    assert head.method == b"get"
    head, _ = req(head_with(start=b"M-SEARCH / HTTP/1.1"))
    assert head.method == b"M-SEARCH"


# -- incremental feeding and pipelining -----------------------------------------------------


def test_every_prefix_is_incomplete() -> None:
    for i in range(len(BROWSER_GET)):
        assert parse_request_head(BROWSER_GET[:i]) is None, i
    assert parse_request_head(BROWSER_GET) is not None


def test_search_from_skips_known_bytes() -> None:
    buf = bytearray()
    found = None
    prev = 0
    for i in range(0, len(BROWSER_GET), 7):
        buf += BROWSER_GET[i : i + 7]
        found = parse_request_head(buf, search_from=max(0, prev - 3))
        prev = len(buf)
        if found is not None:
            break
    assert found is not None
    assert found[1] == len(BROWSER_GET)


def test_pipelined_requests_in_one_buffer() -> None:
    second = head_with(b"Host: b", start=b"POST /p HTTP/1.1")
    third = head_with(start=b"HEAD /h HTTP/1.0")
    buf = BROWSER_GET + second + third
    heads = []
    while buf:
        head, used = req(buf)
        heads.append(head)
        buf = buf[used:]
    assert [h.method for h in heads] == [b"GET", b"POST", b"HEAD"]
    assert heads[1].raw == second
    assert heads[2].raw == third
    assert heads[2].version is V10


def test_pipelined_identical_requests() -> None:
    one = head_with(b"Host: a")
    head, used = req(one * 3)
    assert used == len(one)
    assert head.raw == one


def test_body_bytes_after_head_are_not_consumed() -> None:
    data = head_with(b"Host: a", b"Content-Length: 5", start=b"POST / HTTP/1.1") + b"hel"
    head, used = req(data)
    assert data[used:] == b"hel"
    assert head.content_length == 5


def test_body_holding_crlfcrlf_is_not_taken_for_the_head() -> None:
    data = b"POST / HTTP/1.1\nContent-Length: 8\n\n\r\n\r\nabcd"
    head, used = req(data)
    assert used == len(b"POST / HTTP/1.1\nContent-Length: 8\n\n")
    assert head.content_length == 8


# -- line ends, leading empty lines, normalisation ------------------------------------------


def test_bare_lf_head_is_accepted_and_normalised() -> None:
    data = b"GET / HTTP/1.1\nHost: a\nX: y\n\n"
    head, used = req(data)
    assert used == len(data)
    assert head.raw == b"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n"
    assert head.host == b"a"


def test_mixed_line_ends_are_normalised() -> None:
    data = b"GET / HTTP/1.1\r\nHost: a\nX: y\r\n\n"
    head, used = req(data)
    assert used == len(data)
    assert head.raw == b"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n"


def test_bare_lf_head_before_crlf_bytes_ends_first() -> None:
    data = b"GET /a HTTP/1.1\nHost: a\n\nGET /b HTTP/1.1\r\n\r\n"
    head, used = req(data)
    assert head.target == b"/a"
    assert data[used:] == b"GET /b HTTP/1.1\r\n\r\n"


def test_leading_empty_lines_are_skipped_and_counted() -> None:
    data = b"\r\n\n\r\n" + head_with(b"Host: a")
    head, used = req(data)
    assert used == len(data)
    assert head.raw == head_with(b"Host: a")


def test_incomplete_bare_lf_head() -> None:
    assert parse_request_head(b"GET / HTTP/1.1\nHost: a\n") is None


# -- refusals: one case each ---------------------------------------------------------------

P = b"POST / HTTP/1.1"

REFUSALS = [
    # Content-Length
    ("cl plus sign", head_with(b"Content-Length: +5", start=P), 400),
    ("cl minus", head_with(b"Content-Length: -1", start=P), 400),
    ("cl differing list", head_with(b"Content-Length: 5,6", start=P), 400),
    ("cl differing headers", head_with(b"Content-Length: 5", b"Content-Length: 6", start=P), 400),
    ("cl empty", head_with(b"Content-Length:", start=P), 400),
    ("cl empty element", head_with(b"Content-Length: 5,", start=P), 400),
    ("cl double comma", head_with(b"Content-Length: 5,,5", start=P), 400),
    ("cl space inside", head_with(b"Content-Length: 5 5", start=P), 400),
    ("cl hex", head_with(b"Content-Length: 0x5", start=P), 400),
    ("cl 2**63", head_with(b"Content-Length: 9223372036854775808", start=P), 400),
    ("cl huge", head_with(b"Content-Length: " + b"9" * 5000, start=P), 400),
    # Transfer-Encoding
    ("te gzip alone", head_with(b"Transfer-Encoding: gzip", start=P), 400),
    ("te chunked then gzip", head_with(b"Transfer-Encoding: chunked, gzip", start=P), 400),
    ("te chunked twice", head_with(b"Transfer-Encoding: chunked, chunked", start=P), 400),
    (
        "te chunked in two headers",
        head_with(b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked", start=P),
        400,
    ),
    ("te empty", head_with(b"Transfer-Encoding:", start=P), 400),
    ("te parameter on chunked", head_with(b"Transfer-Encoding: chunked;a=b", start=P), 400),
    ("te not a token", head_with(b"Transfer-Encoding: foo bar, chunked", start=P), 400),
    ("te empty element", head_with(b"Transfer-Encoding: , chunked", start=P), 400),
    ("te gzip then chunked", head_with(b"Transfer-Encoding: gzip, chunked", start=P), 422),
    ("te identity then chunked", head_with(b"Transfer-Encoding: identity, chunked", start=P), 422),
    (
        "te gzip header then chunked header",
        head_with(b"Transfer-Encoding: gzip", b"Transfer-Encoding: chunked", start=P),
        422,
    ),
    ("te in HTTP/1.0", head_with(b"Transfer-Encoding: chunked", start=b"POST / HTTP/1.0"), 400),
    # header lines
    ("obs-fold", head_with(b"Host: a", b"X-A: a", b" b"), 400),
    ("obs-fold tab", head_with(b"X-A: a", b"\tb"), 400),
    ("folded first line", head_with(b" X-A: a"), 400),
    ("cr in value", head_with(b"X-A: a\rb"), 400),
    ("cr at end of value", head_with(b"X-A: ab\r"), 400),
    ("nul in value", head_with(b"X-A: a\x00b"), 400),
    ("nul in name", head_with(b"X-\x00A: ab"), 400),
    ("empty name", head_with(b": ab"), 400),
    ("space before colon", head_with(b"X-A : ab"), 400),
    ("tab before colon", head_with(b"X-A\t: ab"), 400),
    ("no colon", head_with(b"X-A ab"), 400),
    ("non-ascii name", head_with(b"X-\xe9: a"), 400),
    ("slash in name", head_with(b"X/A: a"), 400),
    ("bare cr line end", b"GET / HTTP/1.1\rHost: a\r\n\r\n", 400),
    # request line
    ("bad method", head_with(start=b"G(T / HTTP/1.1"), 400),
    ("two spaces", head_with(start=b"GET  / HTTP/1.1"), 400),
    ("tab separator", head_with(start=b"GET\t/\tHTTP/1.1"), 400),
    ("trailing space", head_with(start=b"GET / HTTP/1.1 "), 400),
    ("leading space", head_with(start=b" GET / HTTP/1.1"), 400),
    ("no version", head_with(start=b"GET /"), 400),
    ("lower-case version", head_with(start=b"GET / http/1.1"), 400),
    ("version HTTP/1.10", head_with(start=b"GET / HTTP/1.10"), 400),
    ("version HTTP/1", head_with(start=b"GET / HTTP/1"), 400),
    ("version HTTQ/1.1", head_with(start=b"GET / HTTQ/1.1"), 400),
    ("version HTTP/2.0", head_with(start=b"GET / HTTP/2.0"), 505),
    ("version HTTP/1.2", head_with(start=b"GET / HTTP/1.2"), 505),
    ("version HTTP/0.9", head_with(start=b"GET / HTTP/0.9"), 505),
    ("space in target", head_with(start=b"GET /a b HTTP/1.1"), 400),
    ("non-ascii target", head_with(start=b"GET /\xe9 HTTP/1.1"), 400),
    ("control in target", head_with(start=b"GET /\x01 HTTP/1.1"), 400),
    # targets and Host
    ("relative target", head_with(b"Host: foo", start=b"GET foo HTTP/1.1"), 400),
    ("query-only target", head_with(start=b"GET ?x HTTP/1.1"), 400),
    ("asterisk outside OPTIONS", head_with(start=b"GET * HTTP/1.1"), 400),
    ("connect origin-form", head_with(b"Host: a", start=b"CONNECT /x HTTP/1.1"), 400),
    ("connect without port", head_with(b"Host: a", start=b"CONNECT a HTTP/1.1"), 400),
    ("connect host mismatch", head_with(b"Host: a", start=b"CONNECT b:443 HTTP/1.1"), 400),
    ("connect port mismatch", head_with(b"Host: a", start=b"CONNECT a:8443 HTTP/1.1"), 400),
    ("absolute host mismatch", head_with(b"Host: a", start=b"GET http://b/p HTTP/1.1"), 400),
    ("absolute port mismatch", head_with(b"Host: a", start=b"GET http://a:8080/ HTTP/1.1"), 400),
    ("absolute wrong default", head_with(b"Host: a", start=b"GET http://a:443/ HTTP/1.1"), 400),
    ("absolute empty authority", head_with(b"Host: a", start=b"GET http:///p HTTP/1.1"), 400),
    ("two different hosts", head_with(b"Host: a", b"Host: b"), 400),
    # bodies on bodyless HTTP/1.0 methods
    ("1.0 GET with body", head_with(b"Content-Length: 5", start=b"GET / HTTP/1.0"), 413),
    ("1.0 HEAD with body", head_with(b"Content-Length: 1", start=b"HEAD / HTTP/1.0"), 413),
    ("1.0 DELETE with body", head_with(b"Content-Length: 5", start=b"DELETE / HTTP/1.0"), 413),
    # websocket
    ("websocket without key", head_with(b"Connection: upgrade", b"Upgrade: websocket"), 400),
    (
        "websocket short key",
        head_with(b"Connection: upgrade", b"Upgrade: websocket", b"Sec-WebSocket-Key: abc"),
        400,
    ),
]


@pytest.mark.parametrize(
    ("data", "status"), [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS]
)
def test_refusal(data: bytes, status: int) -> None:
    err = refused(data)
    assert err.status == status
    assert err.reason


# Cases whose only CRs are line ends: the same head with bare LF line ends.
LF_REFUSALS = [c for c in REFUSALS if c[1].count(b"\r") == c[1].count(b"\r\n")]


@pytest.mark.parametrize(
    ("data", "status"), [c[1:] for c in LF_REFUSALS], ids=[c[0] for c in LF_REFUSALS]
)
def test_refusal_with_bare_lf_line_ends(data: bytes, status: int) -> None:
    """The normalising path refuses the same heads as the fast path."""
    assert refused(data.replace(b"\r\n", b"\n")).status == status


def test_refusal_incomplete_bad_request_line_is_early() -> None:
    assert refused(b"G(T / HTTP/1.1\r\nHost: a").status == 400
    assert refused(b"GET / HTTP/2.0\r\nHost:").status == 505


def test_incomplete_valid_request_line_waits() -> None:
    assert parse_request_head(b"GET / HTTP/1.1\r\nHost: a") is None


def test_error_is_an_exception_with_status_and_reason() -> None:
    err = refused(head_with(b"X-A : b"))
    assert isinstance(err, Exception)
    assert "400" in str(err)
    assert err.reason == "whitespace before the colon of a header"


# -- limits ---------------------------------------------------------------------------------


def test_max_headers_takes_one_less_than_the_limit_like_haproxy() -> None:
    lines = [b"X-H%d: v" % i for i in range(101)]
    head, _ = req(head_with(*lines[:100]))
    assert len(head.headers) == 100
    assert refused(head_with(*lines)).status == 400
    assert refused(head_with(*lines[:10]), max_headers=10).status == 400
    req(head_with(*lines[:9]), max_headers=10)


def test_max_headers_counts_lines_on_the_normalising_path() -> None:
    data = head_with(*[b"X-H%d: v" % i for i in range(101)]).replace(b"\r\n", b"\n")
    assert refused(data).status == 400


def test_head_at_max_size_is_accepted_one_more_byte_refused() -> None:
    base = head_with(b"X-A: ")
    pad = 200 - len(base)
    data = head_with(b"X-A: " + b"a" * pad)
    assert len(data) == 200
    req(data, max_size=200)
    data = head_with(b"X-A: " + b"a" * (pad + 1))
    assert refused(data, max_size=200).status == 400


def test_incomplete_head_beyond_max_size_is_refused_with_400() -> None:
    err = refused(b"GET / HTTP/1.1\r\nX-A: " + b"a" * 300, max_size=256)
    assert err.status == 400
    err = refused(b"GET /" + b"a" * 300, max_size=256)
    assert err.status == 400
    assert "start line" in err.reason


def test_incomplete_head_below_max_size_waits() -> None:
    assert parse_request_head(b"GET / HTTP/1.1\r\nX-A: " + b"a" * 200, max_size=256) is None


def test_complete_head_beyond_max_size_is_refused() -> None:
    data = head_with(b"X-A: " + b"a" * 400)
    assert refused(data, max_size=256).status == 400
    assert refused(data.replace(b"\r\n", b"\n"), max_size=256).status == 400


# -- framing --------------------------------------------------------------------------------


def test_content_length() -> None:
    head, _ = req(head_with(b"Content-Length: 42", start=P))
    assert head.content_length == 42
    assert not head.chunked
    assert isinstance(head.framer(), ContentLengthBody)


def test_content_length_leading_zeros_kept_as_sent() -> None:
    data = head_with(b"Content-Length: 005", start=P)
    head, _ = req(data)
    assert head.content_length == 5
    assert head.raw == data


def test_content_length_with_ows_kept_as_sent() -> None:
    data = head_with(b"Content-Length: \t 7 \t", start=P)
    head, _ = req(data)
    assert head.content_length == 7
    assert head.raw == data


def test_content_length_equal_list_is_merged() -> None:
    head, _ = req(head_with(b"Host: a", b"Content-Length: 5, 5", start=P))
    assert head.content_length == 5
    assert head.raw == head_with(b"Host: a", b"Content-Length: 5", start=P)


def test_content_length_equal_headers_are_merged() -> None:
    data = head_with(b"Content-Length: 5", b"Host: a", b"content-length: 05", start=P)
    head, _ = req(data)
    assert head.content_length == 5
    assert head.raw == head_with(b"Host: a", b"Content-Length: 5", start=P)
    assert head.header_values(b"content-length") == [b"5"]


def test_content_length_largest_accepted() -> None:
    head, _ = req(head_with(b"Content-Length: 9223372036854775807", start=P))
    assert head.content_length == (1 << 63) - 1


def test_zero_content_length_body_is_empty() -> None:
    head, _ = req(head_with(b"Content-Length: 0", start=P))
    assert head.content_length == 0
    assert head.framer().done


def test_chunked() -> None:
    head, _ = req(head_with(b"Transfer-Encoding: chunked", start=P))
    assert head.chunked
    assert head.content_length is None
    assert head.keep_alive
    assert isinstance(head.framer(), ChunkedBody)


@pytest.mark.parametrize("value", [b"CHUNKED", b"Chunked", b"chunked ", b" chunked"])
def test_chunked_case_and_ows(value: bytes) -> None:
    head, _ = req(head_with(b"Transfer-Encoding:" + value, start=P))
    assert head.chunked


def test_transfer_encoding_wins_over_content_length_and_closes() -> None:
    for order in (
        (b"Content-Length: 5", b"Transfer-Encoding: chunked"),
        (b"Transfer-Encoding: chunked", b"Content-Length: 5"),
    ):
        head, _ = req(head_with(b"Host: a", *order, start=P))
        assert head.chunked
        assert head.content_length is None
        assert not head.keep_alive
        assert head.raw == head_with(b"Host: a", b"Transfer-Encoding: chunked", start=P)
        assert head.header(b"content-length") is None


def test_no_framing_headers_means_no_body() -> None:
    head, _ = req(head_with(start=P))
    assert head.content_length is None
    assert not head.chunked
    assert isinstance(head.framer(), EmptyBody)


def test_connect_has_no_body_whatever_its_headers_say() -> None:
    data = head_with(b"Host: a:443", b"Content-Length: 5", start=b"CONNECT a:443 HTTP/1.1")
    head, _ = req(data)
    assert head.content_length is None
    assert not head.chunked
    assert head.raw == head_with(b"Host: a:443", start=b"CONNECT a:443 HTTP/1.1")
    assert head.path == b""


def test_http10_post_with_body_is_fine() -> None:
    head, _ = req(head_with(b"Content-Length: 5", start=b"POST / HTTP/1.0"))
    assert head.content_length == 5


def test_http10_get_with_zero_length_is_fine() -> None:
    head, _ = req(head_with(b"Content-Length: 0", start=b"GET / HTTP/1.0"))
    assert head.content_length == 0


def test_accept_payload_with_any_method() -> None:
    data = head_with(b"Content-Length: 5", start=b"GET / HTTP/1.0")
    head, _ = req(data, accept_payload_with_any_method=True)
    assert head.content_length == 5


# -- keep-alive, upgrade, expect ------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "connection", "keep_alive"),
    [
        (b"HTTP/1.1", None, True),
        (b"HTTP/1.1", b"close", False),
        (b"HTTP/1.1", b"Close", False),
        (b"HTTP/1.1", b"keep-alive", True),
        (b"HTTP/1.1", b"keep-alive, close", False),
        (b"HTTP/1.1", b"foo, CLOSE ,bar", False),
        (b"HTTP/1.1", b"upgrade", True),
        (b"HTTP/1.0", None, False),
        (b"HTTP/1.0", b"keep-alive", True),
        (b"HTTP/1.0", b"Keep-Alive", True),
        (b"HTTP/1.0", b"te, keep-alive", True),
        (b"HTTP/1.0", b"keep-alive, close", False),
        (b"HTTP/1.0", b"close", False),
    ],
)
def test_keep_alive(version: bytes, connection: bytes | None, keep_alive: bool) -> None:
    lines = [] if connection is None else [b"Connection: " + connection]
    head, _ = req(head_with(*lines, start=b"GET / " + version))
    assert head.keep_alive is keep_alive


def test_several_connection_headers_combine() -> None:
    head, _ = req(head_with(b"Connection: keep-alive", b"Connection: close"))
    assert not head.keep_alive
    head, _ = req(head_with(b"Connection: te", b"Connection: keep-alive", start=b"GET / HTTP/1.0"))
    assert head.keep_alive


def test_websocket_upgrade() -> None:
    data = head_with(
        b"Host: a",
        b"Connection: Upgrade",
        b"Upgrade: websocket",
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    )
    head, _ = req(data)
    assert head.upgrade
    assert head.keep_alive


def test_upgrade_needs_both_headers() -> None:
    head, _ = req(head_with(b"Upgrade: websocket"))
    assert not head.upgrade
    head, _ = req(head_with(b"Connection: upgrade"))
    assert not head.upgrade


def test_non_websocket_upgrade_needs_no_key() -> None:
    head, _ = req(head_with(b"Connection: upgrade", b"Upgrade: h2c"))
    assert head.upgrade


def test_upgrade_on_a_request_with_body_is_ignored() -> None:
    data = head_with(b"Connection: upgrade", b"Upgrade: websocket", b"Content-Length: 2", start=P)
    head, _ = req(data)
    assert not head.upgrade


def test_expect_continue() -> None:
    head, _ = req(head_with(b"Expect: 100-Continue", b"Content-Length: 5", start=P))
    assert head.expect_continue
    head, _ = req(head_with(b"Expect: 100-continue", start=P))
    assert not head.expect_continue  # no body: nothing to wait for
    data = head_with(b"Expect: 100-continue", b"Content-Length: 5", start=b"POST / HTTP/1.0")
    head, _ = req(data)
    assert not head.expect_continue  # ignored in HTTP/1.0


# -- targets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "path"),
    [
        (b"/", b"/"),
        (b"/a/b?c=d?e", b"/a/b"),
        (b"//a/x", b"//a/x"),
        (b"/a#frag", b"/a#frag"),
        (b"http://a/p?q", b"/p"),
        (b"http://a?q", b"/"),
        (b"https://u:pw@a:443/x", b"/x"),
        (b"HTTP://A/Z", b"/Z"),
        (b"ftp://a/x", b"/x"),
    ],
)
def test_path(target: bytes, path: bytes) -> None:
    head, _ = req(head_with(start=b"GET " + target + b" HTTP/1.1"))
    assert head.path == path


def test_asterisk_form() -> None:
    head, _ = req(head_with(b"Host: a", start=b"OPTIONS * HTTP/1.1"))
    assert head.target == b"*"
    assert head.path == b"*"


@pytest.mark.parametrize(
    ("target", "host"),
    [
        (b"http://a/p", b"a"),
        (b"http://A/p", b"a"),
        (b"http://a:80/p", b"a"),
        (b"http://a/p", b"a:80"),
        (b"https://a:443/p", b"a"),
        (b"http://user@a/p", b"a"),
        (b"http://[::1]:8080/p", b"[::1]:8080"),
    ],
)
def test_absolute_form_matching_host(target: bytes, host: bytes) -> None:
    head, _ = req(head_with(b"Host: " + host, start=b"GET " + target + b" HTTP/1.1"))
    assert head.host == host


def test_absolute_form_without_host_header() -> None:
    head, _ = req(head_with(start=b"GET http://zz/p HTTP/1.1"))
    assert head.host is None


@pytest.mark.parametrize(
    ("target", "host"),
    [(b"a:443", b"a"), (b"a:443", b"a:443"), (b"[::1]:443", b"[::1]"), (b"a:8443", None)],
)
def test_connect_authority_form(target: bytes, host: bytes | None) -> None:
    lines = [] if host is None else [b"Host: " + host]
    head, _ = req(head_with(*lines, start=b"CONNECT " + target + b" HTTP/1.1"))
    assert head.target == target


def test_equal_host_headers_are_merged() -> None:
    head, _ = req(head_with(b"Host: a", b"X: 1", b"HOST: A"))
    assert head.host == b"a"
    assert head.raw == head_with(b"Host: a", b"X: 1")


# -- responses ------------------------------------------------------------------------------

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"


def test_small_response() -> None:
    head, used = resp(OK + b"ok")
    assert used == len(OK)
    assert head.version is V11
    assert head.status == 200
    assert head.reason == b"OK"
    assert head.content_length == 2
    assert head.keep_alive
    assert head.raw == OK
    assert head.headers == [(b"Content-Length", b"2")]
    assert head.header(b"content-length") == b"2"


@pytest.mark.parametrize(
    ("line", "status", "reason"),
    [
        (b"HTTP/1.1 200 OK", 200, b"OK"),
        (b"HTTP/1.1 200", 200, b""),
        (b"HTTP/1.1 200 ", 200, b""),
        (b"HTTP/1.1 404 Not Found Here", 404, b"Not Found Here"),
        (b"HTTP/1.1 600 Odd", 600, b"Odd"),
        (b"HTTP/1.1 200 O\x01K\xe9", 200, b"O\x01K\xe9"),
        (b"HTTP/1.0 302 Found", 302, b"Found"),
    ],
)
def test_status_line(line: bytes, status: int, reason: bytes) -> None:
    head, _ = resp(line + b"\r\nContent-Length: 0\r\n\r\n")
    assert head.status == status
    assert head.reason == reason


RESPONSE_REFUSALS = [
    ("status 2000", b"HTTP/1.1 2000 OK"),
    ("status 99", b"HTTP/1.1 99 OK"),
    ("status 099", b"HTTP/1.1 099 OK"),
    ("status 20x", b"HTTP/1.1 20x OK"),
    ("no space after version", b"HTTP/1.1200 OK"),
    ("two spaces", b"HTTP/1.1  200 OK"),
    ("version 1.2", b"HTTP/1.2 200 OK"),
    ("version 2.0", b"HTTP/2.0 200 OK"),
    ("not http", b"HTTX/1.1 200 OK"),
    ("nul in reason", b"HTTP/1.1 200 O\x00K"),
    ("cr in reason", b"HTTP/1.1 200 O\rK"),
]


@pytest.mark.parametrize(
    "line", [c[1] for c in RESPONSE_REFUSALS], ids=[c[0] for c in RESPONSE_REFUSALS]
)
def test_status_line_refusal(line: bytes) -> None:
    assert refused_response(line + b"\r\nContent-Length: 0\r\n\r\n").status == 502


HEADER_REFUSALS = [
    ("te gzip", b"Transfer-Encoding: gzip"),
    ("te gzip, chunked", b"Transfer-Encoding: gzip, chunked"),
    ("te chunked, gzip", b"Transfer-Encoding: chunked, gzip"),
    ("te chunked twice", b"Transfer-Encoding: chunked, chunked"),
    ("cl differing", b"Content-Length: 2, 3"),
    ("cl invalid", b"Content-Length: 2a"),
    ("space before colon", b"X-A : b"),
    ("empty name", b": b"),
    ("nul", b"X-A: a\x00"),
    ("lone cr", b"X-A: a\rb"),
    ("chunked in two headers", b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked"),
    ("cl differing headers", b"Content-Length: 2\r\nContent-Length: 3"),
]


@pytest.mark.parametrize(
    "line", [c[1] for c in HEADER_REFUSALS], ids=[c[0] for c in HEADER_REFUSALS]
)
def test_response_header_refusal(line: bytes) -> None:
    err = refused_response(b"HTTP/1.1 200 OK\r\n" + line + b"\r\n\r\n")
    assert err.status == 502


def test_response_too_large_is_502() -> None:
    with pytest.raises(H1Error) as info:
        parse_response_head(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 300, max_size=256)
    assert info.value.status == 502


def test_response_too_many_headers_is_502() -> None:
    data = b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n"
    assert refused_response(data).status == 502


def test_response_incomplete() -> None:
    for i in range(len(OK)):
        assert parse_response_head(OK[:i]) is None


def test_response_chunked_wins_over_length_and_closes() -> None:
    head, _ = resp(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert head.chunked
    assert head.content_length is None
    assert not head.keep_alive
    assert head.raw == b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_response_chunked_in_http10_closes() -> None:
    head, _ = resp(
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
    )
    assert head.chunked
    assert not head.keep_alive


def test_response_equal_lengths_merged() -> None:
    head, _ = resp(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nX: y\r\n\r\n")
    assert head.content_length == 2
    assert head.raw == b"HTTP/1.1 200 OK\r\nX: y\r\nContent-Length: 2\r\n\r\n"


def test_response_obs_fold_is_unfolded() -> None:
    data = b"HTTP/1.1 200 OK\r\nX-A: a\r\n  b\r\n\tc\r\nContent-Length: 0\r\n\r\n"
    head, used = resp(data + b"next")
    assert head.raw == b"HTTP/1.1 200 OK\r\nX-A: a b c\r\nContent-Length: 0\r\n\r\n"
    assert head.header(b"x-a") == b"a b c"
    assert used == len(data)


def test_response_folded_first_header_is_refused() -> None:
    assert refused_response(b"HTTP/1.1 200 OK\r\n X-A: a\r\n\r\n").status == 502


def test_response_bare_lf_and_leading_empty_line() -> None:
    data = b"\r\nHTTP/1.1 200 OK\nContent-Length: 2\n\nok"
    head, used = resp(data)
    assert used == len(data) - 2
    assert head.raw == OK


@pytest.mark.parametrize(
    ("status_line", "extra", "keep_alive"),
    [
        (b"HTTP/1.1 200 OK", b"Content-Length: 0", True),
        (b"HTTP/1.1 200 OK", b"Connection: close\r\nContent-Length: 0", False),
        (b"HTTP/1.1 200 OK", b"X: y", False),  # close-delimited body
        (b"HTTP/1.1 204 No Content", b"X: y", True),
        (b"HTTP/1.1 304 Not Modified", b"X: y", True),
        (b"HTTP/1.1 100 Continue", b"X: y", True),
        (b"HTTP/1.0 200 OK", b"Content-Length: 0", False),
        (b"HTTP/1.0 200 OK", b"Connection: keep-alive\r\nContent-Length: 0", True),
        (b"HTTP/1.0 200 OK", b"Connection: keep-alive", False),  # close-delimited
    ],
)
def test_response_keep_alive(status_line: bytes, extra: bytes, keep_alive: bool) -> None:
    head, _ = resp(status_line + b"\r\n" + extra + b"\r\n\r\n")
    assert head.keep_alive is keep_alive


@pytest.mark.parametrize(
    ("status", "method", "has_body"),
    [
        (200, b"GET", True),
        (200, b"HEAD", False),
        (404, b"HEAD", False),
        (100, b"GET", False),
        (101, b"GET", False),
        (199, b"POST", False),
        (204, b"GET", False),
        (304, b"GET", False),
        (205, b"GET", True),
        (200, b"CONNECT", False),
        (299, b"CONNECT", False),
        (407, b"CONNECT", True),
        (500, b"POST", True),
    ],
)
def test_has_body(status: int, method: bytes, has_body: bool) -> None:
    head, _ = resp(b"HTTP/1.1 %d X\r\nContent-Length: 3\r\n\r\n" % status)
    assert head.has_body(method) is has_body
    framer = head.framer(method)
    if has_body:
        assert isinstance(framer, ContentLengthBody)
        assert not framer.done
    else:
        assert isinstance(framer, EmptyBody)
        assert framer.done


def test_response_framer_kinds() -> None:
    head, _ = resp(b"HTTP/1.1 200 OK\r\n\r\n")
    framer = head.framer(b"GET")
    assert isinstance(framer, UntilCloseBody)
    assert framer.until_close
    head, _ = resp(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    framer = head.framer(b"GET")
    assert isinstance(framer, ChunkedBody)
    with pytest.raises(H1Error) as info:
        framer.feed(b"zz\r\n")
    assert info.value.status == 502


def test_interim_then_final_response() -> None:
    data = b"HTTP/1.1 100 Continue\r\n\r\n" + OK + b"ok"
    first, used = resp(data)
    assert first.status == 100
    assert not first.has_body(b"POST")
    second, used2 = resp(data[used:])
    assert second.status == 200
    assert data[used + used2 :] == b"ok"


def test_response_websocket_without_accept() -> None:
    data = b"HTTP/1.1 101 Switching\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"
    assert refused_response(data).status == 502
    # HAProxy checks the key only when switching protocols
    head, _ = resp(data.replace(b"101 Switching", b"200 OK"))
    assert head.status == 200


def test_response_websocket_with_accept() -> None:
    data = (
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    )
    head, _ = resp(data)
    assert head.status == 101
    assert not head.has_body(b"GET")


# -- serialisation --------------------------------------------------------------------------


def test_serialize_unmodified_is_the_raw_bytes() -> None:
    head, _ = req(BROWSER_GET)
    assert serialize_request(head) is head.raw


def test_serialize_add_inserts_before_final_crlf() -> None:
    head, _ = req(BROWSER_GET)
    xff = b"X-Forwarded-For: 10.0.0.1\r\n"
    out = serialize_request(head, add=xff)
    assert out == BROWSER_GET[:-2] + xff + b"\r\n"
    again, used = req(out)
    assert used == len(out)
    assert again.header(b"x-forwarded-for") == b"10.0.0.1"


def test_serialize_drop_removes_every_named_line_only() -> None:
    data = head_with(
        b"Host: a", b"Connection: keep-alive", b"X-Connection: 1", b"CONNECTION: te", b"Cookie: c"
    )
    head, _ = req(data)
    out = serialize_request(
        head, add=b"Connection: close\r\n", drop=frozenset({b"connection", b"cookie"})
    )
    assert out == head_with(b"Host: a", b"X-Connection: 1", b"Connection: close")


def test_serialize_drop_without_add_and_no_headers_left() -> None:
    head, _ = req(head_with(b"Cookie: c"))
    assert serialize_request(head, drop=frozenset({b"cookie"})) == b"GET / HTTP/1.1\r\n\r\n"


def test_serialize_start_line() -> None:
    head, _ = req(head_with(b"Host: a"))
    out = serialize_request(head, start_line=b"GET /new HTTP/1.1")
    assert out == head_with(b"Host: a", start=b"GET /new HTTP/1.1")
    head, _ = req(b"GET / HTTP/1.1\r\n\r\n")
    assert serialize_request(head, start_line=b"PUT /x HTTP/1.1") == b"PUT /x HTTP/1.1\r\n\r\n"


def test_serialize_normalised_head_forwards_canonical_bytes() -> None:
    head, _ = req(b"GET / HTTP/1.1\nHost: a\n\n")
    assert serialize_request(head) == b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"


def test_serialize_response() -> None:
    head, _ = resp(OK)
    assert serialize_response(head) is head.raw
    cookie = b"Set-Cookie: SRV=s1; path=/\r\n"
    assert serialize_response(head, add=cookie) == OK[:-2] + cookie + b"\r\n"
    out = serialize_response(
        head, drop=frozenset({b"content-length"}), start_line=b"HTTP/1.1 201 Made"
    )
    assert out == b"HTTP/1.1 201 Made\r\n\r\n"


def test_build_response() -> None:
    out = build_response(
        503, b"Service Unavailable", [(b"Content-Type", b"text/plain")], b"busy", close=True
    )
    assert out == (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 4\r\nConnection: close\r\n\r\nbusy"
    )
    head, used = resp(out)
    assert head.status == 503
    assert head.content_length == 4
    assert not head.keep_alive
    assert out[used:] == b"busy"


def test_build_response_keeps_given_length() -> None:
    out = build_response(200, b"OK", [(b"content-length", b"10")], b"", close=False)
    assert out == b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n"


def test_header_lowered_reads_the_lower_case_text() -> None:
    head, _ = req(head_with(b"Host: a", b"User-Agent:  Mozilla SQLMap \t", b"X-Latin: caf\xc9"))
    from weir.proto.h1 import needle

    assert head.header_lowered(needle(b"user-agent")) == "mozilla sqlmap"
    assert head.header_lowered(needle(b"x-latin")) == "caf\xc9"  # ASCII letters only
    assert head.header_lowered(needle(b"x-none")) is None
    assert head.header_text(needle(b"user-agent")) == "Mozilla SQLMap"
    assert head.lowered()[: len("get / http/1.1")] == "get / http/1.1"


def test_an_empty_line_after_a_bare_head_is_not_part_of_it() -> None:
    # A buffer that ends in CRLFCRLF is tried whole first; a head without header lines
    # followed by one more empty line ends before it, whole or cut.
    assert req(b"GET / HTTP/1.0\r\n\r\n\r\n")[1] == 18
    head, used = resp(b"HTTP/1.1 204 No Content\r\n\r\n\r\n")
    assert (head.status, used) == (204, 27)
    assert req(b"GET / HTTP/1.1\r\nA: b\r\n\r\n\r\n")[1] == 24


def test_a_memorised_head_keeps_its_path_forms() -> None:
    raw = head_with(b"Host: a", start=b"GET /Some/Path?q=1 HTTP/1.1")
    for _ in range(2):  # parsed, then from the memo
        head, _ = req(raw)
        assert (head.path, head.path_text, head.path_lowered) == (
            b"/Some/Path",
            "/Some/Path",
            "/some/path",
        )
