"""The stats page as a service of a proxy: which requests it takes and what it answers.

HAProxy 2.6's rules, which the HTTP session relies on through `matches` and `handle`:
- a GET, HEAD or POST whose path starts with the `stats uri` prefix is a stats request,
  whatever follows the prefix (so there is no 404 under the prefix); other methods go on
  to the backend. A prefix that does not start with '/' is compared with the whole
  request target instead of its path;
- `stats auth` users are checked first: without valid credentials the answer is a 401
  with `WWW-Authenticate: Basic realm="..."`;
- options ride after the prefix: `;csv` (CSV instead of HTML), `;up` (hide DOWN servers),
  `;no-maint` (hide servers in maintenance), `;norefresh` (no `Refresh` header when
  `stats refresh` is set), `;st=CODE` (show the result of an admin action) and
  `scope=NAME` (only proxies whose name contains NAME, from the page's Scope box);
- a POST would be an admin action; weir has no `stats admin`, so a POST is redirected
  (303) to the page with `;st=DENY`, as HAProxy does for a user who is not an admin.

`handle` is pure: it reads the runtime's counters and the clock, and returns the complete
HTTP/1.1 response as bytes. Nothing is computed per request unless the page is asked for.
"""

from __future__ import annotations

import os
import resource
import time
from typing import TYPE_CHECKING

from weir.stats.auth import BasicAuth
from weir.stats.csv import render_csv
from weir.stats.fields import Clock, Filter, collect
from weir.stats.html import PageInfo, PageView, render_html
from weir.version import __version__

if TYPE_CHECKING:
    from weir.config.model import Proxy, StatsConf
    from weir.proxy.runtime import Runtime

_METHODS = frozenset({b"GET", b"HEAD", b"POST"})
_STATUS_CODES = frozenset({"DENY", "DONE", "ERRP", "EXCD", "NONE", "PART", "UNKN", "IVAL"})
_SCOPE_MAX = 20
_SCOPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:_-")

# When this module was imported: during configuration loading, so the process's start as
# far as uptimes go.
STARTED = (time.time(), time.monotonic())


class Options:
    """What a stats request asked for, read from the text after the URI prefix."""

    __slots__ = ("csv", "hide_down", "hide_maint", "no_refresh", "scope", "status_code")

    def __init__(self, rest: str, *, refresh: bool) -> None:
        self.hide_down = ";up" in rest
        self.hide_maint = ";no-maint" in rest
        self.no_refresh = refresh and ";norefresh" in rest
        self.csv = ";csv" in rest
        self.status_code: str | None = None
        i = rest.find(";st=")
        if i >= 0 and len(rest) >= i + 8:
            code = rest[i + 4 : i + 8]
            self.status_code = code if code in _STATUS_CODES else "UNKN"
        self.scope = ""
        i = rest.find("scope=")
        if i >= 0:
            value = rest[i + 6 :]
            for stop in ";& ":
                value = value.partition(stop)[0]
            value = value[:_SCOPE_MAX]
            if value and _SCOPE_CHARS.issuperset(value):
                self.scope = value


class StatsService:
    """The statistics page of one proxy section (`stats enable`, `stats uri` …)."""

    __slots__ = (
        "auth",
        "hide_version",
        "prefix",
        "prefix_is_path",
        "refresh",
        "runtime",
        "started",
        "uri",
    )

    def __init__(
        self, conf: StatsConf, runtime: Runtime, *, started: tuple[float, float] = STARTED
    ) -> None:
        self.runtime = runtime
        self.uri = conf.uri
        self.prefix = conf.uri.encode("utf-8", "surrogateescape")
        self.prefix_is_path = self.prefix.startswith(b"/")
        self.refresh = conf.refresh
        self.hide_version = conf.hide_version
        self.auth = BasicAuth(conf.auths, conf.realm) if conf.auths else None
        self.started = started

    # -- the two calls of the HTTP session ----------------------------------------------

    def matches(self, method: bytes, target: bytes) -> bool:
        """True when this request is for the stats page (see the module docstring)."""
        return method in _METHODS and self._path(target).startswith(self.prefix)

    def handle(
        self, method: bytes, target: bytes, authorization: bytes | None, *, close: bool = False
    ) -> bytes:
        """The whole HTTP/1.1 response to a request `matches` accepted.

        `authorization` is the value of the request's Authorization header, if any.
        `close` adds `connection: close`, for a session that will close afterwards.
        The response is framed by content-length; a HEAD gets the headers alone.
        """
        path = self._path(target)
        if not path.startswith(self.prefix):
            return _response(b"404 Not Found", [], _ERROR_404, method, close)
        if self.auth is not None and not self.auth.allows(authorization):
            return _response(
                b"401 Unauthorized",
                [(b"www-authenticate", self.auth.challenge)],
                _ERROR_401,
                method,
                close,
            )
        opts = Options(path[len(self.prefix) :].decode("latin-1"), refresh=self.refresh > 0)
        if method not in (b"GET", b"HEAD"):
            return self._redirect("DENY" if method == b"POST" else "IVAL", opts, close)
        headers: list[tuple[bytes, bytes]] = []
        if self.refresh > 0 and not opts.no_refresh:
            headers.append((b"refresh", str(self.refresh).encode()))
        if opts.csv:
            body = self.csv(opts).encode("utf-8", "surrogateescape")
            ctype = b"text/plain"
        else:
            body = self.html(opts).encode("utf-8", "surrogateescape")
            ctype = b"text/html"
        return _response(b"200 OK", [(b"content-type", ctype), *headers], body, method, close)

    # -- the documents ------------------------------------------------------------------

    def clock(self) -> Clock:
        return Clock.now(*self.started)

    def csv(self, opts: Options | None = None) -> str:
        opts = opts or Options("", refresh=False)
        return render_csv(collect(self.runtime, self.clock(), _filter(opts)))

    def html(self, opts: Options | None = None) -> str:
        opts = opts or Options("", refresh=False)
        clock = self.clock()
        view = PageView(
            self.uri, self.refresh, opts.no_refresh, opts.hide_down, opts.scope, opts.status_code
        )
        return render_html(self._info(clock), view, collect(self.runtime, clock, _filter(opts)))

    # -- helpers --------------------------------------------------------------------------

    def _path(self, target: bytes) -> bytes:
        if not self.prefix_is_path or target.startswith(b"/"):
            return target
        # absolute-form (`GET http://host/path`): compare the path part only
        i = target.find(b"://")
        if i < 0:
            return target
        j = target.find(b"/", i + 3)
        return target[j:] if j >= 0 else b""

    def _info(self, clock: Clock) -> PageInfo:
        rt = self.runtime
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        mem = resource.getrlimit(resource.RLIMIT_AS)[0]
        rate = getattr(rt.limiter, "conn_rate", None)
        return PageInfo(
            product="weir" if self.hide_version else f"weir version {__version__}",
            pid=os.getpid(),
            uptime=clock.uptime,
            ulimit_n=nofile if nofile != resource.RLIM_INFINITY else 0,
            memmax_mb=None if mem == resource.RLIM_INFINITY else mem >> 20,
            maxsock=nofile if nofile != resource.RLIM_INFINITY else 0,
            maxconn=rt.limiter.limit,
            cur_conns=rt.limiter.cur,
            conn_rate=0 if rate is None else int(rate.read(clock.mono)),
            nbthread=rt.config.global_.nbthread,
        )

    def _redirect(self, code: str, opts: Options, close: bool) -> bytes:
        location = (
            f"{self.uri};st={code}{';up' if opts.hide_down else ''}"
            f"{';norefresh' if opts.no_refresh else ''}"
            f"{'?scope=' + opts.scope if opts.scope else ''}"
        )
        return _response(
            b"303 See Other",
            [
                (b"content-type", b"text/plain"),
                (b"location", location.encode("utf-8", "surrogateescape")),
            ],
            b"",
            b"GET",
            close,
        )


def _filter(opts: Options) -> Filter:
    return Filter(opts.hide_down, opts.hide_maint, opts.scope)


def _error_body(status: str, text: str) -> bytes:
    return f"<html><body><h1>{status}</h1>\n{text}\n</body></html>\n".encode()


_ERROR_401 = _error_body(
    "401 Unauthorized", "You need a valid user and password to access this content."
)
_ERROR_404 = _error_body("404 Not Found", "The requested resource could not be found.")


def _response(
    status: bytes, headers: list[tuple[bytes, bytes]], body: bytes, method: bytes, close: bool
) -> bytes:
    """Status line, headers, and the body unless the request was a HEAD."""
    lines = [b"HTTP/1.1 " + status, b"cache-control: no-cache"]
    if not any(name == b"content-type" for name, _ in headers):
        lines.append(b"content-type: text/html")
    lines.extend(name + b": " + value for name, value in headers)
    lines.append(b"content-length: " + str(len(body)).encode())
    if close:
        lines.append(b"connection: close")
    head = b"\r\n".join(lines) + b"\r\n\r\n"
    return head if method == b"HEAD" else head + body


def make_stats(px: Proxy, runtime: Runtime) -> StatsService | None:
    """The stats service of a proxy section, or None when it serves no stats page.

    `stats` needs mode http: HAProxy ignores it (with a warning) in a tcp proxy.
    The runtime may still be under construction: it is only read when a page is served.
    """
    if not px.stats.enabled or px.mode.value != "http":
        return None
    return StatsService(px.stats, runtime)
