"""Running health checks: one asyncio task per checked server, driving its state.

Theory of operation
-------------------
`start_checks` compiles, once, where and how each checked server is probed (a `Target`:
address, timeouts, the HTTP probe if `option httpchk`) and starts one task per server.
Each task sleeps its share of the first interval (see `weir.check.health`), then loops:
probe, record the outcome, sleep the interval the health counter calls for. A server in
maintenance is not probed; its task wakes every `inter` to notice when it leaves.

A probe is one non-blocking connection with a deadline at every step, so a check never
holds more than one socket and never outlives its timeouts; it never touches traffic.
Timeouts follow HAProxy 2.6: without `timeout check`, the whole check must end within
`inter` of its start; with it, the connection gets min(`timeout connect`, `inter`) (just
`inter` when `timeout connect` is unset) and the exchange, from the moment the connection
is up, gets `timeout check`. The socket closes with a reset (SO_LINGER 0), as HAProxy's
checks do, so checks leave no TIME_WAIT behind.

Recording an outcome updates the server's check fields (what stats show), moves the
health counter, and on a change of state sets `Server.state`, tells the balancer, and
prints HAProxy's line for it (see `weir.check.report`). An unexpected error in a check
is reported and the check goes on at its next interval; it never ends the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from weir.backend.server import Server, SrvState
from weir.check import health
from weir.check.httpchk import DEFAULT_BUFSIZE, HttpProbe
from weir.check.report import down_message, no_server_message, up_message
from weir.check.status import DESC_MAX, CheckStatus, Outcome, Result, Verdict
from weir.check.validate import check_port
from weir.config.address import Family
from weir.config.model import Cap, ServerConf
from weir.proxy.runtime import Backend

Say = Callable[[str, str], None]
"""Where state changes are told: (level "WARNING" | "ALERT", message without final newline)."""

_LINGER_RESET = struct.pack("ii", 1, 0)


def say_stderr(level: str, message: str) -> None:
    """HAProxy's stderr form: `[WARNING]  (pid) : message`."""
    tag = f"[{level}]"
    print(f"{tag:<10} ({os.getpid()}) : {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how one server is checked; everything in seconds except counts."""

    family: socket.AddressFamily
    address: tuple[str, int] | str
    inter: float
    connect_timeout: float
    read_timeout: float | None  # None: the whole check is bounded by `inter`
    probe: HttpProbe | None  # None: a connection is the whole check


def make_target(be: Backend, conf: ServerConf, bufsize: int = DEFAULT_BUFSIZE) -> Target | None:
    """The check target of server `conf` of backend `be`; None when it has no port."""
    chk = conf.check
    addr = chk.address or conf.address
    if addr is None:
        return None
    inter = chk.inter / 1000
    t = be.conf.timeouts
    connect = min(chk.inter, t.connect) / 1000 if t.check and t.connect else inter
    read = t.check / 1000 if t.check else None
    probe = HttpProbe(be.conf.httpchk, bufsize) if be.conf.httpchk is not None else None
    if addr.family is Family.UNIX:
        return Target(socket.AF_UNIX, addr.host, inter, connect, read, probe)
    port = check_port(conf)
    if not port:
        return None
    family = socket.AF_INET6 if addr.family is Family.IPV6 else socket.AF_INET
    return Target(family, (addr.host, port), inter, connect, read, probe)


def _strerror(e: OSError) -> str:
    if e.errno is not None:
        return os.strerror(e.errno)
    return str(e) or type(e).__name__


class ServerCheck:
    """The health check of one server: its probe, its state machine, its task."""

    __slots__ = ("backend", "conf", "paused", "say", "server", "target", "task")

    def __init__(
        self, backend: Backend, server: Server, conf: ServerConf, target: Target, say: Say
    ) -> None:
        self.backend = backend
        self.server = server
        self.conf = conf
        self.target = target
        self.say = say
        self.task: asyncio.Task[None] | None = None
        self.paused = server.state is SrvState.MAINT
        server.check_status = CheckStatus.INI.value
        server.check_health = health.initial_health(conf.check.rise, conf.check.fall, self.paused)

    @property
    def name(self) -> str:
        return f"{self.backend.name}/{self.server.name}"

    def interval_ms(self) -> int:
        """Milliseconds until the next check, from the current health and state."""
        c = self.conf.check
        down = self.server.state in (SrvState.DOWN, SrvState.MAINT)
        return health.interval_ms(
            self.server.check_health, c.rise, c.fall, down, c.inter, c.fastinter, c.downinter
        )

    def interval(self) -> float:
        return self.interval_ms() / 1000

    async def run(self, first_delay: float) -> None:
        await asyncio.sleep(first_delay)
        while True:
            srv = self.server
            if srv.state is SrvState.MAINT:
                self.paused = True
                srv.check_health = 0
                await asyncio.sleep(self.target.inter)
                continue
            if self.paused:  # out of maintenance: up, but to be confirmed at once
                self.paused = False
                srv.check_health = self.conf.check.rise
            try:
                self.record(await self.probe())
            except Exception as e:  # a bug: report it, keep checking
                self.say(
                    "ALERT",
                    f"health check of server {self.name} failed unexpectedly: "
                    f"{type(e).__name__}: {e}",
                )
            await asyncio.sleep(self.interval())

    # -- one probe ---------------------------------------------------------------------------

    async def probe(self) -> Outcome:
        """Run one check now; never raises for anything the network does."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        verdict = await self._probe(loop, start)
        return Outcome(verdict, int((loop.time() - start) * 1000))

    async def _probe(self, loop: asyncio.AbstractEventLoop, start: float) -> Verdict:
        t = self.target
        try:
            sock = socket.socket(t.family, socket.SOCK_STREAM)
        except OSError as e:
            return Verdict(CheckStatus.SOCKERR, None, _strerror(e))
        try:
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            try:
                async with asyncio.timeout_at(start + t.connect_timeout):
                    await loop.sock_connect(sock, t.address)
            except TimeoutError:
                return Verdict(CheckStatus.L4TOUT)
            except OSError as e:
                return Verdict(CheckStatus.L4CON, None, _strerror(e))
            if t.probe is None:
                return Verdict(CheckStatus.L4OK)
            deadline = (
                loop.time() + t.read_timeout if t.read_timeout is not None else start + t.inter
            )
            try:
                async with asyncio.timeout_at(deadline):
                    return await _exchange(loop, sock, t.probe)
            except TimeoutError:
                return Verdict(CheckStatus.L7TOUT)
        finally:
            sock.close()

    # -- state machine -----------------------------------------------------------------------

    def record(self, outcome: Outcome) -> None:
        """Apply one check's outcome: check fields, health counter, and state changes."""
        srv = self.server
        c = self.conf.check
        v = outcome.verdict
        srv.check_status = v.status.value
        srv.check_code = v.code if v.status.has_code else None
        srv.check_desc = v.desc[:DESC_MAX]
        srv.check_duration_ms = outcome.duration_ms
        passed = v.status.result is Result.PASSED
        before = srv.check_health
        if not passed and health.counts_as_failure(before):
            srv.chkfail += 1
        srv.check_health = health.after_check(before, c.rise, c.fall, passed)
        if srv.state is SrvState.MAINT:
            return
        if not passed and srv.check_health == 0 and srv.state is not SrvState.DOWN:
            self._set_down(outcome)
        elif passed and health.is_up(srv.check_health, c.rise) and srv.state is SrvState.DOWN:
            self._set_up(outcome)

    def _usable(self) -> tuple[int, int]:
        servers = self.backend.servers
        return (
            sum(1 for s in servers if s.usable and not s.backup),
            sum(1 for s in servers if s.usable and s.backup),
        )

    def _set_down(self, outcome: Outcome) -> None:
        be, srv = self.backend, self.server
        had_any = any(self._usable())
        srv.state = SrvState.DOWN
        srv.last_change = time.time()
        srv.chkdown += 1
        be.balancer.server_down(srv)
        active, backups = self._usable()
        self.say(
            "WARNING",
            down_message(be.name, srv.name, srv.backup, outcome, active, backups, srv.cur_sess),
        )
        if had_any and not (active or backups):
            kind = "proxy" if be.conf.cap is Cap.LISTEN else "backend"
            self.say("ALERT", no_server_message(kind, be.name))

    def _set_up(self, outcome: Outcome) -> None:
        be, srv = self.backend, self.server
        now = time.time()
        srv.add_downtime(now - srv.last_change)
        srv.state = SrvState.UP
        srv.last_change = now
        be.balancer.server_up(srv)
        requeued = _serve_queue(be)
        active, backups = self._usable()
        self.say(
            "WARNING", up_message(be.name, srv.name, srv.backup, outcome, active, backups, requeued)
        )


async def _exchange(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, probe: HttpProbe
) -> Verdict:
    """Send the check request and read until the response can be judged."""
    try:
        await loop.sock_sendall(sock, probe.request)
    except OSError as e:
        return Verdict(CheckStatus.SOCKERR, None, _strerror(e))
    buf = bytearray()
    while True:
        try:
            data = await loop.sock_recv(sock, probe.bufsize - len(buf))
        except OSError as e:
            # An error after some bytes (often a reset right after the response) leaves
            # the bytes to be judged, as HAProxy does; with none, the error is the verdict.
            if not buf:
                return Verdict(CheckStatus.SOCKERR, None, _strerror(e))
            data = b""
        buf += data
        final = not data or len(buf) >= probe.bufsize
        verdict = probe.judge(bytes(buf), final)
        if verdict is not None:
            return verdict
        if final:  # judge always concludes on final input; keep a bound regardless
            return Verdict(CheckStatus.L7RSP)


def _serve_queue(be: Backend) -> int:
    """Hand waiting requests to servers with free slots (a server just came up).
    Returns how many were taken; bounded by the queue's length on entry."""
    taken = 0
    for _ in range(len(be.queue)):
        if not be.queue:
            break
        srv = be.pick()
        if srv is None:
            break
        if be.queue.popleft()(srv):
            taken += 1
    return taken


class CheckScheduler:
    """Every health check of a runtime, started together and stopped together."""

    __slots__ = ("checks", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, checks: list[ServerCheck]) -> None:
        self.loop = loop
        self.checks = checks

    def start(self) -> None:
        delays = health.first_delays_ms([c.interval_ms() for c in self.checks])
        for check, delay in zip(self.checks, delays, strict=True):
            check.task = self.loop.create_task(check.run(delay / 1000), name=f"check {check.name}")

    def stop(self) -> None:
        """Cancel every check (a probe in flight closes its socket)."""
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
) -> CheckScheduler:
    """Start the health checks of every server with `check` in `backends`.

    `say` receives state-change lines (default: stderr in HAProxy's form); `bufsize` bounds
    what is read of a check's response (the global `tune.bufsize`).
    """
    tell = say or say_stderr
    checks: list[ServerCheck] = []
    for be in backends:
        for srv, conf in zip(be.servers, be.conf.servers, strict=True):
            if not conf.check.enabled:
                continue
            target = make_target(be, conf, bufsize)
            if target is None:
                tell(
                    "WARNING",
                    f"server {be.name}/{srv.name} has neither a service port nor "
                    "a check port: it is not checked",
                )
                continue
            checks.append(ServerCheck(be, srv, conf, target, tell))
    scheduler = CheckScheduler(loop, checks)
    scheduler.start()
    return scheduler
