"""Runtime proxies built from the model: compiled rules, server state, balancers, limits.

`build(cfg)` is the one place the model's strings are read; what it returns is what the
data path uses. A Frontend holds its switching rules as (predicate, Backend) pairs, so a
request's routing is a few calls; a Backend holds its servers, balancer and queue.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from weir.backend.server import Server, SrvState
from weir.balance import make_balancer, parse_balance
from weir.balance.base import BalanceParams, Balancer
from weir.balance.keys import hdr_key, rdp_cookie_key, source_key, uri_key, url_param_key
from weir.config.model import Config, GlobalConf, Mode, Proxy
from weir.http.compress import Compression
from weir.http.rules import ProxyRules, proxy_rules
from weir.log import Logger, LogHub
from weir.log.captures import Captures
from weir.net.listener import ConnLimiter
from weir.net.pool import MODES as REUSE_MODES
from weir.net.pool import Orphans
from weir.persist.cookie import CookiePersist, make_rule
from weir.persist.sticking import Sticker
from weir.proto.h1 import RequestHead
from weir.sample.acl import Predicate, compile_acl, compile_cond
from weir.stats import RateCounter, StatsService, make_stats
from weir.stream import Stream
from weir.tcp.rules import compile_tcp_rules, switches_to_http


class Counters:
    """Per-proxy traffic counters, plain ints bumped on the data path, named like the
    stats CSV fields they feed (weir.stats.fields reads them by those names)."""

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "comp_in",
        "comp_out",
        "comp_rsp",
        "cur_sess",
        "denied",
        "dresp",
        "econ",
        "eresp",
        "errors",
        "hrsp",
        "max_sess",
        "req_rate",
        "requests",
        "sess_rate",
        "tot_sess",
        "wredis",
        "wretr",
    )

    def __init__(self) -> None:
        self.cur_sess = self.max_sess = self.tot_sess = 0
        self.bytes_in = self.bytes_out = 0
        self.requests = self.denied = self.dresp = self.errors = 0
        self.econ = self.eresp = self.wretr = self.wredis = 0
        self.comp_in = self.comp_out = self.comp_rsp = 0  # weir.http.compress
        self.hrsp = [0] * 6  # responses by status // 100; index 0 for anything else
        self.sess_rate = RateCounter()
        self.req_rate = RateCounter()


class Backend:
    __slots__ = (
        "abortonclose",
        "balancer",
        "comp",
        "conf",
        "conn_mode",
        "cookie",
        "counters",
        "errorfiles",
        "force_persist",
        "forwardfor",
        "fullconn",
        "http",
        "ignore_persist",
        "key_of",
        "logger",
        "maxqueue",
        "mode",
        "name",
        "persist",
        "pretend_keepalive",
        "queue",
        "rdp_persist",
        "redispatch",
        "res_inspect_delay",
        "retries",
        "reuse",
        "servers",
        "splice",
        "srv_queues",
        "stats",
        "sticker",
        "tcp_content",
        "tcp_response",
        "tcpka",
        "timeout_connect",
        "timeout_queue",
        "timeout_server",
        "timeout_server_fin",
        "timeout_tunnel",
        "use_server",
    )

    def __init__(self, px: Proxy) -> None:
        self.fullconn = px.fullconn or 1  # set by build() (HAProxy's default when 0)
        self.comp: Compression | None = None  # set by build(): `compression`
        self.conf = px  # the model, for builders of other concerns (checks, stats, logs)
        self.tcpka = px.tcpka or px.srvtcpka  # the server side's keep-alive probes
        self.name = px.name
        self.mode = px.mode
        # servers[i] is built from conf.servers[i]
        self.servers = [
            Server(
                s.name,
                s.address.host,
                s.address.port_low,
                puid=s.puid,
                weight=s.weight,
                backup=s.backup,
                maxconn=s.maxconn,
            )
            for s in px.servers
            if s.address is not None
        ]
        assert len(self.servers) == len(px.servers), "every server line has an address"
        for srv, conf in zip(self.servers, px.servers, strict=False):
            srv.send_proxy = conf.send_proxy
            srv.purge_delay = conf.pool_purge_delay / 1000
            srv.pool_max = 0 if not conf.pool_purge_delay else conf.pool_max_conn
            if conf.disabled:
                srv.state = SrvState.MAINT
            elif conf.address is not None and conf.address.fqdn and not conf.address.host:
                # `init-addr none`: in maintenance until weir.dns gives it an address
                srv.state = SrvState.MAINT
                srv.rmaint = True
        params = px.balance if px.balance is not None else parse_balance(["roundrobin"])
        self.balancer: Balancer = make_balancer(self.servers, params)
        # What a hash-based algorithm hashes, compiled once; None: nothing to extract.
        self.key_of: Callable[[Stream], bytes | None] | None = _key_function(params, px.mode)
        t = px.timeouts
        self.timeout_connect = t.connect / 1000 if t.connect else None
        self.timeout_server = t.server / 1000 if t.server else None
        self.timeout_queue = (t.queue or t.connect) / 1000 if (t.queue or t.connect) else None
        self.timeout_tunnel = t.tunnel / 1000 if t.tunnel else None
        self.timeout_server_fin = t.server_fin / 1000 if t.server_fin else None
        self.retries = px.retries
        self.redispatch = px.redispatch
        self.abortonclose = px.abortonclose
        self.reuse = REUSE_MODES[px.http_reuse]
        self.pretend_keepalive = px.pretend_keepalive
        self.conn_mode = px.http_connection_mode
        # A mode tcp frontend's HTTP rules apply to its sessions upgraded to HTTP (by
        # `switch-mode http` or a backend in mode http), as in HAProxy; `option
        # forwardfor` only with `switch-mode http` (HAProxy drops it otherwise).
        http = px.mode is Mode.HTTP or switches_to_http(px)
        self.forwardfor = _forwardfor(px) if http else None
        self.errorfiles = px.errorfiles
        self.counters = Counters()
        self.logger: Logger | None = None  # set by build()
        self.stats: StatsService | None = None  # set by build()
        # http-request/-response rules; a listen section's are its frontend's (run once).
        own = None if px.cap.is_frontend else _acls(px)
        self.http: ProxyRules | None = None if own is None else proxy_rules(px, own)
        # A backend's tcp-request content rules run once it is chosen (a listen section's
        # are its frontend's).
        self.tcp_content = (
            None if own is None else compile_tcp_rules(px.tcp_request_content_rules, own)
        )
        acls = own if own is not None else _acls(px)
        # `tcp-response content` rules (mode tcp) on the server's first bytes, within
        # `res_inspect_delay` seconds (0: once, on the first bytes).
        self.tcp_response = compile_tcp_rules(px.tcp_response_content_rules, acls)
        self.splice = px.splice  # `option splice-*` (mode tcp)
        self.res_inspect_delay = px.tcp_response_inspect_delay / 1000
        # `stick on|match|store-request|store-response`: persistence through a stick table.
        self.sticker: Sticker | None = None
        # `persist rdp-cookie`: the cookie's name (None: not set), and `option persist`.
        rdp = px.persist_rdp_cookie
        self.rdp_persist = rdp.encode() if rdp is not None and px.mode is Mode.TCP else None
        self.persist = px.persist
        if px.stick_rules:
            self.sticker = Sticker(px.stick_rules, acls, px.name, px.mode is Mode.HTTP)
        # `use-server SRV if COND`, `force-persist`, `ignore-persist`.
        by_name = {srv.name: srv for srv in self.servers}
        self.use_server: tuple[tuple[Predicate, Server], ...] | None = (
            tuple(
                (compile_cond(c.words, c.unless, acls), by_name[name])
                for _, name, c in px.use_server_rules
                if name in by_name
            )
            or None
        )
        self.force_persist = _any_cond(px.force_persist, acls)
        self.ignore_persist = _any_cond(px.ignore_persist, acls)
        if self.sticker is not None:
            self.sticker.force = self.force_persist
        self.cookie: CookiePersist | None = None
        ck = px.cookie
        if ck is not None and px.mode is Mode.HTTP:
            rule = make_rule(
                ck.name,
                mode=ck.mode,
                indirect=ck.indirect,
                nocache=ck.nocache,
                httponly=ck.httponly,
                secure=ck.secure,
                domains=ck.domains,
                attrs=ck.attrs,
                maxidle=ck.maxidle,
                maxlife=ck.maxlife,
                postonly=ck.postonly,
                preserve=ck.preserve,
            )
            self.cookie = CookiePersist(
                rule,
                [(srv, conf.cookie) for srv, conf in zip(self.servers, px.servers, strict=True)],
                dynamic=ck.dynamic,
                key=px.dynamic_cookie_key,
                persist=px.persist,
            )
        # Requests waiting for a server slot: callbacks called with the server to use.
        self.queue: deque[Callable[[Server], bool]] = deque()
        # Requests waiting for one particular server (persistence, or a hash key that
        # names a full server); served before the backend's queue when that server frees.
        self.srv_queues: dict[Server, deque[Callable[[Server], bool]]] = {}
        # `maxqueue` of the servers that set one: a full server queue sends requests on.
        self.maxqueue = {
            srv: conf.maxqueue
            for srv, conf in zip(self.servers, px.servers, strict=True)
            if conf.maxqueue
        }

    def pick(self, stream: Stream | None = None, avoid: Server | None = None) -> Server | None:
        """The server for `stream`, or None (no usable server at all, or all full: the
        caller tells these apart with `has_usable`). A hash key may name a full server:
        the caller then queues the request on that server (`wait_for`)."""
        key_of = self.key_of
        key = key_of(stream) if key_of is not None and stream is not None else None
        return self.balancer.pick(key, avoid=avoid)

    def wait_for(self, srv: Server, waiter: Callable[[Server], bool]) -> int:
        """Queue `waiter` on `srv` (HAProxy's server queue); returns its position, or 0
        when the queue is at the server's `maxqueue` and the request must go elsewhere."""
        q = self.srv_queues.get(srv)
        if q is None:
            q = self.srv_queues[srv] = deque()
        limit = self.maxqueue.get(srv, 0)
        if limit and len(q) >= limit:
            return 0
        q.append(waiter)
        return len(q)

    def has_usable(self) -> bool:
        return any(s.usable for s in self.servers)

    def take(self, srv: Server) -> None:
        srv.cur_sess += 1
        srv.tot_sess += 1
        srv.max_sess = max(srv.max_sess, srv.cur_sess)
        self.balancer.taken(srv)

    def release(self, srv: Server) -> None:
        """A connection to `srv` ended: hand its slot to the oldest waiting request."""
        srv.cur_sess -= 1
        self.balancer.released(srv)
        own = self.srv_queues.get(srv)
        if own:
            if srv.state is SrvState.DOWN or srv.state is SrvState.MAINT:
                # The server stopped serving: its waiters go to the head of the
                # backend's queue, for whichever server frees a slot (HAProxy's requeue).
                self.queue.extendleft(reversed(own))
                own.clear()
            else:
                while own:
                    if own.popleft()(srv):
                        return
        while self.queue:
            nxt = self.pick()  # the waiter's own key is not known here: any free server
            if nxt is None:
                return
            if self.queue.popleft()(nxt):
                return


def _key_function(params: BalanceParams, mode: Mode) -> Callable[[Stream], bytes | None] | None:
    """The request key of a hash-based `balance`, as a closure over the Stream."""
    algo = params.algo
    if algo == "source":

        def source(s: Stream) -> bytes | None:
            try:
                return source_key(s.client_ip)
            except ValueError:  # a UNIX-socket client has no address to hash
                return None

        return source
    if algo == "rdp-cookie":
        # The cookie of an RDP connection request, read during `tcp-request` inspection.
        name = params.rdp_cookie.encode()
        return lambda s: None if s.payload is None else rdp_cookie_key(s.payload, name)
    if algo == "hash":
        from weir.sample.core import L4_CONTENT, REQ, STR, compile_expr

        place = REQ if mode is Mode.HTTP else L4_CONTENT
        get = compile_expr(params.expr, place, want=STR).get
        return lambda s: get(s) or None
    if mode is not Mode.HTTP or not params.needs_http:
        return None
    if algo == "uri":
        whole, length, depth = params.uri_whole, params.uri_len, params.uri_depth
        path_only = params.uri_path_only

        def uri(s: Stream) -> bytes | None:
            req = s.req
            if req is None:
                return None
            return uri_key(req.target, whole=whole, length=length, depth=depth, path_only=path_only)

        return uri
    if algo == "url_param":
        name = params.url_param.encode()

        def url_param(s: Stream) -> bytes | None:
            if s.req is None:
                return None
            _, sep, query = s.req.target.partition(b"?")
            return url_param_key(query, name) if sep else None

        return url_param
    if algo == "hdr":
        header = params.hdr_name.lower().encode()
        domain_only = params.use_domain_only

        def hdr(s: Stream) -> bytes | None:
            return (
                None
                if s.req is None
                else hdr_key(s.req.header(header), use_domain_only=domain_only)
            )

        return hdr
    return None


@dataclass(slots=True)
class ForwardFor:
    """`option forwardfor`, compiled: the header to add and when to add it."""

    header: bytes
    header_lower: bytes
    except_net: ipaddress.IPv4Network | ipaddress.IPv6Network | None
    if_none: bool

    def wanted(self, head: RequestHead, client_ip: str) -> bool:
        """Whether this request gets the header: not when `if-none` and the client sent
        one, nor when the client is in the `except` network."""
        if self.if_none and head.header(self.header_lower) is not None:
            return False
        if self.except_net is not None:
            try:
                return ipaddress.ip_address(client_ip) not in self.except_net
            except ValueError:
                return True
        return True


def _forwardfor(px: Proxy) -> ForwardFor | None:
    if not px.forwardfor:
        return None
    name = px.forwardfor_header.encode()
    return ForwardFor(name, name.lower(), px.forwardfor_except, px.forwardfor_if_none)


class Frontend:
    __slots__ = (
        "backends_by_name",
        "binds",
        "buffer_body",
        "captures",
        "comp",
        "conf",
        "conn_mode",
        "counters",
        "default_backend",
        "errorfiles",
        "forwardfor",
        "http",
        "inspect_delay",
        "limiter",
        "logger",
        "maxconn",
        "mode",
        "monitor_fail",
        "monitor_uri",
        "name",
        "rules",
        "splice",
        "stats",
        "tcp_conn",
        "tcp_content",
        "tcpka",
        "timeout_client",
        "timeout_client_fin",
        "timeout_http_keep_alive",
        "timeout_http_request",
        "tls",
    )

    def __init__(self, px: Proxy, backends: dict[str, Backend], limiter: ConnLimiter) -> None:
        self.conf = px
        self.name = px.name
        self.mode = px.mode
        self.binds = px.binds
        self.tls = any(b.ssl is not None and b.ssl.enabled for b in px.binds)
        self.maxconn = px.maxconn
        t = px.timeouts
        self.timeout_client = t.client / 1000 if t.client else None
        self.timeout_client_fin = t.client_fin / 1000 if t.client_fin else None
        self.timeout_http_request = t.http_request / 1000 if t.http_request else None
        self.monitor_uri = px.monitor_uri.encode() if px.monitor_uri is not None else None
        self.tcpka = px.tcpka or px.clitcpka  # the client side's keep-alive probes
        keep = t.http_keep_alive or t.http_request
        self.timeout_http_keep_alive = keep / 1000 if keep else self.timeout_client
        self.conn_mode = px.http_connection_mode
        # A mode tcp frontend's HTTP rules apply to its sessions upgraded to HTTP (by
        # `switch-mode http` or a backend in mode http), as in HAProxy; `option
        # forwardfor` only with `switch-mode http` (HAProxy drops it otherwise).
        http = px.mode is Mode.HTTP or switches_to_http(px)
        self.forwardfor = _forwardfor(px) if http else None
        self.errorfiles = px.errorfiles
        self.limiter = ConnLimiter(px.maxconn, parent=limiter)
        self.captures: Captures | None = None  # set by build() when the proxy captures
        self.comp: Compression | None = None  # set by build(): `compression`
        self.counters = Counters()
        self.logger: Logger | None = None  # set by build()
        self.stats: StatsService | None = None  # set by build()
        acls = _acls(px)
        self.http = proxy_rules(px, acls)
        # tcp-request rules: connection ones when a client arrives, content ones on its
        # first bytes, within `inspect_delay` seconds (0: no inspection).
        self.tcp_conn = compile_tcp_rules(px.tcp_request_connection_rules, acls)
        self.tcp_content = compile_tcp_rules(px.tcp_request_content_rules, acls)
        self.inspect_delay = px.tcp_inspect_delay / 1000
        self.splice = px.splice  # `option splice-*` (mode tcp)
        # (condition, backend) — or, for a name made per request, (condition, the
        # function that makes it); `route` tells them apart.
        self.rules: list[tuple[Predicate | None, Backend | Callable[[Stream], bytes]]] = []
        self.backends_by_name = backends
        for r in px.switch_rules:
            pred = None if r.cond is None else compile_cond(r.cond.words, r.cond.unless, acls)
            if "%" in r.backend:
                from weir.http.values import compile_value
                from weir.sample.core import REQ

                self.rules.append((pred, compile_value(r.backend, REQ)))
            else:
                self.rules.append((pred, backends[r.backend]))
        # `monitor fail`: the monitor-uri answers 503 while any of these conditions holds.
        fails = [compile_cond(c.words, c.unless, acls) for c in px.monitor_fail]
        self.monitor_fail: Predicate | None = _any(fails) if fails else None
        if px.cap.is_backend:
            self.default_backend: Backend | None = backends[px.name]
        elif px.default_backend is not None:
            self.default_backend = backends[px.default_backend]
        else:
            self.default_backend = None
        # `option http-buffer-request` here or in a backend this frontend may choose: the
        # body is awaited before any http-request rule (HAProxy waits before the rules of
        # the proxy that has the option; waiting earlier only moves the wait).
        targets = [be for _, be in self.rules if isinstance(be, Backend)]
        if self.default_backend is not None:
            targets.append(self.default_backend)
        self.buffer_body = px.buffer_request or any(be.conf.buffer_request for be in targets)

    def route(self, stream: Stream) -> Backend | None:
        """The backend for this stream: first matching `use_backend`, else the default."""
        for pred, be in self.rules:
            if pred is None or pred(stream):
                if isinstance(be, Backend):
                    return be
                # A dynamic name: a backend of the same mode by that name (or in mode
                # http, to which a mode tcp session upgrades), else (as HAProxy) the
                # default backend.
                found = self.backends_by_name.get(be(stream).decode("latin-1"))
                if found is not None and (found.mode is self.mode or found.mode is Mode.HTTP):
                    return found
                break
        return self.default_backend


def _server_tls(be: Backend, cfg: Config) -> None:
    """TLS contexts (and SNI expressions) of the backend's `server ... ssl` lines."""
    for srv, conf in zip(be.servers, be.conf.servers, strict=False):
        t = conf.ssl
        if t is None:
            continue
        from weir.sample.core import REQ, STR, compile_expr
        from weir.tls.context import server_context
        from weir.tls.keywords import tls_global

        ctx = server_context(t, tls_global(cfg))
        if t.enabled:
            sni = compile_expr(t.sni, REQ, want=STR).get if t.sni else None
            srv.tls = (ctx, sni)
        # Checks go over TLS with `check-ssl`, or when the server speaks TLS and the
        # check does not go to another port or address (HAProxy's rule).
        moved = conf.check.port or conf.check.address is not None
        if t.check_ssl or (t.enabled and not moved):
            t.check_context = ctx


def _any_cond(conds: list[Any], acls: dict[str, list[Predicate]]) -> Predicate | None:
    """One predicate for several `if|unless` lines (any holds), or None for none."""
    preds = [compile_cond(c.words, c.unless, acls) for c in conds]
    return _any(preds) if preds else None


def _acls(px: Proxy) -> dict[str, list[Predicate]]:
    """The proxy's ACLs by name, each declaration compiled (several lines OR together)."""
    acls: dict[str, list[Predicate]] = {}
    for a in px.acls:
        acls.setdefault(a.name, []).append(compile_acl(a.words))
    return acls


def _any(preds: list[Predicate]) -> Predicate:
    if len(preds) == 1:
        return preds[0]
    frozen = tuple(preds)
    return lambda s: any(p(s) for p in frozen)


@dataclass(slots=True)
class Runtime:
    config: Config
    limiter: ConnLimiter
    log_hub: LogHub
    frontends: list[Frontend] = field(default_factory=list)
    backends: dict[str, Backend] = field(default_factory=dict)


def build(cfg: Config) -> Runtime:
    """Turn a checked Config into runtime objects. The config must have loaded without errors."""
    from weir.auth.userlist import install

    install(cfg.userlists)
    limiter = ConnLimiter(cfg.global_.maxconn or _default_maxconn())
    from weir.tcp.splice import configure

    g = cfg.global_
    configure(0 if g.nosplice else (g.maxpipes or limiter.limit // 4), g.tune_pipesize)
    from weir.process.listeners import MAXACCEPT

    MAXACCEPT[0] = g.tune_maxaccept
    rt = Runtime(cfg, limiter, LogHub(cfg, actconn=limiter))
    Orphans.cap = max(1, limiter.limit // 4)
    for px in cfg.proxies:
        if px.disabled or not px.cap.is_backend:
            continue
        be = Backend(px)
        be.comp = _compression(px, g)
        _server_tls(be, cfg)
        be.logger = rt.log_hub.logger(px)
        rt.backends[px.name] = be
    from weir.persist.stick import build_tables
    from weir.sample.fetch_state import install as install_backends

    build_tables(cfg.proxies)
    install_backends(rt.backends)
    for px in cfg.proxies:
        if px.disabled or not px.cap.is_frontend:
            continue
        fe = Frontend(px, rt.backends, rt.limiter)
        fe.comp = _compression(px, g)
        fe.logger = rt.log_hub.logger(px)
        fe.captures = rt.log_hub.captures(px)
        rt.frontends.append(fe)
    _fullconn(rt)
    # Stats services read the whole runtime, so they come last; a listen's two halves
    # share one.
    for fe in rt.frontends:
        fe.stats = make_stats(fe.conf, rt)
        own = rt.backends.get(fe.name)
        if own is not None and own.conf is fe.conf:
            own.stats = fe.stats
    for be in rt.backends.values():
        if be.stats is None:
            be.stats = make_stats(be.conf, rt)
    return rt


def _compression(px: Proxy, g: GlobalConf) -> Compression | None:
    """A proxy's `compression` settings for the HTTP sessions that go through it."""
    conf = px.compression
    if conf is None or not (conf.algos or conf.types or conf.offload):
        return None
    return Compression(conf, g.tune_comp_maxlevel)


def _fullconn(rt: Runtime) -> None:
    """Each backend's fullconn: as configured, else HAProxy's default, a tenth of the
    maxconn of the frontends that can reach it (default_backend and use_backend with a
    fixed name); and the servers with `minconn` below `maxconn` get their dynamic limit."""
    reach: dict[str, int] = {}
    for fe in rt.frontends:
        candidates = (fe.default_backend, *(t for _, t in fe.rules))
        targets = {id(be): be for be in candidates if isinstance(be, Backend)}
        for be in targets.values():
            reach[be.name] = reach.get(be.name, 0) + (fe.maxconn or rt.limiter.limit)
    for be in rt.backends.values():
        be.fullconn = be.conf.fullconn or max(1, -(-reach.get(be.name, 0) // 10))
        for srv, conf in zip(be.servers, be.conf.servers, strict=False):
            # HAProxy: minconn alone is a fixed limit; maxconn alone too.
            if conf.minconn > srv.maxconn:
                srv.maxconn = conf.minconn
            elif 0 < conf.minconn < srv.maxconn:
                srv.minconn = conf.minconn
                srv.fullconn = be.fullconn
                srv.be_counters = be.counters


def _default_maxconn() -> int:
    """HAProxy derives the default maxconn from the file-descriptor limit: each proxied
    connection needs two descriptors, plus a margin for listeners and checks."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 100_000
    return max(1, (soft - 100) // 2)
