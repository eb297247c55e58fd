"""Cookie persistence, `cookie NAME insert|rewrite|prefix [indirect] [nocache] …`.

Modes: `insert` (weir adds its own cookie, below); `rewrite` (the server sets NAME, weir
replaces its value with the server's cookie value); `prefix` (the server sets NAME, weir
prefixes its value with `SERVER~`, and removes the prefix from requests, so the
application sees its own value); and, with no mode, passive (the server sets NAME to its
own cookie value; weir only reads it).

On the way in, a request carrying `NAME=VALUE` where VALUE is a server's `cookie` goes to
that server while it is usable (else it is balanced, and gets a new cookie). Several
servers may share a value: the first one up takes it. With `indirect`, the cookie is
removed before the server sees it. On the way out, a response gets
`Set-Cookie: NAME=VALUE; path=/` when the client did not already present the right
value; with `nocache`, such a response is also marked `Cache-Control: private` so that no
shared cache stores one user's persistence cookie for everyone. A server without a cookie
value answers with a Set-Cookie that removes the client's. In insert mode the server's
own Set-Cookie of NAME is removed (`preserve` keeps it, and then nothing is inserted);
`postonly` inserts on responses to POST only.

Dates (`maxidle`, `maxlife`): the inserted value becomes `SRV|LAST|FIRST`, where LAST
(the last time the cookie was seen, in 4-second units, rounded up) and FIRST (when it was
first issued) are 30-bit numbers in five base64 characters, HAProxy's own format, so a
cookie issued by HAProxy is read by weir and the reverse. A cookie idle for longer than
`maxidle` seconds, or older than `maxlife`, (or dated more than a day ahead) is ignored as
if absent, and a fresh one is set; a cookie whose LAST date is past is set again with
today's date.

Dynamic values (`dynamic` with `dynamic-cookie-key`): a server without its own `cookie`
value gets one computed from the key, its address and its port (weir.persist.dyncookie).

What happened is reported in the log's termination state: the 3rd character for the
request's cookie (N none, I invalid, D its server down, V valid, E expired, O too old,
U unused), the 4th for the response's (N none, P the server's left as is, D deleted,
I inserted, R rewritten, U updated).

Pure code: bytes in, bytes out; the HTTP session calls `request` and `response`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from weir.backend.server import Server, SrvState
from weir.persist.dyncookie import dynamic_cookie

# A cookie's server keeps a request while it is up or draining (HAProxy: not stopped).
_PERSIST_STATES = (SrvState.UP, SrvState.DRAIN)
ONE_DAY = 86400
_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_REV = {c: i for i, c in enumerate(_B64)}
_REMOVE = b"=; Expires=Thu, 01-Jan-1970 00:00:01 GMT"


def s30tob64(value: int) -> bytes:
    """The low 30 bits of `value` as five base64 characters, most significant first."""
    return bytes(_B64[(value >> shift) & 0x3F] for shift in (24, 18, 12, 6, 0))


def b64tos30(text: bytes) -> int:
    """The 30-bit number of five base64 characters, or -1 when one is not base64."""
    out = 0
    for c in text[:5]:
        v = _B64_REV.get(c)
        if v is None:
            return -1
        out = (out << 6) + v
    return out if len(text) >= 5 else -1


def date_code(seconds: int) -> bytes:
    """A date as a cookie carries it: 4-second units, rounded up."""
    return s30tob64((seconds + 3) >> 2)


class Seen(NamedTuple):
    """What the request's persistence cookie said, kept for the response."""

    direct: bool  # the cookie chose the server
    last: int = 0  # its last-seen date (Unix seconds, 0: none)
    first: int = 0  # its first-issued date
    ignored: bool = False  # `ignore-persist` matched


NO_COOKIE = Seen(False)
DIRECT = Seen(True)


@dataclass(frozen=True, slots=True)
class CookieRule:
    name: bytes
    mode: str  # insert | rewrite | prefix | passive
    indirect: bool
    nocache: bool
    set_cookie_line: bytes  # "Set-Cookie: NAME=" … the value goes after it
    attrs: bytes  # "; path=/; HttpOnly" …
    tail: bytes = b""  # the attributes after the path: "; domain=…; HttpOnly" …
    maxidle: int = 0  # seconds
    maxlife: int = 0  # seconds
    postonly: bool = False
    preserve: bool = False

    @property
    def dated(self) -> bool:
        return bool(self.maxidle or self.maxlife)


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
    maxidle: int = 0,
    maxlife: int = 0,
    postonly: bool = False,
    preserve: bool = False,
) -> CookieRule:
    tail = ""
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
        ("; path=/" + tail).encode(),
        tail.encode(),
        maxidle,
        maxlife,
        postonly,
        preserve,
    )


@lru_cache(maxsize=64)
def _set_cookie_pattern(name: bytes) -> re.Pattern[bytes]:
    return re.compile(rb"(\r\nset-cookie:[ \t]*" + re.escape(name) + rb"=)([^;\r]*)", re.IGNORECASE)


@lru_cache(maxsize=64)
def _set_cookie_line(name: bytes) -> re.Pattern[bytes]:
    return re.compile(rb"\r\nset-cookie:[ \t]*" + re.escape(name) + rb"=[^\r]*", re.IGNORECASE)


Predicate = Callable[[Any], bool]


class CookiePersist:
    """A backend's cookie persistence: the rule and its servers' cookie values.

    `explicit` holds the values set on `server` lines; with dynamic cookies on and a key,
    the other servers get computed values (`refresh`)."""

    __slots__ = ("by_server", "by_value", "dynamic", "explicit", "key", "persist", "rule")

    def __init__(
        self,
        rule: CookieRule,
        servers: Sequence[tuple[Server, str | None]],
        *,
        dynamic: bool = False,
        key: str | None = None,
        persist: bool = False,
    ) -> None:
        self.rule = rule
        self.persist = persist  # `option persist`: a down server keeps its clients
        self.dynamic = dynamic
        self.key = key
        self.explicit = {s: v for s, v in servers if v is not None}
        # Both directions built once: responses look a server's value up, requests a
        # value's servers; neither walks the server list per request.
        self.by_server: dict[Server, str] = {}
        self.by_value: dict[bytes, tuple[Server, ...]] = {}
        self.refresh([s for s, _ in servers])

    # -- values ----------------------------------------------------------------------------

    def refresh(self, servers: Sequence[Server]) -> None:
        """Compute every server's value again (after the key, the dynamic switch or the
        servers changed); `servers` in the backend's order."""
        self.by_server = {}
        for srv in servers:
            value = self._value_for(srv)
            if value is not None:
                self.by_server[srv] = value
        self._index()

    def readdress(self, srv: Server) -> None:
        """`srv` moved to a new address: its dynamic value follows."""
        if srv in self.explicit or not self.dynamic:
            return
        value = self._value_for(srv)
        if value is None:
            self.by_server.pop(srv, None)
        else:
            self.by_server[srv] = value
        self._index()

    def _value_for(self, srv: Server) -> str | None:
        value = self.explicit.get(srv)
        if value is None and self.dynamic and self.key:
            value = dynamic_cookie(self.key, srv.host, srv.port)
        return value

    def _index(self) -> None:
        by_value: dict[bytes, list[Server]] = {}
        for s, v in self.by_server.items():
            by_value.setdefault(v.encode(), []).append(s)
        self.by_value = {v: tuple(ss) for v, ss in by_value.items()}

    def learn(self, srv: Server, value: str | None) -> None:
        """`srv` joined the backend (runtime `add server`), with its own cookie value or
        none (a dynamic one then, when enabled)."""
        if value is not None:
            self.explicit[srv] = value
        value = self._value_for(srv)
        if value is not None:
            self.by_server[srv] = value
            self._index()

    def forget(self, srv: Server) -> None:
        """`srv` left the backend (runtime `del server`): its cookie no longer leads there."""
        self.explicit.pop(srv, None)
        if self.by_server.pop(srv, None) is not None:
            self._index()

    def value_of(self, srv: Server) -> str | None:
        """The cookie value of `srv`, or None when it has none."""
        return self.by_server.get(srv)

    # -- requests --------------------------------------------------------------------------

    def find(self, cookie_headers: Sequence[bytes]) -> tuple[bytes | None, Server | None]:
        """The persistence cookie's server part in the request's Cookie headers, and the
        first of its servers (None when the value names no server)."""
        value, servers, _, _ = self._find(cookie_headers)
        return value, servers[0] if servers else None

    def _find(
        self, cookie_headers: Sequence[bytes]
    ) -> tuple[bytes | None, tuple[Server, ...], int, int]:
        """(server part, its servers, last-seen date, first date) of the first NAME
        cookie; dates are 0 when absent or not valid."""
        name = self.rule.name
        prefix = self.rule.mode == "prefix"
        for header in cookie_headers:
            for part in header.split(b";"):
                k, eq, v = part.strip().partition(b"=")
                if not eq or k != name:
                    continue
                last = first = 0
                if prefix:  # SERVER~application-value
                    v = v.partition(b"~")[0]
                elif b"|" in v:  # SERVER|LAST[|FIRST]
                    v, _, dates = v.partition(b"|")
                    code = b64tos30(dates) if len(dates) >= 5 else -1
                    last = code << 2 if code > 0 else 0
                    bar = dates.find(b"|")
                    if bar >= 0 and len(dates) - bar > 5:
                        code = b64tos30(dates[bar + 1 : bar + 6])
                        first = code << 2 if code > 0 else 0
                return v, self.by_value.get(v, ()), last, first
        return None, (), 0, 0

    def aged(self, last: int, first: int, now: int) -> str:
        """ "O" when a cookie first issued at `first` is older than `maxlife`, "E" when one
        last seen at `last` was idle for longer than `maxidle`, else ""."""
        r = self.rule
        if first and r.maxlife and (now - first > r.maxlife or first - now > ONE_DAY):
            return "O"
        if last and r.maxidle and (now - last > r.maxidle or last - now > ONE_DAY):
            return "E"
        return ""

    def request(
        self,
        cookie_headers: Sequence[bytes],
        stream: Any,
        ignore: Predicate | None,
        force: Predicate | None,
        *,
        assigned: bool = False,
    ) -> tuple[Server | None, Seen, str]:
        """The server the request's cookie chooses (None: balance it), what the response
        needs to know, and the cookie's log character (N I D V E O U). `assigned`: a
        server was chosen already (`use-server`), the cookie is then unused."""
        if not cookie_headers:
            return None, (DIRECT if assigned else NO_COOKIE), "N"
        value, servers, last, first = self._find(cookie_headers)
        if value is None:
            return None, (DIRECT if assigned else NO_COOKIE), "N"
        state = ""
        if last or first:
            state = self.aged(last, first, int(time.time()))
            if state:
                last = first = 0
                servers = ()
        if ignore is not None and ignore(stream):
            return None, Seen(assigned, last, first, True), state or "U"
        if assigned:
            return None, Seen(True, last, first), state or "U"
        chosen = None
        if not state:
            state = "I"  # an empty value is invalid too
            for srv in servers if value else ():
                if (
                    srv.state in _PERSIST_STATES
                    or self.persist
                    or (force is not None and force(stream))
                ):
                    chosen = srv
                    state = "V" if srv.state in _PERSIST_STATES else "D"
                    break
                state = "D"
        if last or first:
            return chosen, Seen(chosen is not None, last, first), state
        return chosen, (DIRECT if chosen is not None else NO_COOKIE), state

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

    # -- responses -------------------------------------------------------------------------

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

    def needs_cookie(self, seen: Seen, now: int) -> bool:
        """Whether an insert-mode response must set the cookie: the client's did not
        choose the server, or its dates must be refreshed, added or removed."""
        r = self.rule
        last, first = seen.last, seen.first
        return (
            not seen.direct
            or (bool(r.maxidle or last) and (not last or last < now))
            or bool(r.maxlife and not first)
            or bool(not r.maxlife and first)
        )

    def set_cookie(
        self, value: str | None, *, cacheable: bool, first: int = 0, now: int = 0
    ) -> bytes:
        """The header lines to add to a response that must (re)set the cookie (remove it
        when `value` is None). With `nocache`, a response that caches could store is
        marked private as well. With dates configured, `now` is today's date and `first`
        the cookie's first date (0: today)."""
        r = self.rule
        if value is None:
            line = b"Set-Cookie: " + r.name + _REMOVE + r.attrs + b"\r\n"
        else:
            v = value.encode()
            if r.maxidle or r.maxlife:
                today = date_code(now)
                v += b"|" + today
                if r.maxlife:
                    v += b"|" + (s30tob64(first >> 2) if first else today)
            line = r.set_cookie_line + v + r.attrs + b"\r\n"
        if r.nocache and cacheable:
            line += b"Cache-Control: private\r\n"
        return line

    def response(
        self,
        raw: bytes,
        srv: Server | None,
        seen: Seen,
        post: bool,
        cacheable: Callable[[], bool],
    ) -> tuple[bytes, str]:
        """The response head as it goes to the client, and the log character of what was
        done to the cookie (N P D I R U). `post`: the request was a POST."""
        r = self.rule
        state = "N"
        if not seen.ignored and r.name + b"=" in raw and _set_cookie_line(r.name).search(raw):
            state = "P"  # the server set NAME itself
            if r.preserve:
                pass
            elif (srv is not None and r.mode == "insert") or (seen.direct and r.indirect):
                raw = _set_cookie_line(r.name).sub(b"", raw)
                state = "D"
            elif srv is not None and r.mode != "passive":
                value = self.by_server.get(srv)
                new = self.rewrite_response(raw, value) if value is not None else None
                if new is not None:
                    raw, state = new, "R"
        if (
            r.mode == "insert"
            and srv is not None
            and not seen.ignored
            and not (state == "P" and r.preserve)
            and (post or not r.postonly)
        ):
            now = int(time.time()) if r.dated or seen.first or seen.last else 0
            if self.needs_cookie(seen, now):
                value = self.by_server.get(srv)
                add = self.set_cookie(value, cacheable=cacheable(), first=seen.first, now=now)
                raw = raw[:-2] + add + b"\r\n"
                state = "U" if value is not None and seen.direct else "I"
        return raw, state
