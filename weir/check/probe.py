"""Running one check over real sockets: the asyncio driver of `weir.check.engine`.

A check holds at most one non-blocking socket at a time and never outlives its deadline.
Deadlines follow HAProxy 2.6: each connection gets `inter` from the moment it is
attempted, or min(`timeout connect`, `inter`) when `timeout check` is set; once it is up,
`timeout check` (when set) replaces that deadline for the rest of the exchange. Sockets
close with a reset (SO_LINGER 0), as HAProxy's checks do, so checks leave no TIME_WAIT
behind, unless the connect rule says `linger`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import ssl
import struct
from dataclasses import dataclass
from typing import Any

from weir.check.engine import DoConnect, Done, DoSend, Run, RunEnv, Step
from weir.check.rules import Connect, Expect, Proto, Ruleset
from weir.check.status import CheckStatus, Outcome, Verdict
from weir.config.address import Family

_LINGER_RESET = struct.pack("ii", 1, 0)
_L6OK = Verdict(CheckStatus.L6OK, None, "")


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how one check runs; times in seconds."""

    family: socket.AddressFamily
    # (host, port), port 0 when every connect rule names its own; or a UNIX socket's path
    address: tuple[str, int] | str
    inter: float
    connect_timeout: float
    read_timeout: float | None  # None: each connection's deadline covers the exchange
    ruleset: Ruleset
    bufsize: int = 16384
    send_proxy: bool = False  # `check-send-proxy`, for connect rules that use the defaults
    tls: Any = None  # ssl.SSLContext: the check speaks TLS (`check-ssl`, or an `ssl` server)
    sni: str | None = None  # `check-sni`

    @property
    def connect_only(self) -> bool:
        """Connecting is the whole check (`connect_check` runs it)."""
        return self.ruleset.proto is Proto.DEFAULT and not self.send_proxy and self.tls is None

    def endpoint(self, rule: Connect) -> tuple[socket.AddressFamily, tuple[str, int] | str]:
        """Where a connect rule connects: its own address and port, else the check's."""
        a = rule.address
        own = self.address
        port = own[1] if isinstance(own, tuple) else 0
        if a is not None:
            if a.family is Family.UNIX:
                return socket.AF_UNIX, a.host
            family = socket.AF_INET6 if a.family is Family.IPV6 else socket.AF_INET
            return family, (a.host, rule.port or a.port_low or port)
        if isinstance(own, str):
            return socket.AF_UNIX, own
        return self.family, (own[0], rule.port or port)


def strerror(e: OSError) -> str:
    if e.errno is not None:
        return os.strerror(e.errno)
    return str(e) or type(e).__name__


def proxy_line(sock: socket.socket) -> bytes:
    """The PROXY protocol v1 line a check sends: its own connection's addresses."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return b"PROXY UNKNOWN\r\n"
    src = sock.getsockname()
    dst = sock.getpeername()
    proto = "TCP6" if sock.family == socket.AF_INET6 else "TCP4"
    return f"PROXY {proto} {src[0]} {dst[0]} {src[1]} {dst[1]}\r\n".encode()


_IN_PROGRESS = frozenset({errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK})
_STREAM_NONBLOCK = socket.SOCK_STREAM | socket.SOCK_NONBLOCK
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)
_L4OK = Verdict(CheckStatus.L4OK)
_L4TOUT = Verdict(CheckStatus.L4TOUT)


def _ready(fut: asyncio.Future[bool]) -> None:
    if not fut.done():
        fut.set_result(True)


def _expired(fut: asyncio.Future[bool]) -> None:
    if not fut.done():
        fut.set_result(False)


async def _wait(loop: asyncio.AbstractEventLoop, fd: int, *, write: bool, deadline: float) -> bool:
    """Wait until `fd` can be written (or read); False when `deadline` came first.

    Sockets are driven directly (one readiness callback, one timer) rather than through
    `loop.sock_*`, which would resolve addresses again and wrap each call in more
    futures: a check is small, and there are thousands of them.
    """
    fut: asyncio.Future[bool] = loop.create_future()
    if write:
        loop.add_writer(fd, _ready, fut)
    else:
        loop.add_reader(fd, _ready, fut)
    timer = loop.call_at(deadline, _expired, fut)
    try:
        return await fut
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)
        timer.cancel()


class _ExpiredError(Exception):
    """The check's deadline came while it waited."""


async def _connect_socket(
    loop: asyncio.AbstractEventLoop,
    sock: socket.socket,
    where: tuple[str, int] | str,
    deadline: float,
) -> int:
    """Connect a non-blocking socket (numeric address); 0 or the errno of the failure.
    Raises _ExpiredError at the deadline."""
    err = sock.connect_ex(where)
    if err in _IN_PROGRESS:
        if not await _wait(loop, sock.fileno(), write=True, deadline=deadline):
            raise _ExpiredError
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    return err


async def _send_all(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, data: bytes, deadline: float
) -> None:
    view = memoryview(data)
    while view:
        try:
            n = sock.send(view)
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError) as e:
            write = not isinstance(e, ssl.SSLWantReadError)
            if not await _wait(loop, sock.fileno(), write=write, deadline=deadline):
                raise _ExpiredError from None
            continue
        view = view[n:]


async def _recv(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int, deadline: float
) -> bytes:
    while True:
        try:
            return sock.recv(size)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError) as e:
            write = isinstance(e, ssl.SSLWantWriteError)
            if not await _wait(loop, sock.fileno(), write=write, deadline=deadline):
                raise _ExpiredError from None


async def _handshake(loop: asyncio.AbstractEventLoop, sock: ssl.SSLSocket, deadline: float) -> None:
    """A TLS handshake on a non-blocking socket, bounded by the check's deadline."""
    while True:
        try:
            sock.do_handshake()
            return
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError) as e:
            write = isinstance(e, ssl.SSLWantWriteError)
            if not await _wait(loop, sock.fileno(), write=write, deadline=deadline):
                raise _ExpiredError from None


def _delay_ack(sock: socket.socket) -> None:
    """Keep the last ACK of the handshake back until there is data to carry it, as
    HAProxy does when a connection's next step is not to read: a check that only
    connects then resets the connection before the server's application ever accepts
    it, so checks cost the server nothing and stay out of its logs."""
    if _QUICKACK is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 0)


def _open(family: socket.AddressFamily, linger: bool) -> socket.socket:
    sock = socket.socket(family, _STREAM_NONBLOCK)
    if not linger:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    return sock


async def connect_check(loop: asyncio.AbstractEventLoop, target: Target) -> Outcome:
    """A check that only connects (no check option): the verdicts the rule engine gives
    an implicit connect, on the cheapest path, since it is what most servers run."""
    start = loop.time()
    try:
        sock = _open(target.family, linger=False)
    except OSError as e:
        return Outcome(Verdict(CheckStatus.SOCKERR, None, strerror(e)), 0)
    try:
        if target.family != socket.AF_UNIX:
            _delay_ack(sock)
        err = await _connect_socket(loop, sock, target.address, start + target.connect_timeout)
        verdict = Verdict(CheckStatus.L4CON, None, os.strerror(err)) if err else _L4OK
    except _ExpiredError:
        verdict = _L4TOUT
    except OSError as e:  # an address the kernel refuses outright
        verdict = Verdict(CheckStatus.L4CON, None, strerror(e))
    finally:
        sock.close()
    return Outcome(verdict, int((loop.time() - start) * 1000))


async def run_check(loop: asyncio.AbstractEventLoop, target: Target, env: RunEnv) -> Outcome:
    """Run one check now; never raises for anything the network does."""
    start = loop.time()
    run = Run(target.ruleset, env, target.bufsize)
    holder: list[socket.socket] = []
    try:
        verdict = await _drive(loop, target, run, holder)
    except _ExpiredError:
        verdict = run.timed_out().verdict
    finally:
        for sock in holder:
            sock.close()
    if target.tls is not None and verdict.status is CheckStatus.L4OK:
        verdict = _L6OK  # a connect check over TLS passed its handshake
    return Outcome(verdict, int((loop.time() - start) * 1000))


async def _drive(
    loop: asyncio.AbstractEventLoop, target: Target, run: Run, holder: list[socket.socket]
) -> Verdict:
    step: Step = run.begin()
    deadline = 0.0
    while True:
        if isinstance(step, Done):
            return step.verdict
        if isinstance(step, DoConnect):
            for old in holder:
                old.close()
            holder.clear()
            deadline = loop.time() + target.connect_timeout
            step = await _connect(loop, target, run, step.rule, holder, deadline)
            if target.read_timeout is not None and run.is_connected:
                deadline = loop.time() + target.read_timeout
            continue
        sock = holder[0]
        if isinstance(step, DoSend):
            try:
                await _send_all(loop, sock, step.data, deadline)
            except OSError as e:
                step = run.send_failed(strerror(e))
                continue
            step = run.sent()
            continue
        try:
            data = await _recv(loop, sock, step.size, deadline)
        except OSError as e:
            step = run.recv_failed(strerror(e))
            continue
        step = run.received(data)


async def _connect(  # noqa: PLR0917
    loop: asyncio.AbstractEventLoop,
    target: Target,
    run: Run,
    rule: Connect,
    holder: list[socket.socket],
    deadline: float,
) -> Step:
    family, where = target.endpoint(rule)
    try:
        sock = _open(family, rule.linger)
    except OSError as e:
        return Done(Verdict(CheckStatus.SOCKERR, None, strerror(e)))
    holder.append(sock)
    rules = run.ruleset.rules
    following = rules[run.pos + 1] if run.pos + 1 < len(rules) else None
    if family != socket.AF_UNIX and not isinstance(following, Expect):
        _delay_ack(sock)
    try:
        err = await _connect_socket(loop, sock, where, deadline)
    except OSError as e:  # an address the kernel refuses outright
        return run.connect_failed(strerror(e))
    if err:
        return run.connect_failed(os.strerror(err))
    if rule.send_proxy or (rule.default and target.send_proxy):
        try:
            await _send_all(loop, sock, proxy_line(sock), deadline)
        except OSError as e:
            run.is_connected = True
            return run.send_failed(strerror(e))
    if target.tls is not None and rule.default:
        tls = target.tls.wrap_socket(
            sock, do_handshake_on_connect=False, server_hostname=target.sni
        )
        holder[:] = [tls]
        try:
            await _handshake(loop, tls, deadline)
        except _ExpiredError:
            return Done(Verdict(CheckStatus.L6TOUT, None, ""))
        except (ssl.SSLError, OSError) as e:
            return Done(Verdict(CheckStatus.L6RSP, None, str(e)))
    return run.connected()


__all__ = ["Target", "connect_check", "proxy_line", "run_check", "strerror"]
