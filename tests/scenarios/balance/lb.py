"""Helpers for the balance scenarios: configurations, a keep-alive client, held requests.

- `config(port, backend_lines, mode=...)`: a whole configuration with one frontend on
  127.0.0.1:`port` whose default backend `be` has the given lines.
- `Client(port)`: one keep-alive HTTP/1.1 connection (the standard library's client);
  `get(path, headers)` returns (status, name) where name is the answering backend's
  `X-Backend` header ("" when weir answered itself, e.g. a 503).
- `hold(port, path)`: a raw connection that sends one request and reads nothing: with a
  backend in mode "no-response" the request stays in flight (it counts in the server's
  `cur_sess`). A plain close would not end it (the proxy takes the FIN for a half-close
  and still waits for the response, as HAProxy does); `abort(sock)` resets the
  connection, which ends the request at once.
- `expected(algo_words, servers, key, hash_type)`: what weir's own balancer, built in this
  process with the same servers, picks for `key`: proves that a real process hashed the
  key the test meant.
"""

from __future__ import annotations

import http.client
import socket
import struct
from collections.abc import Iterable, Mapping
from dataclasses import replace

from weir.backend.server import Server
from weir.balance import make_balancer, parse_balance, parse_hash_type

DEFAULTS = """\
defaults
    mode {mode}
    timeout connect 2s
    timeout client 10s
    timeout server 10s
"""


def _lines(text: str) -> str:
    return "".join(f"    {line.strip()}\n" for line in text.strip().splitlines() if line.strip())


def config(
    port: int, backend_lines: str, *, mode: str = "http", defaults: str = "", frontend: str = ""
) -> str:
    """A configuration: defaults (plus `defaults` lines), frontend `fe` (plus `frontend`
    lines), backend `be` with `backend_lines`."""
    return (
        DEFAULTS.format(mode=mode)
        + _lines(defaults)
        + f"frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n"
        + _lines(frontend)
        + "backend be\n"
        + _lines(backend_lines)
    )


STATS = "stats enable\nstats uri /lbstats"
"""Frontend lines that serve weir's statistics on /lbstats (read them with `stats`)."""


def stats(port: int) -> dict[str, dict[str, str]]:
    """The CSV statistics rows of backend `be`, by server name ("BACKEND" for its own)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/lbstats;csv")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    lines = text.splitlines()
    fields = lines[0].removeprefix("# ").split(",")
    rows = [dict(zip(fields, line.split(","), strict=False)) for line in lines[1:] if line]
    return {r["svname"]: r for r in rows if r.get("pxname") == "be"}


class Client:
    """One keep-alive connection to 127.0.0.1:port (reopened if the proxy closes it)."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> tuple[int, str]:
        self.conn.request("GET", path, headers=dict(headers or {}))
        r = self.conn.getresponse()
        r.read()
        return r.status, r.getheader("X-Backend") or ""

    def names(self, paths: Iterable[str], headers: Mapping[str, str] | None = None) -> list[str]:
        """The backend name answering each path in turn; every answer must be a 200."""
        out = []
        for path in paths:
            status, name = self.get(path, headers)
            assert status == 200, (path, status)
            out.append(name)
        return out

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def get(port: int, path: str = "/", headers: Mapping[str, str] | None = None) -> tuple[int, str]:
    """One request on a connection of its own."""
    with Client(port) as c:
        return c.get(path, headers)


def hold(port: int, path: str, headers: Mapping[str, str] | None = None) -> socket.socket:
    """Send one request on a new connection and leave it waiting (see the module doc)."""
    lines = [f"GET {path} HTTP/1.1", "Host: test"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return s


def abort(s: socket.socket) -> None:
    """Close with a reset (SO_LINGER 0): the proxy drops the request in flight."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def expected(
    algo_words: str,
    servers: Iterable[tuple[str, int, int]],
    key: bytes | None,
    hash_type: str = "map-based",
) -> str:
    """The name weir's balancer picks for `key` over (name, weight, id) servers, with
    `balance ALGO_WORDS` and `hash-type HASH_TYPE` (its words, defaults included)."""
    made = [
        Server(n, "127.0.0.1", 1000 + i, puid=puid, weight=w)
        for i, (n, w, puid) in enumerate(servers)
    ]
    kind, function, avalanche = parse_hash_type(hash_type.split())
    p = replace(
        parse_balance(algo_words.split()),
        hash_type=kind,
        hash_function=function,
        avalanche=avalanche,
    )
    srv = make_balancer(made, p).pick(key)
    assert srv is not None
    return srv.name
