"""Running a loaded configuration: bind, detach, serve, stop on a signal, hand over.

Theory of operation
-------------------
Start-up follows HAProxy's order. The file-descriptor limit is set, then every listener
is bound (so that a taken port fails in the foreground, with a message) — or taken from
the old process being replaced (`-sf`/`-st`/`-x`, see weir.process.handover). Then the
process detaches if asked (`-D`/`daemon`; the foreground parent exits only once start-up
has succeeded and writes the pidfile), and either serves by itself or, with
`master-worker`/`-W` or `nbthread` > 1, becomes the master of worker processes (see
weir.process.master). Each serving process builds its runtime, enters its `chroot`,
drops privileges, and serves with one event loop (`serve_worker`).

Signals of a serving process, as HAProxy's:
- SIGTERM, SIGINT: stop now, exit 0.
- SIGUSR1: soft stop. After `grace`, the listeners close and the connections left are
  finished: a TCP session runs to its end; an HTTP connection ends after its next response,
  which says `Connection: close` (weir.net.listener.SoftStop has the session's side). The
  process exits once no connection remains, or at `hard-stop-after`.
- SIGTTOU / SIGTTIN: stop listening (the address stays bound, so that another process may
  bind it) / listen again.
- SIGHUP: print the state of every server (stderr, and the proxies' logs).
- SIGUSR2: ignored here (a master's reload signal).

A seamless reload with `-sf OLD`: the new process takes OLD's listening sockets, serves
them, and only then sends SIGUSR1 to OLD (SIGTERM with `-st`). If no socket can be handed
over and a port is still taken, OLD is paused with SIGTTOU while the new process binds,
and resumed with SIGTTIN if it still cannot. A configuration that does not load never
gets this far, so the running process stays in service.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import random
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO, cast

from weir.config.model import Config, Mode
from weir.net.listener import SOFT_STOP, BindError, InheritedSockets, ProtocolFactory
from weir.net.loop import new_loop
from weir.process import handover
from weir.process.conf import ProcessGlobal, process_conf
from weir.process.listeners import BoundListener, Served, bind_listeners, close_all, count_binds
from weir.process.system import (
    Detached,
    Reporter,
    StartupError,
    apply_cpu_map,
    apply_fd_limit,
    daemonize,
    drop_privileges,
    enter_chroot,
    preload_modules,
    remove_pidfile,
    sd_notify,
    set_name,
    write_pidfile,
)
from weir.proxy.runtime import Runtime, build


@dataclass(slots=True)
class RunOptions:
    daemon: bool = False
    foreground: bool = False  # -db / -d: never detach
    pidfile: str | None = None
    debug: bool = False
    quiet: bool = False
    err: TextIO = field(default_factory=lambda: sys.stderr)
    files: list[str] = field(default_factory=list)  # what a master re-reads on reload
    master_worker: bool = False  # -W
    systemd: bool = False  # -Ws: master-worker, systemd's notify protocol, no detaching
    old_pids: list[int] = field(default_factory=list)  # -sf / -st
    terminate_old: bool = False  # -st: SIGTERM instead of SIGUSR1
    fetch_path: str | None = None  # -x; "/dev/null": fetch nothing
    master_cli: list[str] = field(default_factory=list)  # -S specs


@dataclass(slots=True)
class ServiceSockets:
    """Listening sockets of the services that run beside the proxies (the runtime API's
    `stats socket` lines), bound together with the proxies' listeners: before privileges
    are dropped and, with workers, by the master, which hands them to each generation.
    `bind_services` fills it; the services block of `_serve` starts what uses them."""

    api: list[tuple[Any, socket.socket]] = field(default_factory=list)

    def sockets(self) -> list[socket.socket]:
        return [sock for _, sock in self.api]

    def close(self) -> None:
        for sock in self.sockets():
            sock.close()


def bind_services(cfg: Config) -> ServiceSockets:
    """The service sockets of `cfg`; raises BindError (having closed what it opened)."""
    from weir.api import bind_api

    return ServiceSockets(api=list(bind_api(cfg)))


# Signals held from the start until the serving code has its handlers: one that arrives
# during start-up is then handled, not fatal.
SIGNALS = frozenset(
    {
        signal.SIGTERM,
        signal.SIGINT,
        signal.SIGUSR1,
        signal.SIGUSR2,
        signal.SIGHUP,
        signal.SIGTTOU,
        signal.SIGTTIN,
    }
)
_POLL = 0.05  # seconds between two looks at the connection count during a soft stop


def run(cfg: Config, opts: RunOptions) -> int:
    """Serve `cfg` until stopped; returns the process exit status."""
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    # Named before anything listens: a check that sees the port open finds `weir` too.
    set_name("weir")
    say = Reporter(opts.quiet, opts.err)
    g = cfg.global_
    pg = process_conf(cfg)
    supervised = opts.master_worker or opts.systemd or pg.master_worker or g.nbthread > 1
    try:
        apply_fd_limit(cfg, count_binds(cfg), say)
        listeners = bind_phase(cfg, opts, say)
    except StartupError as e:
        say("ALERT", str(e))
        return 1
    except BindError as e:
        say("ALERT", f"Starting proxies: {e}")
        return 1
    try:
        services = bind_services(cfg)
    except BindError as e:
        close_all(listeners)
        say("ALERT", f"Starting services: {e}")
        return 1
    if not listeners and not opts.quiet:
        say("WARNING", "no listener is configured: nothing will be served")
    pidfile = opts.pidfile or g.pidfile
    detach = (opts.daemon or g.daemon) and not opts.foreground and not opts.systemd
    detached = Detached(-1)
    try:
        if detach:
            detached = daemonize(pidfile, say)
        elif pidfile:
            write_pidfile(pidfile, [os.getpid()])
    except StartupError as e:
        close_all(listeners)
        services.close()
        say("ALERT", str(e))
        return 1
    try:
        if supervised:
            from weir.process.master import Master

            return Master(cfg, listeners, services, opts=opts, say=say, detached=detached).run()
        return _run_alone(cfg, listeners, services, opts=opts, say=say, detached=detached)
    finally:
        if pidfile:
            remove_pidfile(pidfile, os.getpid())


def bind_phase(cfg: Config, opts: RunOptions, say: Reporter) -> list[BoundListener]:
    """Every listener of `cfg`: handed over by the old processes when they can, bound
    otherwise; with -sf/-st, a port still taken pauses the old processes (SIGTTOU) for
    another try, and resumes them (SIGTTIN) when that fails too."""
    pool = InheritedSockets(fetch_old_sockets(opts, say))
    reuseport = not process_conf(cfg).noreuseport
    try:
        try:
            return bind_listeners(cfg, inherited=pool, reuseport=reuseport)
        except BindError:
            if not opts.old_pids:
                raise
        _signal_all(opts.old_pids, signal.SIGTTOU)
        deadline = time.monotonic() + 1.0
        while True:
            time.sleep(0.02)  # let the old processes act on SIGTTOU
            try:
                return bind_listeners(cfg, inherited=pool, reuseport=reuseport)
            except BindError:
                if time.monotonic() >= deadline:
                    _signal_all(opts.old_pids, signal.SIGTTIN)
                    raise
    finally:
        pool.close_rest()


def fetch_old_sockets(opts: RunOptions, say: Reporter) -> list[socket.socket]:
    """The listening sockets of the processes being replaced: from `-x PATH` when given
    (failure is fatal there, as in HAProxy), else from each -sf/-st pid that offers them."""
    if opts.fetch_path == "/dev/null":
        return []
    if opts.fetch_path is not None:
        try:
            return handover.fetch_from_path(opts.fetch_path)
        except handover.HandoverError as e:
            raise StartupError(f"failed to get the sockets from the old process: {e}") from None
    out: list[socket.socket] = []
    for pid in opts.old_pids:
        try:
            got = handover.fetch_from_pid(pid)
        except handover.HandoverError as e:
            say("WARNING", f"{e}; binding anew instead")
            continue
        if got:
            out.extend(got)
    return out


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def signal_old(opts: RunOptions) -> None:
    """The new process is serving: tell the processes it replaces to leave."""
    _signal_all(opts.old_pids, signal.SIGTERM if opts.terminate_old else signal.SIGUSR1)


# --------------------------------------------------------------------------- one process


def _run_alone(
    cfg: Config,
    listeners: list[BoundListener],
    services: ServiceSockets,
    *,
    opts: RunOptions,
    say: Reporter,
    detached: Detached,
) -> int:
    """The whole proxy in this one process (no master)."""
    exporter: handover.Exporter | None = None
    try:
        exporter = handover.Exporter(lambda: [bl.sock for bl in listeners], say=say)
    except OSError as e:
        say("WARNING", f"cannot offer the listening sockets to a successor: {e.strerror}")
    handover.set_current(lambda: [bl.sock for bl in listeners])

    def ready() -> None:
        signal_old(opts)
        if opts.systemd:
            sd_notify("READY=1")
        detached.ready()

    apply_cpu_map(cfg, 1, say)
    link = WorkerLink(
        number=1,
        on_ready=ready,
        exporter=exporter,
        services=services,
        debug=opts.debug,
        old_pids=list(opts.old_pids),
    )
    try:
        return serve_worker(cfg, listeners, say, link)
    finally:
        if exporter is not None:
            exporter.close()
        handover.set_current(None)


@dataclass(slots=True)
class WorkerLink:
    """What a serving process knows of its surroundings."""

    number: int = 1  # worker number from 1 (HAProxy's thread number)
    on_ready: Callable[[], None] = lambda: None  # called once, when serving
    exporter: handover.Exporter | None = None  # offers the sockets to a successor
    master_fd: int = -1  # read end of the master's liveness pipe (-1: no master)
    services: ServiceSockets = field(default_factory=ServiceSockets)
    debug: bool = False
    # The older processes this one replaces (same slot): they hand over their stick tables.
    old_pids: list[int] = field(default_factory=list)
    # With several workers: how many, and the name their shared stick tables meet under
    # (the master's pid and the generation).
    workers: int = 1
    mesh: str = ""


def serve_worker(
    cfg: Config, listeners: list[BoundListener], say: Reporter, link: WorkerLink
) -> int:
    """Build the runtime, confine and de-privilege the process, and serve until stopped.
    Returns the exit status."""
    try:
        rt = build(cfg)
        pg = process_conf(cfg)
        if pg.chroot:
            preload_modules(say)
            enter_chroot(pg.chroot)
        drop_privileges(cfg)
    except StartupError as e:
        say("ALERT", str(e))
        close_all(listeners)
        link.services.close()
        return 1
    loop = new_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_serve(loop, rt, listeners, say, link))
    finally:
        _cancel_pending(loop)
        loop.close()


def _cancel_pending(loop: asyncio.AbstractEventLoop) -> None:
    """Connection attempts still running at stop are cancelled and awaited, so that
    nothing is left half-done (nor reported as an unretrieved exception)."""
    loop.run_until_complete(asyncio.sleep(0))  # run callbacks already due (finished connects)
    pending = asyncio.all_tasks(loop)
    for t in pending:
        t.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


async def _serve(
    loop: asyncio.AbstractEventLoop,
    rt: Runtime,
    listeners: list[BoundListener],
    say: Reporter,
    link: WorkerLink,
) -> int:
    from weir.http.session import HttpClient
    from weir.tcp.session import TcpClient

    g = rt.config.global_
    from weir.tcp import splice

    splice.POOL.warn = lambda message: say("WARNING", message)
    frontends = {id(fe.conf): fe for fe in rt.frontends}
    served: list[Served] = []
    for bl in listeners:
        fe = frontends[id(bl.px)]
        http = functools.partial(HttpClient, fe, loop, g.tune_bufsize, g.tune_maxhdr)
        factory: ProtocolFactory
        if fe.mode is Mode.HTTP:
            factory = functools.partial(http, proxied=bl.accept_proxy)
        else:
            # A mode tcp session may upgrade to HTTP (`switch-mode http`, or a backend in
            # mode http): it then goes on as a new HTTP client session.
            factory = functools.partial(TcpClient, fe, loop, proxied=bl.accept_proxy, upgrade=http)
        sv = Served(fe, bl.sock, factory, bl.backlog, bl.tls)
        await sv.start(loop)
        served.append(sv)

    # ---- Services beside the proxies start here: the listeners are bound and served, the
    # runtime is built, and no connection has been handled yet. Their own listening
    # sockets, bound before privileges were dropped, are in `link.services` (see
    # `bind_services`); `served` are the proxies' listeners (Served has the attributes of
    # the runtime API's ListenerHandle).
    from weir.check import start_checks

    # With several workers the first one probes; the others follow its outcomes (below).
    probing = link.workers <= 1 or link.number == 1
    checks = start_checks(
        loop, rt.backends.values(), say=say, bufsize=g.tune_bufsize, glob=g, probe=probing
    )
    from weir.backend.serverstate import apply_server_state

    apply_server_state(rt, say)  # after the checks set their initial health, which it may lower
    from weir.api import start_api

    # Always started, even without a `stats socket`: the stats page's admin form uses the
    # same controls (checks, listeners).
    api = start_api(
        loop,
        rt,
        rt.config,
        bound=link.services.api,
        checks=checks,
        listeners=cast(Any, served),  # Served has ListenerHandle's attributes
        say=say,
    )
    from weir.dns import start_resolvers, stop_resolvers

    resolvers = await start_resolvers(loop, rt, say)  # every worker resolves on its own
    from weir.peers import start_handover, start_mesh, start_peers

    # Stick-table replication runs in the first worker only (docs/peers.md); the tables it
    # does not cover pass from the old process to this one on reload.
    peers: list[Any] = (
        await start_peers(loop, rt.config.peers, say, reloaded=bool(link.old_pids))
        if link.number == 1
        else []
    )
    handover = await start_handover(loop, say, old_pids=link.old_pids)
    if handover is not None:
        peers.append(handover)
    mesh = await start_mesh(loop, say, mesh=link.mesh, slot=link.number, workers=link.workers)
    if mesh is not None:
        mesh.share_checks(checks.healths, probing=probing)
        mesh.counters = _own_counters(rt)
        if api is not None:
            _share_commands(mesh, api.api)
        peers.append(mesh)
    # The master CLI's `@N <command>` relays (master-worker mode).
    relay = await _worker_cli(rt, api, say) if link.master_fd >= 0 else None
    # ---- (end of services)

    # What exists now (configuration, runtime, compiled rules) lives as long as the
    # process: the cyclic collector need not walk it again. Each request makes a few
    # dozen objects, so the youngest generation is collected every 10,000 allocations
    # rather than Python's default 700.
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)

    stopper = Stopper(loop, rt, served=served, listeners=listeners, say=say, link=link)
    for p in peers:
        stopper.on_soft_stop.append(p.soft_stop)
        stopper.holds.append(p.busy)
    stopper.install()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
    if link.debug:
        for fe in rt.frontends:
            say("NOTICE", f"proxy '{fe.name}' started ({fe.mode})")
    link.on_ready()
    status = await stopper.wait()

    # ---- Shutdown: listeners, then services, then logs.
    stopper.uninstall()
    if api is not None:
        api.close()
    for p in peers:
        p.close()
    if relay is not None:
        relay.close()
    stop_resolvers(rt, resolvers)
    checks.stop()
    await checks.wait_stopped()
    rt.log_hub.close()
    return status


def _share_commands(mesh: Any, api: Any) -> None:
    """Runtime API commands that change shared state reach every worker (see
    weir.api.commands.FORWARDED); those another worker forwards run here as admin."""
    from weir.api.commands import FORWARD, Request, Session, run
    from weir.api.conf import Level

    FORWARD.append(mesh.forward_command)

    def run_forwarded(line: str, payload: str | None) -> None:
        with contextlib.suppress(Exception):  # an error there was answered where it came
            run(Request(api, Session(Level.ADMIN, forwarded=True), payload), line)

    mesh.run_command = run_forwarded


async def _worker_cli(rt: Runtime, api: Any, say: Reporter) -> asyncio.AbstractServer | None:
    """This worker's runtime API for the master CLI's `@N <command>` relays, on an
    abstract unix socket named after its pid (only the same user may connect). The
    master sends the level of its own connection, then the command lines."""
    from weir.api.commands import Request, Session, run
    from weir.api.conf import Level
    from weir.api.server import serve_in_process
    from weir.peers.engine import _listen_unix, _same_user
    from weir.process.mcli import worker_cli_socket

    levels = {"user": Level.USER, "operator": Level.OPERATOR, "admin": Level.ADMIN}

    async def relayed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if not _same_user(writer):
                return
            level = levels.get((await reader.readline()).decode().strip(), Level.USER)
            base = serve_in_process(rt, level=level) if api is None else None
            while line := (await reader.readline()).decode(errors="replace").strip():
                req = base or Request(api.api, Session(level))
                try:
                    answer = run(req, line)
                except Exception as e:  # a bug: answered, as the stats socket does
                    answer = f"Internal error: {type(e).__name__}: {e}\n"
                writer.write((answer + "\n").encode())
            await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    try:
        return await _listen_unix(worker_cli_socket(os.getpid()), relayed)
    except OSError as e:
        say("WARNING", f"the master CLI cannot relay commands to this worker: {e.strerror}")
        return None


def _own_counters(rt: Runtime) -> Callable[[], list[Any]]:
    """This worker's own statistics counters, for the other workers to add to theirs."""
    from weir.stats.fields import INFO_ADDED, Clock, Filter, collect, counters_snapshot
    from weir.stats.info import info_values

    wall, mono = time.time(), time.monotonic()

    def counters() -> list[Any]:
        clock = Clock.now(wall, mono)
        rows = counters_snapshot(collect(rt, clock, Filter(), siblings=False))
        info = info_values(rt, clock, siblings=False)
        rows.append(["", "#info", {k: info[k] for k in INFO_ADDED}])
        return rows

    return counters


class Stopper:
    """The serving process's signals and its soft stop (see the module's docstring)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        rt: Runtime,
        *,
        served: list[Served],
        listeners: list[BoundListener],
        say: Reporter,
        link: WorkerLink,
    ) -> None:
        self.loop = loop
        self.rt = rt
        self.served = served
        self.listeners = listeners
        self.say = say
        self.link = link
        self.pg: ProcessGlobal = process_conf(rt.config)
        self.done = asyncio.Event()
        self.soft = False  # a soft stop is under way
        self.unbound = False
        self._timers: list[asyncio.TimerHandle] = []
        # Services told of a soft stop, and services that hold the process while busy
        # (bounded by their own deadlines and by hard-stop-after).
        self.on_soft_stop: list[Callable[[], None]] = []
        self.holds: list[Callable[[], bool]] = []

    # -- wiring ------------------------------------------------------------------------

    def install(self) -> None:
        add = self.loop.add_signal_handler
        add(signal.SIGTERM, self.hard_stop)
        add(signal.SIGINT, self.hard_stop)
        add(signal.SIGUSR1, self.soft_stop)
        add(signal.SIGTTOU, self.pause)
        add(signal.SIGTTIN, self.resume)
        add(signal.SIGHUP, self.dump_state)
        add(signal.SIGUSR2, lambda: None)
        if self.link.master_fd >= 0:
            self.loop.add_reader(self.link.master_fd, self._master_gone)
        if self.link.exporter is not None:
            self.loop.add_reader(self.link.exporter.fileno(), self.link.exporter.on_readable)

    def uninstall(self) -> None:
        for t in self._timers:
            t.cancel()
        self._unbind(quiet=True)
        if self.link.master_fd >= 0:
            with contextlib.suppress(ValueError, OSError):
                self.loop.remove_reader(self.link.master_fd)
            with contextlib.suppress(OSError):
                os.close(self.link.master_fd)
            self.link.master_fd = -1

    async def wait(self) -> int:
        await self.done.wait()
        return 0

    # -- stops -------------------------------------------------------------------------

    def hard_stop(self) -> None:
        self.done.set()

    def soft_stop(self) -> None:
        if self.soft:
            return
        self.soft = True
        SOFT_STOP.stopping = True
        for fn in self.on_soft_stop:
            fn()
        pg = self.pg
        if pg.hard_stop_after is not None:
            self._later(pg.hard_stop_after / 1000, self._too_long)
        if pg.grace:
            self._later(pg.grace / 1000, self._drain)
        else:
            self._drain()

    def _later(self, delay: float, fn: Callable[[], None]) -> None:
        self._timers.append(self.loop.call_later(delay, fn))

    def _too_long(self) -> None:
        self.say("WARNING", "soft-stop running for too long, performing a hard-stop.")
        self.done.set()

    def _drain(self) -> None:
        """Stop accepting; finish the connections left, then stop."""
        if self.done.is_set():
            return
        self._unbind()
        pg = self.pg
        SOFT_STOP.begin_drain(close_responses=not pg.close_spread_infinite)
        if pg.close_spread_time is not None:
            window = pg.close_spread_time / 1000
            if window <= 0:
                SOFT_STOP.close_idle()
            else:
                for s in list(SOFT_STOP.sessions):
                    self._later(random.uniform(0, window), s.stop_idle)
        # Not at once: a connection accepted just before the listeners closed is announced
        # to its protocol (connection_made) by a callback already queued; it must be
        # counted before "no connection left" can be true.
        self._later(_POLL, self._check_drained)

    def _check_drained(self) -> None:
        # Polling a counter is simpler than an event per connection end and costs
        # nothing on the data path.
        if self.done.is_set():
            return
        if not any(fe.counters.cur_sess > 0 for fe in self.rt.frontends) and not any(
            busy() for busy in self.holds
        ):
            self.done.set()
            return
        self._later(_POLL, self._check_drained)

    def _unbind(self, *, quiet: bool = False) -> None:
        """Close the listeners (the asyncio servers and the kept sockets) once."""
        if self.unbound:
            return
        self.unbound = True
        for sv in self.served:
            sv.stop()
        exporter = self.link.exporter
        if exporter is not None:
            with contextlib.suppress(ValueError, OSError):
                self.loop.remove_reader(exporter.fileno())
            exporter.close()
            self.link.exporter = None
        handover.set_current(None)
        close_all(self.listeners)
        if not quiet:
            self._report_stopped()

    def _report_stopped(self) -> None:
        from weir.log import stopped_line
        from weir.log.syslog import Level

        seen: set[int] = set()
        for fe in self.rt.frontends:
            be = self.rt.backends.get(fe.name)
            own = be if be is not None and be.conf is fe.conf else None
            line = stopped_line(fe.name, fe.counters.tot_sess, own.counters.tot_sess if own else 0)
            seen.add(id(fe.conf))
            self.say("WARNING", line)
            if fe.logger is not None:
                fe.logger.send(Level.WARNING, line)
        for be in self.rt.backends.values():
            if id(be.conf) in seen:
                continue
            line = stopped_line(be.name, 0, be.counters.tot_sess)
            self.say("WARNING", line)
            if be.logger is not None:
                be.logger.send(Level.WARNING, line)

    def _master_gone(self) -> None:
        try:
            data = os.read(self.link.master_fd, 64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            return
        self.loop.remove_reader(self.link.master_fd)
        self.say("WARNING", "the master process is gone: stopping")
        self.soft_stop()

    # -- pause / resume ----------------------------------------------------------------

    def pause(self) -> None:
        if self.unbound:
            return
        for sv in self.served:
            sv.pause()
        self.say("NOTICE", "listeners paused (SIGTTOU)")

    def resume(self) -> None:
        if self.unbound:
            return
        self.loop.create_task(self._resume())

    async def _resume(self) -> None:
        for sv in self.served:
            problem = await sv.resume(self.loop)
            if problem is not None:
                self.say("WARNING", f"proxy '{getattr(sv.frontend, 'name', '?')}': {problem}")
        self.say("NOTICE", "listeners resumed (SIGTTIN)")

    # -- state dump --------------------------------------------------------------------

    def dump_state(self) -> None:
        """SIGHUP: every server's state and each backend's summary."""
        from weir.backend.server import SrvState
        from weir.log.syslog import Level

        for be in self.rt.backends.values():
            lines = []
            for srv in be.servers:
                state = "DOWN" if srv.state is SrvState.DOWN else "UP"
                lines.append(
                    f"SIGHUP: Server {be.name}/{srv.name} is {state}. "
                    f"Conn: {srv.cur_sess} act, 0 pend, {srv.tot_sess} tot."
                )
            active = sum(1 for s in be.servers if s.usable and not s.backup)
            backup = sum(1 for s in be.servers if s.usable and s.backup)
            c = be.counters
            conns = (
                f"Conn: act(FE+BE): 0+{c.cur_sess}, {len(be.queue)} pend "
                f"({len(be.queue)} unass), tot(FE+BE): 0+{c.tot_sess}."
            )
            if not be.servers:
                lines.append(f"SIGHUP: Proxy {be.name} has no servers. {conns}")
            elif active == 0:
                what = "is running on backup servers" if backup else "has no server available"
                lines.append(f"SIGHUP: Proxy {be.name} {what} ! {conns}")
            else:
                lines.append(
                    f"SIGHUP: Proxy {be.name} has {active} active servers and {backup} "
                    f"backup servers available. {conns}"
                )
            for line in lines:
                self.say("WARNING", line)
                if be.logger is not None:
                    be.logger.send(Level.NOTICE, line)
