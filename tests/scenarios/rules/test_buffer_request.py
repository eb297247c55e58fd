"""`option http-buffer-request`: the http-request rules wait for the request body and
read it (`req.body`, `req.body_len`, `req.body_size`, `req.body_param`), whether it
comes with a Content-Length or chunked, in one piece or in several; a body longer than
tune.bufsize is read up to that size; the server always gets the whole body, unchanged.
The same rules through HAProxy 2.6 decide the same way."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from tests.compat.helpers import curl
from tests.helpers.ports import free_port

CFG = """\
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
    timeout http-request 5s
frontend fe
    bind 127.0.0.1:{port}
    option http-buffer-request
    http-request deny deny_status 403 if {{ req.body_param(action) -m str delete }}
    http-request set-header X-Body-Len %[req.body_len]
    http-request set-header X-Body-Size %[req.body_size]
    http-request set-header X-User %[req.body_param(user)]
    http-request set-header X-Head %[req.body,bytes(0,5)]
    default_backend be
backend be
    server s1 {backend}
"""


def _post(port: int, body: bytes, *extra: str) -> Any:
    return curl(
        f"http://127.0.0.1:{port}/form", "-X", "POST", "--data-binary", body.decode(), *extra
    )


@pytest.mark.parametrize("program", ["weir", "haproxy"])
def test_rules_read_the_body(program: str, weir: Any, haproxy: Any, http_backend: Any) -> None:
    be = http_backend("a")
    port = free_port()
    start = weir if program == "weir" else haproxy
    start(CFG.format(port=port, backend=be.address), wait_ports=[port])
    assert _post(port, b"action=delete&x=1").status == 403
    assert _post(port, b"user=alice&action=view").status == 200
    (req,) = be.requests
    assert req.body == b"user=alice&action=view"
    assert req.header("X-Body-Len") == "22"
    assert req.header("X-Body-Size") == "22"
    assert req.header("X-User") == "alice"
    assert req.header("X-Head") == "user="
    # Chunked: the rules see the payload without the chunk framing; the server gets the
    # chunks as sent.
    assert _post(port, b"action=delete", "-H", "Transfer-Encoding: chunked").status == 403
    assert _post(port, b"action=keep", "-H", "Transfer-Encoding: chunked").status == 200
    assert be.requests[-1].body == b"action=keep"
    assert be.requests[-1].header("X-Body-Len") == "11"


def test_a_body_in_pieces_is_waited_for(weir: Any, http_backend: Any) -> None:
    be = http_backend("a")
    port = free_port()
    weir(CFG.format(port=port, backend=be.address), wait_ports=[port])
    body = b"x=1&action=delete"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(
            b"POST /form HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:6]
        )
        time.sleep(0.3)  # the rest comes later: the rules must not run on half of it
        s.sendall(body[6:])
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 403")
    assert be.requests == []


def test_a_long_body_is_read_up_to_the_buffer_size(weir: Any, http_backend: Any) -> None:
    be = http_backend("a")
    port = free_port()
    weir(CFG.format(port=port, backend=be.address), wait_ports=[port])
    body = b"action=view&" + b"z" * 40_000
    assert _post(port, body).status == 200
    (req,) = be.requests
    assert req.body == body
    assert req.header("X-Body-Len") == "16384"  # tune.bufsize
    assert req.header("X-Body-Size") == str(len(body))
