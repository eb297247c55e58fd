"""The stats page as a service of a proxy: which requests it takes and what it answers.

HAProxy 2.6's rules, which the HTTP session relies on through `matches` and `handle`:
- a GET, HEAD or POST whose path starts with the `stats uri` prefix is a stats request,
  whatever follows the prefix (so there is no 404 under the prefix); other methods go on
  to the backend. A prefix that does not start with '/' is compared with the whole
  request target instead of its path;
- `stats auth` users are checked first: without valid credentials the answer is a 401
  with `WWW-Authenticate: Basic realm="..."`;
- options ride after the prefix: `;csv` (CSV instead of HTML), `;json` and `;typed` (the
  runtime API's `show stat json|typed`), `;up` (hide DOWN servers),
  `;no-maint` (hide servers in maintenance), `;norefresh` (no `Refresh` header when
  `stats refresh` is set), `;st=CODE` (show the result of an admin action) and
  `scope=NAME` (only proxies whose name contains NAME, from the page's Scope box);
- `stats admin if|unless <cond>` grants the admin mode to the requests that match (after
  authentication): the page then has checkboxes and an action menu, and a POST of that
  form changes servers (`weir.stats.admin`) and is redirected (303) to the page with
  `;st=<result>`; a POST without the admin mode gets `;st=DENY`, any other method `IVAL`;
- `stats show-legends`, `stats show-node`, `stats show-desc` and `stats scope` shape the
  page as in HAProxy;
- `http-request use-service prometheus-exporter [if|unless <cond>]` rules of the section
  ride on the same object (`prometheus`); `matches(..., stream)` and `handle(...,
  stream=)` serve them before the page, as HAProxy's http-request rules come first.

`handle` reads the runtime's counters and the clock (and, for an admin POST, changes
servers through the runtime API's Control), and returns the complete HTTP/1.1 response
as bytes. Nothing is computed per request unless the page is asked for.
"""

from __future__ import annotations

import os
import resource
import socket
import time
from typing import TYPE_CHECKING

from weir.stats.auth import BasicAuth
from weir.stats.conf import settings
from weir.stats.csv import render_csv
from weir.stats.fields import Clock, Filter, ProxyStats, collect
from weir.stats.html import PageInfo, PageView, render_html
from weir.version import __version__

if TYPE_CHECKING:
    from weir.config.model import Proxy, StatsConf
    from weir.proxy.runtime import Runtime
    from weir.sample.acl import Predicate
    from weir.stats.conf import StatsSettings
    from weir.stats.prometheus import PrometheusService
    from weir.stream import Stream

_METHODS = frozenset({b"GET", b"HEAD", b"POST"})
_STATUS_CODES = frozenset({"DENY", "DONE", "ERRP", "EXCD", "NONE", "PART", "UNKN", "IVAL"})
_SCOPE_MAX = 20
_SCOPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:_-")

# When this module was imported: during configuration loading, so the process's start as
# far as uptimes go.
STARTED = (time.time(), time.monotonic())


class Options:
    """What a stats request asked for, read from the text after the URI prefix."""

    __slots__ = ("fmt", "hide_down", "hide_maint", "no_refresh", "scope", "status_code")

    def __init__(self, rest: str, *, refresh: bool) -> None:
        self.hide_down = ";up" in rest
        self.hide_maint = ";no-maint" in rest
        self.no_refresh = refresh and ";norefresh" in rest
        # Later options win, in HAProxy's order: csv, then typed, then json.
        self.fmt = "html"
        if ";csv" in rest:
            self.fmt = "csv"
        if ";typed" in rest:
            self.fmt = "typed"
        if ";json" in rest:
            self.fmt = "json"
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

    @property
    def csv(self) -> bool:
        return self.fmt == "csv"


class StatsService:
    """The statistics page of one proxy section (`stats enable`, `stats uri` …), and its
    Prometheus exporter when it has one."""

    __slots__ = (
        "admin",
        "auth",
        "desc",
        "hide_version",
        "legends",
        "node",
        "page",
        "prefix",
        "prefix_is_path",
        "prometheus",
        "proxy_name",
        "refresh",
        "runtime",
        "scopes",
        "started",
        "uri",
    )

    def __init__(
        self,
        conf: StatsConf,
        runtime: Runtime,
        *,
        started: tuple[float, float] = STARTED,
        admin: list[Predicate] | None = None,
        prometheus: PrometheusService | None = None,
        proxy_name: str = "",
    ) -> None:
        self.runtime = runtime
        self.page = conf.enabled
        self.uri = conf.uri
        self.prefix = conf.uri.encode("utf-8", "surrogateescape")
        self.prefix_is_path = self.prefix.startswith(b"/")
        self.refresh = conf.refresh
        self.hide_version = conf.hide_version
        self.auth = BasicAuth(conf.auths, conf.realm) if conf.auths else None
        self.started = started
        self.admin = admin or []
        self.prometheus = prometheus
        self.proxy_name = proxy_name
        extra = settings_of(conf)
        self.legends = extra.show_legends
        g = runtime.config.global_
        self.node: str | None = None
        if extra.show_node is not None:
            self.node = extra.show_node or g.node or socket.gethostname()
        self.desc: str | None = None
        if extra.show_desc is not None:
            self.desc = extra.show_desc or g.description or ""
        self.scopes = frozenset(proxy_name if s == "." else s for s in extra.scopes)

    # -- the two calls of the HTTP session ----------------------------------------------

    def matches(self, method: bytes, target: bytes, stream: Stream | None = None) -> bool:
        """True when this request is for this service: a `use-service
        prometheus-exporter` rule takes it (only checked when `stream` is given), or it is
        for the stats page (see the module docstring)."""
        prom = self.prometheus
        if prom is not None and stream is not None and prom.matches(stream):
            return True
        return self.page and method in _METHODS and self._path(target).startswith(self.prefix)

    def handle(
        self,
        method: bytes,
        target: bytes,
        authorization: bytes | None,
        *,
        close: bool = False,
        stream: Stream | None = None,
        body: bytes | None = None,
    ) -> bytes:
        """The whole HTTP/1.1 response to a request `matches` accepted.

        `authorization` is the value of the request's Authorization header, if any.
        `close` adds `connection: close`, for a session that will close afterwards.
        `stream` is the request's Stream: Prometheus rules and `stats admin` conditions
        are evaluated on it. `body` is the request body of a POST (the admin form), None
        when the session did not read it. The response is framed by content-length; a
        HEAD gets the headers alone.
        """
        prom = self.prometheus
        if prom is not None and stream is not None and prom.matches(stream):
            return prom.respond(method, target, close=close)
        path = self._path(target)
        if not self.page or not path.startswith(self.prefix):
            return http_response(b"404 Not Found", [], _ERROR_404, method, close)
        if self.auth is not None and not self.auth.allows(authorization):
            return http_response(
                b"401 Unauthorized",
                [(b"www-authenticate", self.auth.challenge)],
                _ERROR_401,
                method,
                close,
            )
        opts = Options(path[len(self.prefix) :].decode("latin-1"), refresh=self.refresh > 0)
        admin = self._is_admin(stream, method, target)
        if method == b"POST":
            if not admin:
                return self._redirect("DENY", opts, close)
            from weir.api.actions import control_for
            from weir.stats.admin import apply_form

            return self._redirect(apply_form(control_for(self.runtime), body), opts, close)
        if method not in (b"GET", b"HEAD"):
            return self._redirect("IVAL", opts, close)
        headers: list[tuple[bytes, bytes]] = []
        if self.refresh > 0 and not opts.no_refresh and opts.fmt == "html":
            headers.append((b"refresh", str(self.refresh).encode()))
        if opts.fmt == "html":
            body_text, ctype = self.html(opts, admin=admin), b"text/html"
        elif opts.fmt == "json":
            body_text, ctype = self.json(opts), b"application/json"
        elif opts.fmt == "typed":
            body_text, ctype = self.typed(opts), b"text/plain"
        else:
            body_text, ctype = self.csv(opts), b"text/plain"
        page = body_text.encode("utf-8", "surrogateescape")
        return http_response(b"200 OK", [(b"content-type", ctype), *headers], page, method, close)

    # -- the documents ------------------------------------------------------------------

    def clock(self) -> Clock:
        return Clock.now(*self.started)

    def rows(self, opts: Options, clock: Clock) -> list[ProxyStats]:
        from weir.api.actions import control_for

        proxies = collect(
            self.runtime,
            clock,
            _filter(opts),
            legends=self.legends,
            paused=control_for(self.runtime).paused,
        )
        if self.scopes:
            proxies = [ps for ps in proxies if ps.name in self.scopes]
        return proxies

    def csv(self, opts: Options | None = None) -> str:
        opts = opts or Options("", refresh=False)
        return render_csv(self.rows(opts, self.clock()))

    def json(self, opts: Options | None = None) -> str:
        from weir.stats.typed import render_json

        opts = opts or Options("", refresh=False)
        return render_json(self.rows(opts, self.clock()))

    def typed(self, opts: Options | None = None) -> str:
        from weir.stats.typed import render_typed

        opts = opts or Options("", refresh=False)
        return render_typed(self.rows(opts, self.clock()))

    def html(self, opts: Options | None = None, *, admin: bool = False) -> str:
        opts = opts or Options("", refresh=False)
        clock = self.clock()
        view = PageView(
            self.uri,
            self.refresh,
            opts.no_refresh,
            opts.hide_down,
            opts.scope,
            opts.status_code,
            admin=admin,
            legends=self.legends,
            node=self.node,
            desc=self.desc,
        )
        return render_html(self._info(clock), view, self.rows(opts, clock))

    # -- helpers --------------------------------------------------------------------------

    def _is_admin(self, stream: Stream | None, method: bytes, target: bytes) -> bool:
        """Whether `stats admin` rules grant the admin mode to this request."""
        if not self.admin:
            return False
        if stream is None:
            # Without the session's Stream only the request line is known: the
            # conditions see no client address (LOCALHOST is then false).
            from weir.proto.h1 import parse_request_head
            from weir.stream import Stream

            stream = Stream("", 0, None)
            found = parse_request_head(method + b" " + target + b" HTTP/1.1\r\n\r\n")
            stream.req = found[0] if found is not None else None
        return any(rule(stream) for rule in self.admin)

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
        return http_response(
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
ERROR_400 = _error_body("400 Bad Request", "The request could not be understood.")


def http_response(
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


def settings_of(conf: StatsConf) -> StatsSettings:
    from weir.stats.conf import StatsSettings

    return conf if isinstance(conf, StatsSettings) else StatsSettings()


def make_stats(px: Proxy, runtime: Runtime) -> StatsService | None:
    """The stats service of a proxy section, or None when it serves neither a stats page
    nor Prometheus metrics.

    Both need mode http: HAProxy ignores them (with a warning) in a tcp proxy.
    The runtime may still be under construction: it is only read when a page is served.
    Conditions (`stats admin`, `use-service`) are compiled here, once.
    """
    if px.mode.value != "http":
        return None
    extra = settings(px)
    if not px.stats.enabled and not extra.services:
        return None
    from weir.sample.acl import compile_acl, compile_cond

    acls: dict[str, list[Predicate]] = {}
    for a in px.acls:
        acls.setdefault(a.name, []).append(compile_acl(a.words))
    admin = [compile_cond(c.words, c.unless, acls) for c in extra.admin]
    prometheus = None
    if extra.services:
        from weir.stats.prometheus import PrometheusService

        prometheus = PrometheusService(
            [None if c is None else compile_cond(c.words, c.unless, acls) for c in extra.services],
            runtime,
        )
    return StatsService(px.stats, runtime, admin=admin, prometheus=prometheus, proxy_name=px.name)
