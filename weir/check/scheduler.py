"""Running health checks: one asyncio task per check, driving its server's health.

Theory of operation
-------------------
`start_checks` compiles, once per backend, the ruleset its servers are checked with, and
for each server that has `check` or `agent-check` builds its `ServerHealth` (the state
machine, `weir.check.state`) and one `CheckTask` per check: the health check, the agent.
Every task sleeps its share of the first interval (see `weir.check.health`), then
loops: run the check (`weir.check.probe`), hand the outcome to the server's health,
sleep the interval the health counter calls for, with `spread-checks` jitter. A health
check does not run while its server is in maintenance (it wakes every `inter` to notice
the end of it); an agent check always runs, since only the agent can end a maintenance
it asked for.

The scheduler also installs the data path's hooks: `Server.observer` for `observe`, and
`Server.sessions` where `on-marked-down` / `on-marked-up` need to close sessions.

A task never blocks the loop and never dies of an error: a bug in one check is reported
and the check goes on at its next interval. `stop()` cancels every task; a check in
flight closes its socket.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import sys
import time
from collections.abc import Callable, Iterable

from weir.backend import slowstart
from weir.backend.server import Server, SrvState
from weir.check import health
from weir.check.agent import agent_ruleset
from weir.check.assemble import ruleset_of
from weir.check.engine import RunEnv
from weir.check.httpchk import DEFAULT_BUFSIZE
from weir.check.observe import Observer
from weir.check.probe import Target, connect_check, run_check
from weir.check.rules import Ruleset
from weir.check.state import ServerHealth
from weir.check.status import Verdict
from weir.check.validate import agent_port, check_port
from weir.config.address import Address, Family
from weir.config.model import CheckConf, GlobalConf, ServerConf
from weir.proxy.runtime import Backend

Say = Callable[[str, str], None]
"""Where state changes are told: (level "WARNING" | "ALERT", message without final newline)."""


def say_stderr(level: str, message: str) -> None:
    """HAProxy's stderr form: `[WARNING]  (pid) : message`."""
    tag = f"[{level}]"
    print(f"{tag:<10} ({os.getpid()}) : {message}", file=sys.stderr, flush=True)


def make_target(
    be: Backend,
    conf: ServerConf,
    bufsize: int = DEFAULT_BUFSIZE,
    *,
    ruleset: Ruleset | None = None,
    agent: bool = False,
) -> Target | None:
    """Where and how server `conf` of backend `be` is checked (its agent with `agent`);
    None when there is nothing to connect to (no port)."""
    chk = conf.check
    rules = ruleset if ruleset is not None else agent_ruleset() if agent else ruleset_of(be.conf)
    address: Address | None
    if agent:
        address = chk.agent_address or chk.address or conf.address
        port = agent_port(conf)
        inter_ms = chk.agent_inter or chk.inter
    else:
        address = chk.address or conf.address
        port = check_port(conf)
        inter_ms = chk.inter
    if address is None:
        return None
    t = be.conf.timeouts
    inter = inter_ms / 1000
    connect = min(inter_ms, t.connect) / 1000 if t.check and t.connect else inter
    read = t.check / 1000 if t.check else None
    send_proxy = chk.send_proxy and not agent
    if address.family is Family.UNIX:
        return Target(
            socket.AF_UNIX, address.host, inter, connect, read, rules, bufsize, send_proxy
        )
    if not port and (agent or not rules.has_connect_port):
        return None
    family = socket.AF_INET6 if address.family is Family.IPV6 else socket.AF_INET
    tls = conf.ssl.check_context if conf.ssl is not None and not agent else None
    sni = conf.ssl.check_sni if tls is not None else None
    return Target(
        family, (address.host, port), inter, connect, read, rules, bufsize, send_proxy, tls, sni
    )


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class CheckTask:
    """One periodic check of one server: its health check, or its agent check.

    Built from the server's backend, configuration and target, sharing the server's
    `ServerHealth` (`health_of`) when the server has several checks, with a new one
    otherwise. It runs on the loop that awaits `run()`.
    """

    __slots__ = (
        "_fut",
        "_handle",
        "_wake_at",
        "agent",
        "health",
        "loop",
        "node",
        "previous",
        "rng",
        "runs",
        "say",
        "spread",
        "target",
        "task",
        "tick",
    )

    def __init__(
        self,
        backend: Backend,
        server: Server,
        conf: ServerConf,
        target: Target,
        say: Say,
        *,
        health_of: ServerHealth | None = None,
        agent: bool = False,
        spread: int = 0,
        node: str = "",
        rng: random.Random | None = None,
    ) -> None:
        if health_of is None:
            health_of = ServerHealth(backend, server, conf, say, check=not agent, agent=agent)
        if not agent:
            health_of.expedite = self.expedite
        self.health = health_of
        self.target = target
        self.say = say
        self.agent = agent
        self.spread = spread
        self.node = node
        self.rng = rng or random.Random()
        # Wake-ups fall on a grid of `tick` seconds (0: none), set by the scheduler.
        self.tick = 0.0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.previous: Verdict | None = None
        self.runs = 0  # checks completed
        self.task: asyncio.Task[None] | None = None
        self._fut: asyncio.Future[None] | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._wake_at = 0.0

    @property
    def name(self) -> str:
        return self.health.name + (" (agent)" if self.agent else "")

    @property
    def server(self) -> Server:
        return self.health.server

    def interval_ms(self) -> int:
        """Milliseconds until the next check, from the current health and state."""
        if self.agent:
            return self.health.agent_interval_ms()
        return self.health.check_interval_ms()

    async def run(self, first_delay: float) -> None:
        self.loop = loop = asyncio.get_running_loop()
        await self._sleep(first_delay)
        h = self.health
        while True:
            if not self.agent and h.check_paused():
                await self._sleep(self.target.inter)
                continue
            try:
                target = self.target
                if target.connect_only:
                    outcome = await connect_check(loop, target)
                else:
                    outcome = await run_check(loop, target, self._env())
                self.previous = outcome.verdict
                self.runs += 1
                if self.agent:
                    h.agent_done(outcome)
                else:
                    h.check_done(outcome)
            except Exception as e:  # a bug: report it, keep checking
                self.say(
                    "ALERT",
                    f"health check of server {self.name} failed unexpectedly: "
                    f"{type(e).__name__}: {e}",
                )
            delay = health.jittered_ms(self.interval_ms(), self.spread, self.rng.random())
            await self._sleep(delay / 1000)

    def _env(self) -> RunEnv:
        h = self.health
        header = None
        if self.target.ruleset.send_state:
            node = self.node

            def header() -> str:
                return state_header(h, node)

        send = h.conf.check.agent_send if self.agent else ""
        return RunEnv(
            running=h.running,
            state_header=header,
            agent_send=send.encode("utf-8", "surrogateescape"),
            previous=self.previous,
            now=time.time(),
        )

    async def _sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._fut = fut
        at = loop.time() + seconds
        tick = self.tick
        if tick:
            # Checks due within one tick wake together: each wake-up of the loop costs
            # more than a check's own work, so a thousand checks every 2 s must not
            # wake it five hundred times a second.
            at = round(at / tick) * tick
        self._wake_at = at
        self._handle = loop.call_at(at, _wake, fut)
        try:
            await fut
        finally:
            if self._handle is not None:
                self._handle.cancel()
            self._fut = self._handle = None

    def expedite(self) -> None:
        """Run the next check within `fastinter` if it would come later (observed errors)."""
        fut = self._fut
        loop = self.loop
        fastinter = self.health.conf.check.fastinter
        if fut is None or loop is None or not fastinter:
            return
        at = loop.time() + fastinter / 1000
        if at < self._wake_at:
            if self._handle is not None:
                self._handle.cancel()
            self._wake_at = at
            self._handle = loop.call_at(at, _wake, fut)


ServerCheck = CheckTask
"""The name weir's first scheduler gave a server's check task (the runtime API uses it)."""


def state_header(h: ServerHealth, node: str) -> str:
    """The value of `X-Haproxy-Server-State` (`http-check send-state`), as HAProxy builds
    it: state and progress, address, port, name, node, weights, sessions, queue."""
    srv = h.server
    be = h.backend
    c = h.conf.check
    top = health.top(c.rise, c.fall)
    hl = srv.check_health
    if not h.check:
        state = "no check"
    elif h.running:
        word = "NOLB" if h.stopping and srv.state is SrvState.DRAIN else "UP"
        state = word if hl == top else f"{word} {hl - c.rise + 1}/{c.fall}"
    else:
        state = f"DOWN {hl}/{c.rise}" if hl else "DOWN"
    address = h.conf.address
    port = str(srv.port) if address is not None and address.family is not Family.UNIX else ""
    waiting = len(be.queue)
    text = (
        f"{state}; address={srv.host}; port={port}; name={be.name}/{srv.name}; node={node}; "
        f"weight={srv.eweight}/{be.balancer.tot_weight}; "
        f"scur={srv.cur_sess}/{be.counters.cur_sess - waiting}; qcur=0"
    )
    throttle = slowstart.throttle(srv)
    if throttle is not None:
        text += f"; throttle={throttle}%"
    return text


MAX_TICK = 0.05  # seconds


def tick_for(checks: Iterable[CheckConf]) -> float:
    """The grid check wake-ups fall on: a twentieth of the shortest interval in use, at
    most 50 ms, at least 1 ms; so a check is never more than 5% of its interval late."""
    shortest = min(
        (i for c in checks for i in (c.inter, c.fastinter, c.downinter, c.agent_inter) if i > 0),
        default=0,
    )
    if not shortest:
        return MAX_TICK
    return max(0.001, min(MAX_TICK, shortest / 1000 / 20))


class CheckScheduler:
    """Every health check of a runtime, started together and stopped together."""

    __slots__ = ("checks", "healths", "loop", "max_spread")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        checks: list[CheckTask],
        healths: list[ServerHealth] | None = None,
        max_spread: int = 0,
    ) -> None:
        self.loop = loop
        self.checks = checks
        self.healths = healths or []
        self.max_spread = max_spread

    def start(self) -> None:
        delays = health.first_delays_ms([c.interval_ms() for c in self.checks], self.max_spread)
        tick = tick_for(c.health.conf.check for c in self.checks)
        for check, delay in zip(self.checks, delays, strict=True):
            check.tick = tick
            check.task = self.loop.create_task(check.run(delay / 1000), name=f"check {check.name}")

    def stop(self) -> None:
        """Cancel every check (a check in flight closes its socket)."""
        for check in self.checks:
            if check.task is not None:
                check.task.cancel()

    async def wait_stopped(self) -> None:
        """Wait until every cancelled check has ended."""
        tasks = [c.task for c in self.checks if c.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def start_checks(
    loop: asyncio.AbstractEventLoop,
    backends: Iterable[Backend],
    *,
    say: Say | None = None,
    bufsize: int = DEFAULT_BUFSIZE,
    glob: GlobalConf | None = None,
    probe: bool = True,
) -> CheckScheduler:
    """Start the health and agent checks of every server of `backends` that has them.

    `say` receives state-change lines (default: stderr in HAProxy's form); `bufsize`
    bounds what is read of an answer (`tune.bufsize`); `glob` brings `spread-checks`,
    `max-spread-checks` and `node` (the send-state header's node name). Without `probe`
    nothing is probed: the servers' health follows the outcomes given to their
    ServerHealth (another worker's, see weir/peers/engine.py), silently.
    """
    tell = (say or say_stderr) if probe else (lambda level, message: None)
    g = glob or GlobalConf()
    node = g.node or socket.gethostname()
    checks: list[CheckTask] = []
    healths: list[ServerHealth] = []
    for be in backends:
        confs = be.conf.servers
        rules = ruleset_of(be.conf) if any(c.check.enabled for c in confs) else None
        agents = agent_ruleset() if any(c.check.agent for c in confs) else None
        for srv, conf in zip(be.servers, confs, strict=True):
            tasks = _server_checks(be, srv, conf, tell, (rules, agents), bufsize, g, node)
            if tasks:
                healths.append(tasks[0].health)
                checks.extend(tasks)
        if any(c.check.on_marked_up for c in confs):
            for srv in be.servers:
                if srv.backup and srv.sessions is None:
                    srv.sessions = set()
    scheduler = CheckScheduler(loop, checks if probe else [], healths, g.max_spread_checks)
    scheduler.start()
    return scheduler


def _server_checks(  # noqa: PLR0917
    be: Backend,
    srv: Server,
    conf: ServerConf,
    tell: Say,
    rulesets: tuple[Ruleset | None, Ruleset | None],
    bufsize: int,
    g: GlobalConf,
    node: str,
) -> list[CheckTask]:
    """The check tasks of one server (health check first, then agent), hooks installed."""
    c = conf.check
    rules, agents = rulesets
    target = agent_target = None
    if c.enabled and rules is not None:
        target = make_target(be, conf, bufsize, ruleset=rules)
        if target is None:
            tell(
                "WARNING",
                f"server {be.name}/{srv.name} has neither a service port nor "
                "a check port: it is not checked",
            )
    if c.agent and agents is not None:
        agent_target = make_target(be, conf, bufsize, ruleset=agents, agent=True)
        if agent_target is None:
            tell(
                "WARNING",
                f"server {be.name}/{srv.name} does not have agent port: "
                "its agent check does not run",
            )
    if target is None and agent_target is None:
        return []
    h = ServerHealth(be, srv, conf, tell, check=target is not None, agent=agent_target is not None)
    tasks: list[CheckTask] = []
    if target is not None:
        tasks.append(
            CheckTask(be, srv, conf, target, tell, health_of=h, spread=g.spread_checks, node=node)
        )
        if c.observe:
            observer = Observer(h, layer7=c.observe == "layer7", limit=c.error_limit)
            h.observer = observer
            srv.observer = observer
    if agent_target is not None:
        tasks.append(
            CheckTask(
                be, srv, conf, agent_target, tell, health_of=h, agent=True, spread=g.spread_checks
            )
        )
    if c.on_marked_down and srv.sessions is None:
        srv.sessions = set()
    return tasks


__all__ = [
    "CheckScheduler",
    "CheckTask",
    "Say",
    "ServerCheck",
    "make_target",
    "start_checks",
    "state_header",
]
