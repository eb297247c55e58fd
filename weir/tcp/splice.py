"""Zero-copy relay for mode tcp: splice(2) through a kernel pipe, both directions.

`option splice-request` / `splice-response` / `splice-auto` (in the frontend or the
backend) let a relayed session move its bytes socket → pipe → socket in the kernel,
without ever copying them into Python. weir splices both directions of a session once
any of the three applies: with `splice-request` or `splice-response`, as soon as the
server connection is up (and any content inspection is over); with `splice-auto`, once
a burst of reads of 1 KiB or more each brings 16 KiB (HAProxy's buffer size, the mark of a
bulk transfer, where splicing pays; request/response chatter, whose small reads end a
burst, stays on the ordinary path).

The event loop's transports own the sockets until then. To take a session over, each
socket is duplicated, the transport lets go of its own descriptor (`abort()`, which does
not touch the socket while the duplicate holds it), and the duplicates are watched with
`add_reader`/`add_writer` — uvloop does not report readiness for a descriptor whose
socket another of its handles still watches. A take-over waits for both transports'
write buffers to be empty, so that nothing already accepted for sending is lost.

Each direction has a pipe: readable source → `splice` into the pipe → `splice` out to
the destination; when the destination cannot take more, reading the source stops until
the pipe drains. A source's end of stream is passed on as a half-close once the pipe is
empty. Pipes come from a pool bounded by global `maxpipes` (a session takes two; without
them it stays on the ordinary path), sized by `tune.pipesize` (else 1 MiB: a splice call
moves at most a pipeful, and with the kernel's 64 KiB pipes splicing costs more CPU than
copying), reused once drained.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
from collections.abc import Callable

_FLAGS = os.SPLICE_F_NONBLOCK | os.SPLICE_F_MOVE
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_CHUNK = 1 << 20  # the most one splice call asks for
# `splice-auto`: a burst of reads of at least AUTO_MIN_READ bytes each that adds up to
# AUTO_THRESHOLD (HAProxy's buffer size) switches a session to splicing.
AUTO_THRESHOLD = 16384
AUTO_MIN_READ = 1024


# Without `tune.pipesize`, pipes of 1 MiB (or the kernel's `fs.pipe-max-size` if smaller).
# A splice call moves at most one pipeful, and the kernel's 64 KiB default makes a spliced
# 1 MiB transfer cost 2.3x the CPU of the ordinary relay (bench/l4.py), where 1 MiB pipes
# make it cheaper than the ordinary relay. Only the bytes in flight take memory.
DEFAULT_PIPESIZE = 1 << 20


def _default_pipesize() -> int:
    try:
        with open("/proc/sys/fs/pipe-max-size") as f:
            return min(DEFAULT_PIPESIZE, int(f.read()))
    except (OSError, ValueError):
        return DEFAULT_PIPESIZE


class PipePool:
    """Kernel pipes for splicing, at most `limit` at a time (global `maxpipes`)."""

    def __init__(self, limit: int, size: int = 0) -> None:
        self.limit = limit
        self.size = size  # `tune.pipesize`, else DEFAULT_PIPESIZE
        # With the default size, a pipe the kernel will not enlarge (an unprivileged user
        # past `fs.pipe-user-pages-soft`) is refused: the session keeps the ordinary relay,
        # cheaper than splicing through a small pipe. A size set by `tune.pipesize` is
        # asked for, and a refusal ignored, as HAProxy does.
        self.strict = False
        self.used = 0
        self.free: list[tuple[int, int]] = []
        self.spliced_out = 0  # bytes sent to clients by splicing (show info)
        # Told once, the first time the kernel refuses a pipe (set by the process).
        self.warn: Callable[[str], None] | None = None

    def take(self, n: int) -> list[tuple[int, int]] | None:
        if self.used + n > self.limit:
            return None
        out = []
        try:
            for _ in range(n):
                if self.free:
                    out.append(self.free.pop())
                    continue
                r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
                out.append((r, w))
                if self.size:
                    try:
                        fcntl.fcntl(w, _F_SETPIPE_SZ, self.size)
                    except OSError:
                        if self.strict:
                            raise
        except OSError as e:  # out of descriptors, or (strict) a pipe the kernel kept small
            for r, w in out:
                os.close(r)
                os.close(w)
            warn, self.warn = self.warn, None
            if warn is not None:
                warn(
                    f"kernel splicing: no {self.size >> 10} KiB pipe ({e.strerror}); "
                    "sessions use the ordinary relay while this lasts"
                )
            return None
        self.used += n
        return out

    def give(self, pipes: list[tuple[int, int]], *, clean: bool) -> None:
        """Pipes back: kept for reuse when empty (`clean`), else closed."""
        for r, w in pipes:
            if clean and len(self.free) < 64:
                self.free.append((r, w))
            else:
                os.close(r)
                os.close(w)
        self.used = max(0, self.used - len(pipes))


POOL = PipePool(0)


def configure(maxpipes: int, pipesize: int) -> None:
    """Global `maxpipes` (0: no splicing) and `tune.pipesize` (0: unset)."""
    POOL.limit = maxpipes
    POOL.size, POOL.strict = (pipesize, False) if pipesize else (_default_pipesize(), True)


class Direction:
    """One way of a spliced session: `src` → pipe → `dst`."""

    __slots__ = ("counted", "dst", "eof", "in_pipe", "pipe", "relay", "src", "waiting")

    def __init__(self, relay: SplicedRelay, src: int, dst: int, pipe: tuple[int, int]) -> None:
        self.relay = relay
        self.src, self.dst = src, dst
        self.pipe = pipe
        self.in_pipe = 0  # bytes in the pipe, not yet written out
        self.eof = False  # the source ended its stream
        self.waiting = False  # the destination is full: reading is stopped
        self.counted: Callable[[int], None] = lambda n: None

    def readable(self) -> None:
        try:
            n = os.splice(self.src, self.pipe[1], _CHUNK, flags=_FLAGS)
        except BlockingIOError:
            return
        except OSError:
            self.relay.failed(self)
            return
        if n == 0:
            self.eof = True
            self.relay.loop.remove_reader(self.src)
        else:
            self.in_pipe += n
        self.flush()

    def flush(self) -> None:
        loop = self.relay.loop
        while self.in_pipe:
            try:
                m = os.splice(self.pipe[0], self.dst, self.in_pipe, flags=_FLAGS)
            except BlockingIOError:
                if not self.waiting:
                    self.waiting = True
                    if not self.eof:
                        loop.remove_reader(self.src)
                    loop.add_writer(self.dst, self.flush)
                return
            except OSError:
                self.relay.failed(self)
                return
            self.in_pipe -= m
            self.counted(m)
        if self.waiting:
            self.waiting = False
            loop.remove_writer(self.dst)
            if not self.eof:
                loop.add_reader(self.src, self.readable)
        if self.eof:
            with contextlib.suppress(OSError), socket.socket(fileno=os.dup(self.dst)) as s:
                s.shutdown(socket.SHUT_WR)
            self.relay.ended(self)


class SplicedRelay:
    """Both directions of a session taken over from its transports."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        client_fd: int,
        server_fd: int,
        pipes: list[tuple[int, int]],
        *,
        on_bytes: tuple[Callable[[int], None], Callable[[int], None]],
        on_end: Callable[[str], None],
    ) -> None:
        self.loop = loop
        self.fds = (client_fd, server_fd)
        self.pipes = pipes
        self.on_end = on_end
        self.request = Direction(self, client_fd, server_fd, pipes[0])
        self.response = Direction(self, server_fd, client_fd, pipes[1])
        self.request.counted, self.response.counted = on_bytes
        self.done: set[Direction] = set()
        self.closed = False
        for d in (self.request, self.response):
            loop.add_reader(d.src, d.readable)

    def ended(self, d: Direction) -> None:
        self.done.add(d)
        if len(self.done) == 2:
            self.on_end("--")

    def failed(self, d: Direction) -> None:
        # The client's socket failing is the client's doing, the server's the server's.
        self.on_end("CD" if d.src == self.fds[0] or d.dst == self.fds[0] else "SD")

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for d in (self.request, self.response):
            with contextlib.suppress(Exception):
                self.loop.remove_reader(d.src)
            with contextlib.suppress(Exception):
                self.loop.remove_writer(d.dst)
        clean = not (self.request.in_pipe or self.response.in_pipe)
        POOL.give(self.pipes, clean=clean)
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)


def take_over(transport: asyncio.Transport) -> int | None:
    """A duplicate of the transport's socket descriptor, the transport letting go of its
    own (None when the transport has no socket)."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return None
    fd = os.dup(sock.fileno())
    os.set_blocking(fd, False)
    transport.abort()
    return fd
