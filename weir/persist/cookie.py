"""Cookie persistence, `cookie NAME insert|rewrite|prefix [indirect] [nocache] …`.

Modes: `insert` (weir adds its own cookie, below); `rewrite` (the server sets NAME, weir
replaces its value with the server's cookie value); `prefix` (the server sets NAME, weir
prefixes its value with `SERVER~`, and removes the prefix from requests, so the
application sees its own value); and, with no mode, passive (the server sets NAME to its
own cookie value; weir only reads it).

On the way in, a request carrying `NAME=VALUE` where VALUE is a server's `cookie` goes to
that server while it is usable (else it is balanced, and gets a new cookie). With
`indirect`, the cookie is removed before the server sees it. On the way out, a response
gets `Set-Cookie: NAME=VALUE; path=/` when the client did not already present the right
value; with `nocache`, such a response is also marked `Cache-Control: private` so that no
shared cache stores one user's persistence cookie for everyone.

Pure code: bytes in, bytes out; the HTTP session calls it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from weir.backend.server import Server


@dataclass(frozen=True, slots=True)
class CookieRule:
    name: bytes
    mode: str  # insert | rewrite | prefix | passive
    indirect: bool
    nocache: bool
    set_cookie_line: bytes  # "Set-Cookie: NAME=" … the value goes after it
    attrs: bytes  # "; path=/; HttpOnly" …


def make_rule(
    name: str,
    *,
    mode: str = "insert",
    indirect: bool,
    nocache: bool,
    httponly: bool,
    secure: bool,
    domains: Sequence[str],
    attrs: Sequence[str],
) -> CookieRule:
    tail = "; path=/"
    for d in domains:
        tail += f"; domain={d}"
    if httponly:
        tail += "; HttpOnly"
    if secure:
        tail += "; Secure"
    for a in attrs:
        tail += f"; {a}"
    return CookieRule(
        name.encode(),
        mode,
        indirect,
        nocache,
        b"Set-Cookie: " + name.encode() + b"=",
        tail.encode(),
    )


@lru_cache(maxsize=64)
def _set_cookie_pattern(name: bytes) -> re.Pattern[bytes]:
    return re.compile(rb"(\r\nset-cookie:[ \t]*" + re.escape(name) + rb"=)([^;\r]*)", re.IGNORECASE)


class CookiePersist:
    """A backend's cookie persistence: the rule and its servers' cookie values."""

    __slots__ = ("by_server", "by_value", "rule")

    def __init__(self, rule: CookieRule, servers: Sequence[tuple[Server, str | None]]) -> None:
        self.rule = rule
        # Both directions built once: responses look a server's value up, requests a
        # value's server; neither walks the server list per request.
        self.by_server = {s: v for s, v in servers if v is not None}
        self.by_value = {v.encode(): s for s, v in self.by_server.items()}

    def find(self, cookie_headers: Sequence[bytes]) -> tuple[bytes | None, Server | None]:
        """The persistence cookie's value in the request's Cookie headers, and its server
        (None when the value names no server)."""
        name = self.rule.name
        prefix = self.rule.mode == "prefix"
        for header in cookie_headers:
            for part in header.split(b";"):
                k, eq, v = part.strip().partition(b"=")
                if eq and k == name:
                    if prefix:  # SERVER~application-value
                        v = v.partition(b"~")[0]
                    return v, self.by_value.get(v)
        return None, None

    def unprefix(self, cookie_headers: Sequence[bytes]) -> list[bytes]:
        """`prefix` mode: the Cookie header values with `SERVER~` taken off the
        persistence cookie, as the application set it."""
        name = self.rule.name
        out = []
        for header in cookie_headers:
            parts = []
            for part in header.split(b";"):
                k, eq, v = part.strip().partition(b"=")
                if eq and k == name and b"~" in v:
                    lead = b" " if part.startswith(b" ") else b""
                    part = lead + k + b"=" + v.partition(b"~")[2]  # noqa: PLW2901
                parts.append(part)
            out.append(b";".join(parts))
        return out

    def rewrite_response(self, raw: bytes, value: str) -> bytes | None:
        """`rewrite`/`prefix` mode: the response head with the Set-Cookie of NAME given
        the server's value (or prefixed with it); None when the server set no such
        cookie."""
        pattern = _set_cookie_pattern(self.rule.name)
        server = value.encode()
        prefix = self.rule.mode == "prefix"

        def sub(m: re.Match[bytes]) -> bytes:
            old = m.group(2)
            new = server + b"~" + old if prefix else server
            return m.group(1) + new

        new, n = pattern.subn(sub, raw)
        return new if n else None

    def learn(self, srv: Server, value: str) -> None:
        """`srv` joined the backend (runtime `add server`) with this cookie value."""
        self.by_server[srv] = value
        self.by_value[value.encode()] = srv

    def forget(self, srv: Server) -> None:
        """`srv` left the backend (runtime `del server`): its cookie no longer leads there."""
        value = self.by_server.pop(srv, None)
        if value is not None:
            self.by_value.pop(value.encode(), None)

    def value_of(self, srv: Server) -> str | None:
        """The cookie value of `srv`, or None when it has none."""
        return self.by_server.get(srv)

    def strip(self, cookie_headers: Sequence[bytes]) -> list[bytes]:
        """The Cookie header values without the persistence cookie (indirect mode); empty
        headers disappear."""
        name = self.rule.name
        out = []
        for header in cookie_headers:
            kept = [
                p
                for p in header.split(b";")
                if p.strip().partition(b"=")[0] != name or b"=" not in p
            ]
            value = b";".join(kept).strip()
            if value:
                out.append(value)
        return out

    def set_cookie(self, value: str, *, cacheable: bool) -> bytes:
        """The header lines to add to a response that must (re)set the cookie. With
        `nocache`, a response that caches could store is marked private as well."""
        r = self.rule
        line = r.set_cookie_line + value.encode() + r.attrs + b"\r\n"
        if r.nocache and cacheable:
            line += b"Cache-Control: private\r\n"
        return line
