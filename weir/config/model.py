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
    tune_bufsize: int = 16384
    tune_maxhdr: int = 101
    logs: list[LogTarget] = field(default_factory=list)
    log_tag: str = "weir"
    log_send_hostname: str | None = None
    node: str | None = None
    description: str | None = None


@dataclass(slots=True)
class Bind:
    where: Where
    addresses: list[Address]
    name: str | None = None
    maxconn: int = 0
    backlog: int = 0
    v4v6: bool = False
    v6only: bool = False


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


@dataclass(slots=True)
class Proxy:
    cap: Cap
    name: str
    where: Where
    mode: Mode = Mode.TCP
    disabled: bool = False
    description: str | None = None
    maxconn: int = 0
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
    errorfiles: dict[int, bytes] = field(default_factory=dict)  # status -> whole response
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
    # backend side
    balance: BalanceParams | None = None
    servers: list[ServerConf] = field(default_factory=list)
    default_server: ServerConf | None = None
    httpchk: HttpCheckConf | None = None
    cookie: CookieConf | None = None
    retries: int = 3
    redispatch: bool = False
    stats: StatsConf = field(default_factory=StatsConf)
    # `defaults NAME from OTHER` / `frontend NAME from DEFAULTS`
    defaults_name: str | None = None

    def inherit(self, cap: Cap, name: str, where: Where) -> Proxy:
        """A new proxy section starting as a copy of this defaults section.

        Lists of rules, binds, ACLs and servers are never inherited (HAProxy 2.6 keeps
        them per proxy); everything else is.
        """
        p = copy.deepcopy(self)
        p.cap, p.name, p.where = cap, name, where
        p.binds, p.acls, p.switch_rules, p.servers = [], [], [], []
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
