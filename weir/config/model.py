"""The configuration model: plain typed data, the output of parsing and the input of `build`.

HAProxy's inheritance is "a proxy starts as a copy of its defaults section, then each of
its own keywords overrides". The model follows that literally: while a file is parsed a
proxy is a copy of its defaults (`Proxy.inherit`) that keyword handlers fill in; once
`load()` returns, the model is shared read-only and nothing at run time reads its strings
again. (The classes are not `frozen` because of that fill-in step: freezing would need a
second, mutable twin of every class, and two copies of the same field list drift apart.)
"""

from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from weir.balance.base import BalanceParams
from weir.config.address import Address
from weir.config.diagnostics import Where


class Mode(StrEnum):
    HTTP = "http"
    TCP = "tcp"


class Cap(StrEnum):
    """What a proxy section is: HAProxy's capabilities of a proxy."""

    DEFAULTS = "defaults"
    FRONTEND = "frontend"
    BACKEND = "backend"
    LISTEN = "listen"

    @property
    def is_frontend(self) -> bool:
        return self in (Cap.FRONTEND, Cap.LISTEN)

    @property
    def is_backend(self) -> bool:
        return self in (Cap.BACKEND, Cap.LISTEN)


@dataclass(slots=True)
class LogTarget:
    where: Where
    address: Address | None  # None: stdout/stderr given by `fd`
    fd: int
    facility: int
    max_level: int
    min_level: int
    length: int = 1024
    fmt: str = "rfc3164"
    # Added for weir.log. `fmt` "" means no `format` was given: HAProxy's default, which is
    # "local", or "rfc3164" once `log-send-hostname` is set (decided when loggers are built).
    # `sample` keeps 1-based positions in [low, high] ranges out of every `sample_size` lines.
    sample_ranges: tuple[tuple[int, int], ...] = ()
    sample_size: int = 0


@dataclass(slots=True)
class GlobalConf:
    daemon: bool = False
    maxconn: int = 0  # 0: computed from the file-descriptor limit, as HAProxy does
    pidfile: str | None = None
    nbthread: int = 1
    user: str | None = None
    group: str | None = None
    uid: int | None = None
    gid: int | None = None
    quiet: bool = False
    localpeer: str = ""  # this node's name in peers sections (-L overrides it)
    maxpipes: int = 0  # splicing pipes; 0: a quarter of maxconn, as HAProxy
    nosplice: bool = False
    tune_pipesize: int = 0  # 0: the kernel's default
    tune_maxaccept: int = 0  # connections accepted in a row per listener; 0/-1: no limit
    tune_bufsize: int = 16384
    tune_maxhdr: int = 101
    tune_comp_maxlevel: int = 1  # zlib's level for `compression`
    logs: list[LogTarget] = field(default_factory=list)
    log_tag: str = "weir"
    log_send_hostname: str | None = None
    node: str | None = None
    description: str | None = None
    # Added for weir.check: `spread-checks` (percent of jitter, 0..50) and
    # `max-spread-checks` (ms; 0: no bound on the start-up spreading).
    spread_checks: int = 0
    max_spread_checks: int = 0
    # TLS (weir.tls): `ca-base`, `crt-base`, the `ssl-default-bind-*`/`ssl-default-server-*`
    # settings and `tune.ssl.*`, as weir.tls.conf.TlsGlobal; None until one is set.
    tls: Any = None
    # weir.backend.serverstate.StateConf: `server-state-file`, `server-state-base`.
    server_state: Any = None


@dataclass(slots=True)
class Bind:
    where: Where
    addresses: list[Address]
    name: str | None = None
    maxconn: int = 0
    backlog: int = 0
    v4v6: bool = False
    v6only: bool = False
    ssl: Any = None  # weir.tls.conf.BindTls once `ssl` (or a TLS option) is on the line
    accept_proxy: bool = False  # `accept-proxy`: a PROXY protocol header comes first
    freebind: bool = False  # `freebind`: bind an address this host does not have (yet)
    transparent: bool = False  # `transparent`: IP_TRANSPARENT (also binds foreign addresses)
    # A UNIX socket file's permissions and owner (`mode`, `uid`/`user`, `gid`/`group`).
    unix_mode: int | None = None
    unix_uid: int | None = None
    unix_gid: int | None = None


@dataclass(slots=True)
class CheckConf:
    """Health-check settings of one server (`check`, `inter`, `rise`, `fall` …)."""

    enabled: bool = False
    inter: int = 2000
    fastinter: int = 0
    downinter: int = 0
    rise: int = 2
    fall: int = 3
    port: int = 0
    addr: str | None = None
    # Added for weir.check: `addr` parsed (it may carry a port, used when `port` is unset).
    address: Address | None = None
    # Added for weir.check: `check-send-proxy`; the agent (`agent-check`, `agent-port`,
    # `agent-addr`, `agent-inter` in ms, 0: `inter`; `agent-send`); passive health
    # (`observe` "" | "layer4" | "layer7", `error-limit`, `on-error`, `on-marked-down`,
    # `on-marked-up`; "" means the option is unset).
    send_proxy: bool = False
    agent: bool = False
    agent_port: int = 0
    agent_address: Address | None = None
    agent_inter: int = 0
    agent_send: str = ""
    observe: str = ""
    error_limit: int = 10
    on_error: str = "fail-check"
    on_marked_down: str = ""
    on_marked_up: str = ""


@dataclass(slots=True)
class ServerConf:
    where: Where
    name: str
    address: Address | None = None  # None only on default-server
    weight: int = 1
    maxconn: int = 0
    maxqueue: int = 0
    backup: bool = False
    disabled: bool = False
    cookie: str | None = None
    puid: int = 0
    check: CheckConf = field(default_factory=CheckConf)
    # Added for weir.backend.slowstart: the warm-up after a DOWN->UP transition, in ms
    # (0: none). HAProxy counts it in whole seconds, rounded up, when it runs.
    slowstart: int = 0
    # Added for weir.backend.keywords: `puid` came from this server's `id` option (else it
    # is HAProxy's automatic numbering, which later `id`s can change).
    puid_given: bool = False
    ssl: Any = None  # weir.tls.conf.ServerTls once `ssl` (or a TLS option) is given
    send_proxy: int = 0  # PROXY protocol version sent first to the server (0: none)
    minconn: int = 0  # with maxconn: a limit that follows the backend's load (fullconn)
    pool_max_conn: int = -1  # idle connections kept for other sessions (weir.net.pool)
    pool_purge_delay: int = 5000  # ms
    # weir.dns.conf.ServerDns once a DNS option (`resolvers`, `init-addr`, ...) is given
    dns: Any = None

    def copy_as(self, name: str, where: Where) -> ServerConf:
        """A new server starting from this one's settings (a `default-server`)."""
        s = copy.deepcopy(self)
        s.name = name
        s.where = where
        return s


@dataclass(slots=True)
class AclDef:
    """`acl NAME CRITERION [FLAGS] [OPERATOR] VALUE…` as written; compiled by weir.sample."""

    where: Where
    name: str
    words: list[str]


@dataclass(slots=True)
class CondDef:
    """An `if`/`unless` condition as written: the words after the keyword."""

    where: Where
    unless: bool
    words: list[str]
    # The named defaults section whose ACLs the condition names, for a rule written
    # there (inherited by its proxies); None: the proxy's own ACLs.
    scope: Any = None


@dataclass(slots=True)
class SwitchRule:
    where: Where
    backend: str
    cond: CondDef | None


@dataclass(slots=True)
class HttpCheckConf:
    method: str = "OPTIONS"
    uri: str = "/"
    version: str = "HTTP/1.0"
    host: str | None = None
    # Added for weir.check. Headers and body come from the deprecated form that hides them
    # after "\r\n" in the version; `expects` are the `http-check expect` rules as written,
    # (match, pattern, negated), e.g. ("status", "200-399", False), checked in order (none:
    # 2xx/3xx pass). `where` is the `option httpchk` line (tells own rules from inherited).
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""
    expects: list[tuple[str, str, bool]] = field(default_factory=list)
    where: Where | None = None
    # (weir.check now keeps `http-check` lines, `expect` included, in
    # Proxy.checks.http_rules; `expects` stays empty.)


@dataclass(slots=True)
class CheckRuleConf:
    """One `tcp-check` or `http-check` rule line as written (weir.check compiles it)."""

    where: Where
    words: list[str]  # after the family word, e.g. ["expect", "string", "+PONG"]


@dataclass(slots=True)
class ProxyCheckConf:
    """A backend's health-check settings besides `option httpchk`'s request (Proxy.httpchk).

    `option` is the kind chosen by the last `option <kind>` line: "httpchk", "tcp-check",
    "redis-check", "mysql-check", "pgsql-check", "smtpchk", "ldap-check" or
    "ssl-hello-chk", with its arguments and line; None: a connection is the whole check.
    Rule lines keep their order and their `where`, which tells a section's own lines from
    those copied from its defaults section.
    """

    option: str | None = None
    option_args: list[str] = field(default_factory=list)
    option_where: Where | None = None
    tcp_rules: list[CheckRuleConf] = field(default_factory=list)
    http_rules: list[CheckRuleConf] = field(default_factory=list)
    disable_on_404: bool = False
    send_state: bool = False
    log_health_checks: bool = False  # `option log-health-checks`


@dataclass(slots=True)
class CookieConf:
    """`cookie NAME insert|rewrite|prefix [indirect] [nocache] …` (the subset weir runs)."""

    where: Where
    name: str
    mode: str = "rewrite"
    indirect: bool = False
    nocache: bool = False
    postonly: bool = False
    preserve: bool = False
    httponly: bool = False
    secure: bool = False
    domains: list[str] = field(default_factory=list)
    attrs: list[str] = field(default_factory=list)
    maxidle: int = 0  # seconds
    maxlife: int = 0  # seconds
    dynamic: bool = False


@dataclass(slots=True)
class StatsConf:
    enabled: bool = False
    uri: str = "/haproxy?stats"
    realm: str | None = None
    auths: list[tuple[str, str]] = field(default_factory=list)
    refresh: int = 0
    hide_version: bool = False
    where: Where | None = None


@dataclass(slots=True)
class Timeouts:
    """All in milliseconds; 0 means unset (no timeout), as in HAProxy."""

    client: int = 0
    server: int = 0
    connect: int = 0
    http_request: int = 0
    http_keep_alive: int = 0
    queue: int = 0
    check: int = 0
    tunnel: int = 0
    client_fin: int = 0
    server_fin: int = 0
    tarpit: int = 0  # unset: `timeout connect`, as HAProxy


@dataclass(slots=True)
class CompressionConf:
    """`compression algo|type|offload` (weir.http.compress)."""

    algos: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    offload: bool = False


@dataclass(slots=True)
class Proxy:
    cap: Cap
    name: str
    where: Where
    mode: Mode = Mode.TCP
    disabled: bool = False
    description: str | None = None
    maxconn: int = 0
    backlog: int = 0  # `backlog`: the listen queue of binds that set none (0: maxconn)
    timeouts: Timeouts = field(default_factory=Timeouts)
    # frontend side
    binds: list[Bind] = field(default_factory=list)
    acls: list[AclDef] = field(default_factory=list)
    default_backend: str | None = None
    default_backend_where: Where | None = None
    switch_rules: list[SwitchRule] = field(default_factory=list)
    forwardfor: bool = False
    forwardfor_header: str = "X-Forwarded-For"
    forwardfor_except: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    forwardfor_if_none: bool = False
    http_connection_mode: str = "http-keep-alive"
    monitor_uri: str | None = None  # `monitor-uri`: answered by weir itself
    monitor_fail: list[CondDef] = field(default_factory=list)  # `monitor fail if|unless`
    tcpka: bool = False  # `option tcpka`: TCP keep-alive probes on both sides
    clitcpka: bool = False  # `option clitcpka`: on the client side only
    srvtcpka: bool = False  # `option srvtcpka`: on the server side only
    # `option splice-auto|splice-request|splice-response` (mode tcp; weir/tcp/splice.py)
    splice: frozenset[str] = frozenset()
    # Error pages: the lines in order (weir.http.errorpages), then, once the whole
    # configuration is read, status -> the whole response (bytes, or made per stream).
    error_pages: list[Any] = field(default_factory=list)
    errorfiles: dict[int, Any] = field(default_factory=dict)
    httplog: bool = False
    tcplog: bool = False
    log_global: bool = False
    dontlognull: bool = False
    # Added for weir.log: per-proxy log targets (`log …`, `log global` copies the global
    # ones), `log-tag`, `option httplog clf`, and the error-sensitive logging options.
    logs: list[LogTarget] = field(default_factory=list)
    log_tag: str | None = None
    httplog_clf: bool = False
    logformat_where: Where | None = None  # the `option httplog`/`option tcplog` line
    dontlog_normal: bool = False
    log_separate_errors: bool = False
    # Added for weir.log (formats and captures): `log-format` as written (None: the
    # `option httplog`/`tcplog` flags decide; `logformat_where` is its line too),
    # `log-format-sd`, `unique-id-format`, `unique-id-header`, the `capture` lines as
    # (name, length) in declaration order, `option logasap`, and weir's JSON presets
    # (`option httplog json`, `option tcplog json`).
    log_format: str | None = None
    log_format_sd: str | None = None
    log_format_sd_where: Where | None = None
    unique_id_format: str | None = None
    unique_id_format_where: Where | None = None
    unique_id_header: str | None = None
    capture_request_headers: list[tuple[str, int]] = field(default_factory=list)
    capture_response_headers: list[tuple[str, int]] = field(default_factory=list)
    capture_cookie: tuple[str, int] | None = None
    capture_where: Where | None = None
    logasap: bool = False
    log_json: bool = False
    # backend side
    balance: BalanceParams | None = None
    servers: list[ServerConf] = field(default_factory=list)
    default_server: ServerConf | None = None
    httpchk: HttpCheckConf | None = None
    checks: ProxyCheckConf = field(default_factory=ProxyCheckConf)  # added for weir.check
    cookie: CookieConf | None = None
    dynamic_cookie_key: str | None = None
    fullconn: int = 0  # 0: a tenth of the maxconn of the frontends that reach it
    buffer_request: bool = False  # option http-buffer-request
    compression: CompressionConf | None = None
    retries: int = 3
    redispatch: bool = False
    persist: bool = False  # `option persist`: persistence reaches a server that is down
    abortonclose: bool = False  # `option abortonclose`
    pretend_keepalive: bool = False  # `option http-pretend-keepalive`
    http_reuse: str = "safe"  # weir.net.pool
    stats: StatsConf = field(default_factory=StatsConf)
    # `defaults NAME from OTHER` / `frontend NAME from DEFAULTS`
    defaults_name: str | None = None
    # Rules, each list in declaration order; the element types belong to the modules that
    # parse them (weir.http.rules, weir.tcp.rules, weir.persist.stick).
    http_request_rules: list[Any] = field(default_factory=list)
    http_response_rules: list[Any] = field(default_factory=list)
    http_after_response_rules: list[Any] = field(default_factory=list)
    redirect_rules: list[Any] = field(default_factory=list)  # the legacy `redirect` keyword
    use_server_rules: list[Any] = field(default_factory=list)  # (where, server, CondDef)
    force_persist: list[CondDef] = field(default_factory=list)
    ignore_persist: list[CondDef] = field(default_factory=list)
    tcp_request_connection_rules: list[Any] = field(default_factory=list)
    tcp_request_content_rules: list[Any] = field(default_factory=list)
    tcp_response_content_rules: list[Any] = field(default_factory=list)
    tcp_inspect_delay: int = 0  # ms; `tcp-request inspect-delay`
    tcp_response_inspect_delay: int = 0
    stick_table: Any = None  # weir.persist.stick's table declaration
    stick_rules: list[Any] = field(default_factory=list)  # stick on|match|store-*
    persist_rdp_cookie: str | None = None  # `persist rdp-cookie[(<name>)]`: the name
    load_server_state: str = "none"  # `load-server-state-from-file`
    server_state_file_name: str | None = None

    def inherit(self, cap: Cap, name: str, where: Where) -> Proxy:
        """A new proxy section starting as a copy of this defaults section.

        Lists of rules, binds, ACLs and servers are never inherited (HAProxy 2.6 keeps
        them per proxy); everything else is.
        """
        p = copy.deepcopy(self)
        p.cap, p.name, p.where = cap, name, where
        p.binds, p.acls, p.switch_rules, p.servers = [], [], [], []
        # A named defaults section's http-request/http-response/http-after-response and
        # tcp-request rules come first in each proxy using it, their conditions naming the
        # defaults section's ACLs (HAProxy 2.5+); a defaults section inherits none.
        for rules in (p.http_request_rules, p.http_response_rules, p.http_after_response_rules):
            _scoped(rules, self, keep=cap is not Cap.DEFAULTS)
        _scoped(p.tcp_request_connection_rules, self, keep=cap is not Cap.DEFAULTS)
        _scoped(p.tcp_request_content_rules, self, keep=cap is not Cap.DEFAULTS)
        p.redirect_rules, p.use_server_rules = [], []
        p.tcp_response_content_rules, p.stick_rules = [], []
        p.stick_table = None
        p.monitor_fail = []
        p.force_persist, p.ignore_persist = [], []
        p.default_backend_where = where if p.default_backend else None
        p.default_server = None if self.default_server is None else self.default_server
        p.defaults_name = self.name
        return p


@dataclass(slots=True)
class Userlist:
    where: Where
    name: str
    users: dict[str, str] = field(default_factory=dict)  # name -> password (insecure or crypt)
    secure: dict[str, bool] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)


@dataclass(slots=True)
class Config:
    """A whole loaded configuration."""

    files: list[str]
    global_: GlobalConf = field(default_factory=GlobalConf)
    defaults: dict[str, Proxy] = field(default_factory=dict)
    # A frontend and a backend may share a name (HAProxy allows it); a `listen` is both.
    frontends: dict[str, Proxy] = field(default_factory=dict)
    backends: dict[str, Proxy] = field(default_factory=dict)
    proxies: list[Proxy] = field(default_factory=list)  # all of them once, in file order
    userlists: dict[str, Userlist] = field(default_factory=dict)
    # `peers` sections by name (weir.peers.conf.PeersConf)
    peers: dict[str, Any] = field(default_factory=dict)
    # `resolvers` sections by name (weir.dns.conf.ResolversConf)
    resolvers: dict[str, Any] = field(default_factory=dict)
    # `http-errors` sections by name (weir.http.errorpages.HttpErrors)
    http_errors: dict[str, Any] = field(default_factory=dict)


def _scoped(rules: list[Any], defaults: Proxy, *, keep: bool) -> None:
    """Copies of a defaults section's rules, in place: their conditions name its ACLs."""
    if not keep:
        rules.clear()
        return
    for r in rules:
        if r.cond is not None and r.cond.scope is None:
            r.cond.scope = defaults
