"""A runtime like the introduction's, built from the model without the parser.

    listen stats              bind *:1080, stats uri /stats, realm, auth admin:admin,
                              refresh 30s
    frontend web              default_backend app
    backend app               web1 (checked, last check L7OK/200 in 1ms), web2 (no check),
                              web3 (backup), web4 (DOWN), web5 (MAINT), web6 (checked,
                              UP but failing: "UP 1/3")

Servers that carry health-check results have them set by `checked()`, as the check
scheduler sets them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from weir.backend.server import Server, SrvState
from weir.config.address import parse_address
from weir.config.diagnostics import Where
from weir.config.model import (
    Bind,
    Cap,
    CheckConf,
    Config,
    Mode,
    Proxy,
    ServerConf,
    StatsConf,
)
from weir.proxy.runtime import Runtime, build

FILE = "intro.cfg"


def checked(
    srv: Server, status: str, code: int | None, duration: int, health: int, last_change: float
) -> Server:
    """`srv` with the results of a health check."""
    srv.check_status = status
    srv.check_code = code
    srv.check_duration_ms = duration
    srv.check_health = health
    srv.check_desc = ""
    srv.chkfail = 0
    srv.chkdown = 0
    srv.last_change = last_change
    return srv


def _server(
    line: int, name: str, port: int, *, check: bool = False, backup: bool = False, puid: int
) -> ServerConf:
    return ServerConf(
        Where(FILE, line),
        name,
        parse_address(f"127.0.0.1:{port}", for_bind=False),
        backup=backup,
        puid=puid,
        check=CheckConf(enabled=check),
    )


def intro_config(*, stats: StatsConf | None = None) -> Config:
    cfg = Config(files=[FILE])
    st = Proxy(Cap.LISTEN, "stats", Where(FILE, 10), mode=Mode.HTTP)
    st.binds.append(Bind(Where(FILE, 11), [parse_address("*:1080", for_bind=True)]))
    st.stats = (
        stats
        if stats is not None
        else StatsConf(
            enabled=True,
            uri="/stats",
            realm="HAProxy Stats",
            auths=[("admin", "admin")],
            refresh=30,
            where=Where(FILE, 12),
        )
    )
    fe = Proxy(
        Cap.FRONTEND, "web", Where(FILE, 20), mode=Mode.HTTP, default_backend="app", maxconn=2000
    )
    fe.binds.append(Bind(Where(FILE, 21), [parse_address("*:8080", for_bind=True)]))
    be = Proxy(
        Cap.BACKEND, "app", Where(FILE, 30), mode=Mode.HTTP, description="the application servers"
    )
    be.servers = [
        _server(31, "web1", 8001, check=True, puid=1),
        _server(32, "web2", 8002, puid=2),
        _server(33, "web3", 8003, backup=True, puid=3),
        _server(34, "web4", 8004, check=True, puid=4),
        _server(35, "web5", 8005, puid=5),
        _server(36, "web6", 8006, check=True, puid=6),
    ]
    cfg.proxies = [st, fe, be]
    cfg.frontends = {"stats": st, "web": fe}
    cfg.backends = {"stats": st, "app": be}
    return cfg


def intro_runtime() -> Runtime:
    rt = build(intro_config())
    app = rt.backends["app"]
    now = time.time()
    web1, web2, _web3, web4, web5, web6 = app.servers
    web4.state = SrvState.DOWN
    web5.state = SrvState.MAINT
    app.servers[0] = checked(web1, "L7OK", 200, 1, 4, now - (20 * 3600 + 28 * 60))
    app.servers[3] = checked(web4, "L4CON", None, 0, 0, now - 90)
    app.servers[5] = checked(web6, "L7STS", 503, 2, 2, now - 5)
    web1, web2 = app.servers[0], app.servers[1]
    web1.cur_sess, web1.max_sess, web1.tot_sess = 3, 12, 1234567
    web2.cur_sess, web2.max_sess, web2.tot_sess = 1, 4, 42
    fe = next(f for f in rt.frontends if f.name == "web")
    c = fe.counters
    c.cur_sess, c.max_sess, c.tot_sess = 4, 17, 1234609
    c.bytes_in, c.bytes_out, c.requests, c.denied, c.errors = 9876543, 123456789, 1300000, 2, 5
    app.counters.tot_sess, app.counters.max_sess = 1234609, 16
    app.counters.bytes_in, app.counters.bytes_out = 9876543, 123456789
    return rt


@contextmanager
def stats_keywords() -> Iterator[None]:
    """The `stats` keywords registered for the duration of the block, then the registry
    as it was: until `weir.keywords` imports `weir.stats.keywords`, other tests (the
    generated reference) must not see them."""
    import weir.keywords  # noqa: F401  (the project's own list of keyword modules)
    from weir.config.registry import REGISTRY

    # The registry has no removal API; tests restore its table as they found it.
    table = REGISTRY._keywords
    saved = {words: list(kws) for words, kws in table.items()}
    from weir.stats.keywords import KEYWORDS  # the first import registers them

    for kw in KEYWORDS:
        if kw not in table.get(kw.words, []):
            REGISTRY.add(kw)
    try:
        yield
    finally:
        table.clear()
        table.update(saved)
