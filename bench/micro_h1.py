"""Micro-benchmark of weir's HTTP/1 head parser and serialiser (figures, no asserts).

Run: python bench/micro_h1.py [--number N] [--repeat R]

Prints the best-of-R time per call in ns for typical browser-like requests (~400 bytes,
9-10 headers), a small POST, small responses, and the serialisers. Heads are parsed
repeatedly, so their lines come from the parser's memo of validated lines, as they do for
a client's later requests on a connection; the "line memo cleared" figure is the cost of
a head whose lines are all new. When httptools is
installed, its figure for the same request is printed beside it (a parser object reused,
one Python callback per header, as an httptools-based proxy would run it); weir does not
depend on it. Pin the process for steadier figures: taskset -c 0 python bench/micro_h1.py
"""

from __future__ import annotations

import argparse
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from weir.proto import h1
from weir.proto.h1 import (
    body_framer,
    parse_request_head,
    parse_response_head,
    serialize_request,
    serialize_response,
)

BROWSER_GET = (
    b"GET /static/js/app.3f9a2c.js?v=12 HTTP/1.1\r\n"
    b"Host: www.example.com\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    b"Accept: */*\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\n"
    b"Referer: https://www.example.com/index.html\r\n"
    b"Connection: keep-alive\r\n"
    b"Cookie: session=abcdef0123456789; theme=dark\r\n"
    b"Sec-Fetch-Dest: script\r\n"
    b"\r\n"
)
SMALL_GET = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: h2load\r\nAccept: */*\r\n\r\n"
POST = (
    b"POST /api/items HTTP/1.1\r\n"
    b"Host: api.example.com\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: 27\r\n"
    b"Accept: application/json\r\n"
    b"\r\n"
    b'{"name": "widget", "n": 12}'
)
RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"Server: nginx/1.22.1\r\n"
    b"Date: Mon, 20 Nov 2023 10:00:00 GMT\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: 13\r\n"
    b"Connection: keep-alive\r\n"
    b"\r\n"
    b"Hello, world!"
)
RESPONSE_CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
)
CHUNKED_BODY = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in [b"x" * 1000] * 16) + b"0\r\n\r\n"


def bench(name: str, fn: Callable[[], object], number: int, repeat: int) -> float:
    best = min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e9
    print(f"  {name:58s} {best:8.0f} ns")
    return best


def httptools_request(raw: bytes) -> Callable[[], object] | None:
    try:
        import httptools  # type: ignore[import-not-found]
    except ImportError:
        return None

    class Sink:
        __slots__ = ("done", "headers", "url")

        def __init__(self) -> None:
            self.headers: list[tuple[bytes, bytes]] = []
            self.done = False
            self.url = b""

        def on_url(self, url: bytes) -> None:
            self.url = url

        def on_header(self, name: bytes, value: bytes) -> None:
            self.headers.append((name, value))

        def on_headers_complete(self) -> None:
            self.done = True

    sink = Sink()
    parser = httptools.HttpRequestParser(sink)

    def run() -> object:
        sink.headers = []
        parser.feed_data(raw)
        return parser.should_keep_alive()

    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--number", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args()
    n, r = a.number, a.repeat

    print(f"request heads ({len(BROWSER_GET)} B browser GET, {len(SMALL_GET)} B small GET)")
    bench("parse_request_head(browser GET)", lambda: parse_request_head(BROWSER_GET), n, r)
    ba = bytearray(BROWSER_GET)
    bench("parse_request_head(browser GET as bytearray)", lambda: parse_request_head(ba), n, r)

    def cold() -> object:
        h1._MEMO.clear()  # every line validated again: the first request of a client
        return parse_request_head(BROWSER_GET)

    bench("parse_request_head(browser GET, line memo cleared)", cold, n, r)
    bench("parse_request_head(small GET)", lambda: parse_request_head(SMALL_GET), n, r)
    bench("parse_request_head(POST + body in buffer)", lambda: parse_request_head(POST), n, r)
    two = BROWSER_GET + SMALL_GET
    bench("parse_request_head(2 pipelined, first)", lambda: parse_request_head(two), n, r)
    ht = httptools_request(BROWSER_GET)
    if ht is not None:
        bench("httptools: feed_data(browser GET), callbacks", ht, n, r)
    else:
        print("  (httptools not installed: no comparison)")

    head, _ = parse_request_head(BROWSER_GET)  # type: ignore[misc]
    print("request head use")

    def headers_first_use() -> object:
        head._headers = None
        return head.headers

    bench("head.headers (first use: split into the list)", headers_first_use, n, r)
    bench("head.header(b'user-agent')", lambda: head.header(b"user-agent"), n, r)
    bench("head.path", lambda: head.path, n, r)

    print("serialise")
    xff = b"X-Forwarded-For: 192.168.10.20\r\n"
    bench("serialize_request(head) unmodified", lambda: serialize_request(head), n, r)
    bench("serialize_request(head, add=XFF)", lambda: serialize_request(head, add=xff), n, r)
    drop = frozenset((b"connection",))
    bench(
        "serialize_request(head, add=XFF, drop={connection})",
        lambda: serialize_request(head, add=xff, drop=drop),
        n,
        r,
    )

    print(f"responses ({len(RESPONSE)} B with body)")
    bench("parse_response_head(small response)", lambda: parse_response_head(RESPONSE), n, r)
    resp, _ = parse_response_head(RESPONSE)  # type: ignore[misc]
    bench("resp.has_body(b'GET')", lambda: resp.has_body(b"GET"), n, r)
    cookie = b"Set-Cookie: SRV=s1; path=/\r\n"
    bench(
        "serialize_response(resp, add=Set-Cookie)",
        lambda: serialize_response(resp, add=cookie),
        n,
        r,
    )
    bench("parse_response_head(chunked head)", lambda: parse_response_head(RESPONSE_CHUNKED), n, r)

    print(f"bodies ({len(CHUNKED_BODY)} B chunked body, 16 chunks, one feed)")

    def chunked() -> object:
        return body_framer(None, True, False).feed(CHUNKED_BODY)

    bench("ChunkedBody.feed(whole body)", chunked, n // 10, r)
    bench(
        "ContentLengthBody.feed", lambda: body_framer(13, False, False).feed(b"Hello, world!"), n, r
    )


if __name__ == "__main__":
    main()
