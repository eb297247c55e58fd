"""Running a loaded configuration: bind, detach, serve, stop on a signal.

Order matters and follows HAProxy's: every listener is bound first (so a taken port fails
in the foreground, with a message), then the process detaches if asked (`-D`/`daemon`),
writes its pidfile, drops privileges, and serves until SIGTERM/SIGINT (stop now, exit 0)
or SIGUSR1 (soft stop: stop accepting, let the connections in flight finish, exit 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from weir.config.model import Config, Mode
from weir.net.listener import BindError, open_listening_sockets
from weir.net.loop import new_loop
from weir.proxy.runtime import Frontend, Runtime, build


@dataclass(slots=True)
class RunOptions:
    daemon: bool = False
    foreground: bool = False  # -db / -d: never detach
    pidfile: str | None = None
    debug: bool = False
    quiet: bool = False
    err: TextIO = field(default_factory=lambda: sys.stderr)


def _say(opts: RunOptions, level: str, message: str) -> None:
    if opts.quiet and level != "ALERT":
        return
    tag = f"[{level}]"
    print(f"{tag:<10} ({os.getpid()}) : {message}", file=opts.err, flush=True)


def _bind_all(rt: Runtime) -> list[tuple[Frontend, socket.socket, int]]:
    """Every listening socket, with its frontend and accept backlog."""
    out: list[tuple[Frontend, socket.socket, int]] = []
    try:
        for fe in rt.frontends:
            for bind in fe.binds:
                for addr in bind.addresses:
                    v6only = True if bind.v6only else (False if bind.v4v6 else None)
                    # HAProxy's default backlog is the frontend's maxconn.
                    backlog = bind.backlog or fe.maxconn or 1024
                    socks = open_listening_sockets(addr, backlog=backlog, v6only=v6only)
                    out.extend((fe, s, backlog) for s in socks)
    except BindError:
        for _, s, _ in out:
            s.close()
        raise
    return out


def _daemonize(pidfile: str | None) -> None:
    """Fork into the background as HAProxy does: the parent writes the child's pid to the
    pidfile (so it exists when the command returns) and exits 0; the child leaves the
    terminal's session and closes its standard streams."""
    pid = os.fork()
    if pid > 0:
        status = 0
        if pidfile:
            try:
                Path(pidfile).write_text(f"{pid}\n")
            except OSError as e:
                print(
                    f"[ALERT]    ({os.getpid()}) : cannot write pidfile '{pidfile}': {e.strerror}",
                    file=sys.stderr,
                )
                status = 1
        os._exit(status)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def _drop_privileges(cfg: Config) -> None:
    g = cfg.global_
    if os.geteuid() != 0:
        return
    if g.gid is not None:
        os.setgroups([])
        os.setgid(g.gid)
    if g.uid is not None:
        os.setuid(g.uid)


_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGUSR1}


def run(cfg: Config, opts: RunOptions) -> int:
    """Serve `cfg` until stopped; returns the process exit status."""
    # A stop signal that arrives between bind() and the loop's handlers must not kill the
    # process uncleanly: hold the signals until the handlers are in place.
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    rt = build(cfg)
    try:
        listeners = _bind_all(rt)
    except BindError as e:
        _say(opts, "ALERT", f"Starting proxies: {e}")
        return 1
    if not listeners and not opts.quiet:
        _say(opts, "WARNING", "no listener is configured: nothing will be served")
    pidfile = opts.pidfile or cfg.global_.pidfile
    if (opts.daemon or cfg.global_.daemon) and not opts.foreground:
        _daemonize(pidfile)
    elif pidfile:
        try:
            Path(pidfile).write_text(f"{os.getpid()}\n")
        except OSError as e:
            _say(opts, "ALERT", f"cannot write pidfile '{pidfile}': {e.strerror}")
            return 1
    try:
        _drop_privileges(cfg)
    except OSError as e:
        _say(opts, "ALERT", f"cannot drop privileges: {e.strerror}")
        return 1
    loop = new_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_serve(loop, rt, listeners, opts))
    finally:
        _cancel_pending(loop)
        loop.close()
        if pidfile:
            with contextlib.suppress(OSError):
                Path(pidfile).unlink()


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
    listeners: list[tuple[Frontend, socket.socket, int]],
    opts: RunOptions,
) -> int:
    from weir.http.session import HttpClient
    from weir.tcp.session import TcpClient

    g = rt.config.global_
    servers: list[asyncio.Server] = []
    for fe, sock, backlog in listeners:
        if fe.mode is Mode.HTTP:

            def factory(fe: Frontend = fe) -> asyncio.Protocol:
                return HttpClient(fe, loop, g.tune_bufsize, g.tune_maxhdr)

        else:

            def factory(fe: Frontend = fe) -> asyncio.Protocol:
                return TcpClient(fe, loop)

        servers.append(await loop.create_server(factory, sock=sock, backlog=backlog))

    from weir.check import start_checks

    checks = start_checks(
        loop,
        rt.backends.values(),
        say=lambda level, message: _say(opts, level, message),
        bufsize=g.tune_bufsize,
    )
    stop = asyncio.Event()
    soft = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, soft.set)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
    if opts.debug:
        for fe in rt.frontends:
            _say(opts, "NOTICE", f"proxy '{fe.name}' started ({fe.mode})")
    stop_task = loop.create_task(stop.wait())
    soft_task = loop.create_task(soft.wait())
    await asyncio.wait({stop_task, soft_task}, return_when=asyncio.FIRST_COMPLETED)
    for srv in servers:
        srv.close()
    if soft.is_set() and not stop.is_set():
        # Soft stop: listeners are closed; wait for the connections in flight to end.
        # Polling a counter every 50 ms is simpler than an event per connection end and
        # costs nothing on the data path.
        while any(fe.counters.cur_sess > 0 for fe in rt.frontends):
            if stop.is_set():
                break
            await asyncio.sleep(0.05)
    stop_task.cancel()
    soft_task.cancel()
    checks.stop()
    await checks.wait_stopped()
    rt.log_hub.close()
    return 0
