"""Property tests for weir.proto.h1: splits, line ends, garbage, mutations, chunked bodies."""

from __future__ import annotations

import itertools
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.attrs import attributes
from weir.proto.h1 import (
    H1Error,
    RequestHead,
    ResponseHead,
    parse_request_head,
    parse_response_head,
)
from weir.proto.h1_body import ChunkedBody

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TCHARS = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
SPECIAL = {b"content-length", b"transfer-encoding", b"connection", b"host", b"upgrade", b"expect"}

tokens = st.binary(min_size=1, max_size=12).map(lambda b: bytes(TCHARS[x % len(TCHARS)] for x in b))
names = tokens.filter(lambda n: n.lower() not in SPECIAL)
# Values: any byte but CR, LF, NUL; no OWS at either end (the parser strips it).
values = (
    st.binary(max_size=40)
    .map(lambda b: bytes(x for x in b if x not in (0, 10, 13)))
    .map(lambda b: b.strip(b" \t"))
)
ows = st.sampled_from([b"", b" ", b"  ", b"\t", b" \t"])
targets = st.binary(max_size=30).map(lambda b: b"/" + bytes(0x21 + x % 94 for x in b))
methods = st.sampled_from([b"GET", b"POST", b"PUT", b"OPTIONS", b"PATCH", b"X-CUSTOM"])
versions = st.sampled_from([b"HTTP/1.0", b"HTTP/1.1"])


@st.composite
def requests(draw: st.DrawFn) -> tuple[bytes, list[tuple[bytes, bytes]], bytes]:
    """(head, headers as the parser must report them, body)."""
    method = draw(methods)
    target = draw(targets)
    version = draw(versions)
    fields = draw(st.lists(st.tuples(names, ows, values, ows), max_size=12))
    lines = [method + b" " + target + b" " + version]
    expected = []
    for name, lead, value, trail in fields:
        lines.append(name + b":" + lead + value + trail)
        expected.append((name, value))
    body = b""
    if method in (b"POST", b"PUT") and draw(st.booleans()):
        body = draw(st.binary(max_size=30))
        lines.append(b"Content-Length: %d" % len(body))
        expected.append((b"Content-Length", b"%d" % len(body)))
    if draw(st.booleans()):
        host = draw(tokens)
        lines.insert(draw(st.integers(1, len(lines))), b"Host: " + host)
        expected.insert(lines.index(b"Host: " + host) - 1, (b"Host", host))
    head = b"\r\n".join(lines) + b"\r\n\r\n"
    return head, expected, body


def same_request(a: RequestHead, b: RequestHead) -> None:
    for attr in attributes(RequestHead):
        if attr != "_headers":
            assert getattr(a, attr) == getattr(b, attr), attr
    assert a.headers == b.headers


@FUZZ
@given(requests())
def test_valid_request_parses_as_generated(
    case: tuple[bytes, list[tuple[bytes, bytes]], bytes],
) -> None:
    head_bytes, expected, body = case
    found = parse_request_head(head_bytes + body)
    assert found is not None
    head, used = found
    assert used == len(head_bytes)
    assert head.raw == head_bytes
    assert head.headers == expected
    assert head.content_length == (len(body) if body else head.content_length)


@FUZZ
@given(requests(), st.lists(st.integers(0, 10_000), max_size=6), st.binary(max_size=20))
def test_random_splits_parse_identically(
    case: tuple[bytes, list[tuple[bytes, bytes]], bytes], cuts: list[int], tail: bytes
) -> None:
    head_bytes, _, _ = case
    data = head_bytes + tail
    whole = parse_request_head(data)
    assert whole is not None
    points = sorted({c % (len(data) + 1) for c in cuts} | {len(data)})
    buf = bytearray()
    prev = 0
    result = None
    for point in points:
        buf += data[prev:point]
        prev = point
        result = parse_request_head(buf)
        if len(buf) < len(head_bytes):
            assert result is None
        else:
            assert result is not None
            break
    assert result is not None
    assert result[1] == whole[1]
    same_request(result[0], whole[0])


@FUZZ
@given(requests(), st.lists(st.booleans(), min_size=20, max_size=20))
def test_bare_lf_line_ends_parse_like_crlf(
    case: tuple[bytes, list[tuple[bytes, bytes]], bytes], bare: list[bool]
) -> None:
    head_bytes, _, _ = case
    lines = head_bytes.split(b"\r\n")
    mixed = lines[0]
    for i, line in enumerate(lines[1:]):
        mixed += (b"\n" if bare[i % len(bare)] else b"\r\n") + line
    canonical = parse_request_head(head_bytes)
    found = parse_request_head(mixed)
    assert canonical is not None
    assert found is not None
    assert found[1] == len(mixed)
    same_request(found[0], canonical[0])


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    status = draw(st.integers(100, 599))
    reason = draw(st.sampled_from([b"", b" ", b" OK", b" Not Found", b" a\tb"]))
    fields = draw(st.lists(st.tuples(names, ows, values, ows), max_size=12))
    lines = [b"HTTP/1.1 %d%s" % (status, reason)]
    expected = []
    for name, lead, value, trail in fields:
        lines.append(name + b":" + lead + value + trail)
        expected.append((name, value))
    if draw(st.booleans()):
        lines.append(b"Content-Length: 0")
        expected.append((b"Content-Length", b"0"))
    return b"\r\n".join(lines) + b"\r\n\r\n", expected


@FUZZ
@given(responses(), st.lists(st.integers(0, 10_000), max_size=6))
def test_response_random_splits(
    case: tuple[bytes, list[tuple[bytes, bytes]]], cuts: list[int]
) -> None:
    head_bytes, expected = case
    whole = parse_response_head(head_bytes)
    assert whole is not None
    assert whole[0].headers == expected
    for cut in cuts:
        point = cut % len(head_bytes)
        assert parse_response_head(head_bytes[:point]) is None
    found = parse_response_head(bytearray(head_bytes))
    assert found is not None
    for attr in attributes(ResponseHead):
        if attr != "_headers":
            assert getattr(found[0], attr) == getattr(whole[0], attr), attr


# -- garbage and mutations: H1Error or a consistent head, nothing else -----------------------

LINE_OK = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n\x00]*")


def outcome(parse: object, *args: object, **kw: object) -> tuple[object, H1Error | None]:
    """What a parse call returned, or the H1Error it raised (anything else propagates)."""
    try:
        return parse(*args, **kw), None  # type: ignore[operator]
    except H1Error as e:
        return None, e


def check_safe_request(data: bytes, **kw: int) -> None:
    result, err = outcome(parse_request_head, data, **kw)
    if err is not None:
        assert err.status in {400, 413, 422, 505}
        return
    found = result
    if found is None:
        return
    head, used = found
    assert 0 < used <= len(data)
    check_canonical(head.raw)
    again = parse_request_head(head.raw)
    assert again is not None
    assert again[1] == len(head.raw)
    same_request(again[0], head)


def check_canonical(raw: bytes) -> None:
    """What weir forwards: CRLF lines, valid fields, one final empty line."""
    assert raw.endswith(b"\r\n\r\n")
    lines = raw[:-4].split(b"\r\n")
    for line in lines[1:]:
        assert LINE_OK.fullmatch(line), line


def check_safe_response(data: bytes) -> None:
    found, err = outcome(parse_response_head, data)
    if err is not None:
        assert err.status == 502
        return
    if found is None:
        return
    head, used = found
    assert 0 < used <= len(data)
    check_canonical(head.raw)
    again = parse_response_head(head.raw)
    assert again is not None
    assert again[0].status == head.status
    assert again[0].content_length == head.content_length
    assert again[0].chunked == head.chunked


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_request(data: bytes) -> None:
    check_safe_request(data)
    check_safe_request(data, max_size=64)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_response(data: bytes) -> None:
    check_safe_response(data)


INTERESTING = b"\r\n\x00 \t:,;\x7f\xff0aA/?*"


@FUZZ
@given(
    requests(),
    st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from(list(INTERESTING)), st.integers(0, 2)),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_requests(
    case: tuple[bytes, list[tuple[bytes, bytes]], bytes], edits: list[tuple[int, int, int]]
) -> None:
    data = bytearray(case[0] + case[2])
    for pos, byte, op in edits:
        i = pos % (len(data) + 1)
        if op == 0:
            data[i:i] = bytes([byte])  # insert
        elif op == 1 and i < len(data):
            data[i] = byte  # replace
        elif i < len(data):
            del data[i]
    check_safe_request(bytes(data))


@FUZZ
@given(
    responses(),
    st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from(list(INTERESTING)), st.booleans()),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_responses(
    case: tuple[bytes, list[tuple[bytes, bytes]]], edits: list[tuple[int, int, bool]]
) -> None:
    data = bytearray(case[0])
    for pos, byte, insert in edits:
        i = pos % (len(data) + 1)
        if insert:
            data[i:i] = bytes([byte])
        elif i < len(data):
            data[i] = byte
    check_safe_response(bytes(data))


# -- chunked bodies ------------------------------------------------------------------------


@st.composite
def chunked_bodies(draw: st.DrawFn) -> bytes:
    parts = []
    for data in draw(st.lists(st.binary(min_size=1, max_size=300), max_size=6)):
        size = b"%x" % len(data)
        if draw(st.booleans()):
            size = size.upper()
        ext = draw(st.sampled_from([b"", b";a=b", b"; x", b';q="v w"', b" \t"]))
        parts.append(size + ext + b"\r\n" + data + b"\r\n")
    parts.append(b"0\r\n")
    for name, value in draw(st.lists(st.tuples(names, values), max_size=3)):
        parts.append(name + b": " + value + b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


@FUZZ
@given(chunked_bodies(), st.lists(st.integers(0, 100_000), max_size=8), st.binary(max_size=10))
def test_chunked_any_split(body: bytes, cuts: list[int], tail: bytes) -> None:
    data = body + tail
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    framer = ChunkedBody()
    used = 0
    for a, b in itertools.pairwise(points):
        piece = memoryview(data)[a:b]
        n = framer.feed(piece)
        assert 0 <= n <= len(piece)
        used += n
        if framer.done:
            break
    assert framer.done
    assert used == len(body)


def feed_steps(framer: ChunkedBody, data: bytes, step: int) -> int:
    used = 0
    for i in range(0, len(data), step):
        piece = data[i : i + step]
        n = framer.feed(piece)
        assert 0 <= n <= len(piece)
        used += n
        if framer.done:
            break
    return used


@FUZZ
@given(st.binary(max_size=200), st.integers(1, 50))
def test_chunked_garbage_only_raises_h1error(data: bytes, step: int) -> None:
    used, err = outcome(feed_steps, ChunkedBody(), data, step)
    if err is not None:
        assert err.status == 400
    else:
        assert isinstance(used, int)
        assert used <= len(data)
