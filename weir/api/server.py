"""The runtime API's sockets: accept, read command lines, answer, as HAProxy's CLI does.

Theory of operation
-------------------
Each `stats socket` is a listening socket with its own access level. A connection reads
command lines: a line ends at a newline or at a `;` not escaped by a backslash, so
`echo "show info; show stat" | socat - /run/weir.sock` runs two commands. Every answer is
followed by an empty line, or by the prompt `\\n> ` in interactive mode (`prompt`).

Without `prompt`, the connection closes as soon as the commands already received are
answered (a pipelined batch runs whole); with it, it stays open until `quit`, the client
closes, or the idle timeout (`stats timeout`, 10 s by default; `set timeout cli` for one
connection) passes. A last line without its newline is not run, as in HAProxy. A line
ending with `<<` starts a payload that ends at an empty line.

At most `stats maxconn` connections (10 by default) are served at once; more are accepted
by the kernel and wait, unread, for a free slot. Commands run on the event loop and answer
at once; a slow client only fills its own transport's buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

import weir.api.cmd_cookie
import weir.api.cmd_map
import weir.api.cmd_other
import weir.api.cmd_server
import weir.api.cmd_show
import weir.api.cmd_ssl
import weir.api.cmd_table
import weir.dns.cmd
import weir.peers.cmd  # noqa: F401  (the commands register on import)
from weir.api.actions import Control, ListenerHandle, Say, register
from weir.api.commands import Request, Session, run
from weir.api.conf import Level, SocketConf, api_conf
from weir.api.state import Api
from weir.config.address import Family
from weir.net.listener import BindError, open_listening_sockets
from weir.process import handover

if TYPE_CHECKING:
    from weir.check.scheduler import CheckScheduler
    from weir.config.model import Config
    from weir.proxy.runtime import Runtime

MAX_LINE = 64 * 1024  # a longer line without its end closes the connection
_PAYLOAD = "<<"
_GETSOCKS = handover.REQUEST.decode().rstrip("\n")


class ApiConnection(asyncio.Protocol):
    """One client of the runtime API."""

    def __init__(self, server: ApiServer, conf: SocketConf) -> None:
        self.server = server
        self.conf = conf
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.session = Session(conf.level, started=time.monotonic())
        self.request = Request(server.api, self.session)
        self.payload: list[str] | None = None  # lines of a payload being read
        self.pending_line = ""
        self.admitted = False
        self.timer: asyncio.TimerHandle | None = None
        self.closing = False

    # -- transport events ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.session.origin = f"{peer[0]}:{peer[1]}"
        self.server.api.sessions.append(self.session)
        self._arm()
        if not self.server.admit(self):
            self.transport.pause_reading()

    def start(self) -> None:
        """A slot is ours: read (and answer what may already be waiting)."""
        self.admitted = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()
            if self.buf:
                self._process()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._arm()
        if self.admitted:
            self._process()
        if len(self.buf) > MAX_LINE:
            self._close()

    def eof_received(self) -> bool | None:
        # Whatever complete lines arrived have been answered; an unfinished one is dropped.
        self._close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        with contextlib.suppress(ValueError):
            self.server.api.sessions.remove(self.session)
        self.server.release(self)
        self.transport = None

    # -- commands --------------------------------------------------------------------------

    def _next_line(self) -> str | None:
        """Cut one line off the buffer: up to a newline, or an unescaped `;` outside a
        payload. None when no complete line is buffered."""
        buf = self.buf
        nl = buf.find(b"\n")
        if self.payload is None:
            semi = _unescaped_semicolon(buf, nl if nl >= 0 else len(buf))
            if semi >= 0:
                line = bytes(buf[:semi])
                del buf[: semi + 1]
                return line.decode("utf-8", "surrogateescape")
        if nl < 0:
            return None
        line = bytes(buf[:nl])
        del buf[: nl + 1]
        if line.endswith(b"\r"):
            line = line[:-1]
        return line.decode("utf-8", "surrogateescape")

    def _process(self) -> None:
        while not self.closing and self.transport is not None:
            line = self._next_line()
            if line is None:
                return
            if self.payload is not None:
                if line:
                    self.payload.append(line)
                    if self.session.prompt:
                        self._write("+ ")
                    continue
                text, self.payload = "\n".join(self.payload), None
                self._answer(self.pending_line, text)
            elif line.rstrip().endswith(_PAYLOAD) and (
                line.rstrip() == _PAYLOAD or line.rstrip()[-3:-2] in (" ", "\t")
            ):
                self.pending_line = line.rstrip()[: -len(_PAYLOAD)]
                self.payload = []
                if self.session.prompt:
                    self._write("+ ")
                continue
            elif line == _GETSOCKS and self.conf.expose_fd:
                self._hand_over()
                return
            else:
                self._answer(line, None)
            if self.session.quit:
                self._close()
                return
            if not self.session.prompt and not self.buf:
                # Non-interactive: done once nothing more is waiting.
                self._close()
                return

    def _answer(self, line: str, payload: str | None) -> None:
        self.request.payload = payload
        try:
            text = run(self.request, line)
        except Exception as e:  # a bug: report it on the socket and in the logs, go on
            text = f"Internal error: {type(e).__name__}: {e}\n"
            self.server.api.control.say("ALERT", f"runtime API command '{line}' failed: {e!r}")
        if self.session.quit:
            return
        self._write(text + ("\n> " if self.session.prompt else "\n"))

    def _hand_over(self) -> None:
        """`_getsocks` on a socket with `expose-fd listeners`: a new process started with
        `-x <this socket>` takes this process's listening sockets (seamless reload). The
        exchange is short and bounded by a timeout, so it runs here, blocking, on a
        duplicate of the connection's descriptor; the connection ends with it."""
        t = self.transport
        raw = t.get_extra_info("socket") if t is not None else None
        if raw is None:
            self._close()
            return
        conn = socket.socket(fileno=os.dup(raw.fileno()))
        try:
            with conn:
                handover.send_listeners(conn, handover.current_listeners())
        except OSError as e:
            self.server.api.control.say("WARNING", f"handing the listening sockets over: {e}")
        self._close()

    # -- helpers -----------------------------------------------------------------------------

    def _write(self, text: str) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(text.encode("utf-8", "surrogateescape"))

    def _arm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        timeout = self.session.timeout or self.server.timeout
        self.timer = self.server.loop.call_later(timeout, self._close)

    def _close(self) -> None:
        if self.closing:
            return
        self.closing = True
        if self.transport is not None:
            self.transport.close()


def _unescaped_semicolon(buf: bytearray, end: int) -> int:
    """Position of the first `;` before `end` not preceded by a backslash escape, or -1."""
    i = buf.find(b";", 0, end)
    while i >= 0:
        # Count the backslashes right before it: an odd number escapes it.
        j = i
        while j > 0 and buf[j - 1] == 0x5C:
            j -= 1
        if (i - j) % 2 == 0:
            return i
        i = buf.find(b";", i + 1, end)
    return -1


class ApiServer:
    """Every `stats socket` of the process, serving one Api."""

    __slots__ = (
        "active",
        "api",
        "bound",
        "inodes",
        "loop",
        "maxconn",
        "servers",
        "timeout",
        "waiting",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        api: Api,
        bound: Sequence[tuple[SocketConf, socket.socket]],
        *,
        timeout: float,
        maxconn: int,
    ) -> None:
        self.loop = loop
        self.api = api
        self.bound = list(bound)
        # The inode of each UNIX socket file as this process bound it, so that `close`
        # never removes a file a newer process has bound at the same path (a reload).
        self.inodes: dict[str, int] = {}
        for conf, _ in self.bound:
            if conf.address.family is Family.UNIX:
                with contextlib.suppress(OSError):
                    self.inodes[conf.address.host] = Path(conf.address.host).stat().st_ino
        self.timeout = timeout
        self.maxconn = maxconn
        self.active = 0
        self.waiting: deque[ApiConnection] = deque()
        self.servers: list[asyncio.Server] = []

    async def serve(self) -> None:
        for conf, sock in self.bound:

            def factory(conf: SocketConf = conf) -> asyncio.Protocol:
                return ApiConnection(self, conf)

            self.servers.append(await self.loop.create_server(factory, sock=sock))

    def admit(self, conn: ApiConnection) -> bool:
        if self.active < self.maxconn:
            self.active += 1
            conn.admitted = True
            return True
        self.waiting.append(conn)
        return False

    def release(self, conn: ApiConnection) -> None:
        if not conn.admitted:
            with contextlib.suppress(ValueError):
                self.waiting.remove(conn)
            return
        self.active -= 1
        while self.waiting:
            nxt = self.waiting.popleft()
            if nxt.transport is not None and not nxt.closing:
                self.active += 1
                nxt.start()
                return

    def close(self) -> None:
        """Stop listening and remove the UNIX socket files; open connections are closed."""
        for srv in self.servers:
            srv.close()
        for conf, sock in self.bound:
            sock.close()
            mine = self.inodes.get(conf.address.host)
            if conf.address.family is not Family.UNIX or mine is None:
                continue
            # After a reload the new process has bound the same path: remove the file only
            # while it is still this process's socket (same inode), never the successor's.
            path = Path(conf.address.host)
            with contextlib.suppress(OSError):
                if path.stat().st_ino == mine:
                    path.unlink()
        from weir.api.actions import forget

        forget(self.api.rt)

    @property
    def addresses(self) -> list[str]:
        return [conf.text for conf, _ in self.bound]


def bind_api(cfg: Config) -> list[tuple[SocketConf, socket.socket]]:
    """Bind and listen on every `stats socket` (before privileges are dropped, like the
    other listeners). Raises weir.net.listener.BindError naming the socket that failed;
    the sockets already bound are then closed."""
    out: list[tuple[SocketConf, socket.socket]] = []
    try:
        for conf in api_conf(cfg).stats_sockets:
            (sock,) = open_listening_sockets(conf.address, backlog=128, v6only=None)
            out.append((conf, sock))
            if conf.address.family is Family.UNIX:
                _set_owner(conf)
    except (BindError, OSError) as e:
        for _, sock in out:
            sock.close()
        if isinstance(e, BindError):
            raise
        raise BindError(f"cannot set up stats socket: {e.strerror or e}") from None
    return out


def _set_owner(conf: SocketConf) -> None:
    path = conf.address.host
    if conf.mode is not None:
        Path(path).chmod(conf.mode)
    if conf.uid is not None or conf.gid is not None:
        os.chown(path, -1 if conf.uid is None else conf.uid, -1 if conf.gid is None else conf.gid)


def start_api(
    loop: asyncio.AbstractEventLoop,
    runtime: Runtime,
    cfg: Config,
    *,
    bound: Sequence[tuple[SocketConf, socket.socket]] | None = None,
    checks: CheckScheduler | None = None,
    listeners: Sequence[ListenerHandle] = (),
    say: Say | None = None,
) -> ApiServer | None:
    """Serve the runtime API of `runtime`; None when the configuration has no socket.

    Whether or not there is a socket, the runtime's Control is registered with `checks`
    (the running health checks, for `enable|disable health`) and `listeners` (for
    `enable|disable frontend`), so that the stats page's admin form has them too.
    `bound` are sockets from `bind_api(cfg)`; without them the sockets are bound here.
    Must be called with `loop` running or about to run: serving starts as a task.
    """
    control = Control(runtime, checks=checks, listeners=listeners, say=say, loop=loop)
    register(control)
    conf = api_conf(cfg)
    if bound is None:
        if not conf.stats_sockets:
            return None
        bound = bind_api(cfg)
    if not bound:
        return None
    listening = sum(len(fe.binds) for fe in runtime.frontends) + len(bound)
    api = Api(control, listeners=listening)
    server = ApiServer(
        loop,
        api,
        bound,
        timeout=conf.stats_timeout_ms / 1000,
        maxconn=conf.stats_maxconn,
    )
    loop.create_task(server.serve(), name="runtime API")
    return server


def serve_in_process(runtime: Runtime, *, level: Level = Level.ADMIN) -> Request:
    """A request context for running commands without a socket (tests, tools)."""
    from weir.api.actions import control_for

    api = Api(control_for(runtime))
    return Request(api, Session(level))
