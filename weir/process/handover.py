"""Listening sockets handed from a running weir to the one replacing it (seamless reload).

Theory of operation
-------------------
A process that owns listening sockets (a standalone weir, or the master/parent of workers)
serves them on a UNIX socket in Linux's abstract namespace, named after its pid
(`abstract_name(pid)`): no file to create, nothing to clean up, reachable from inside a
chroot. A new process started with `-sf PID...`/`-st PID...` asks each old pid for its
sockets before binding anything; `-x PATH` asks at a path instead (HAProxy's form, meant
for a `stats socket ... expose-fd listeners`, which routes its `_getsocks` command here).
The new process then listens on the very same sockets (same kernel accept queue), so that
connections waiting in the queue when the old process stops accepting are not reset: they
are simply accepted by the new one.

The dialogue, on a stream socket:
    client: `_getsocks\\n`
    server: `WEIRFD1 <count>\\n`
    client: `ok\\n`                     (so that the client never reads past the header)
    server: one byte per batch of at most 200 descriptors, carried as SCM_RIGHTS.
The receiver recognises each socket by what the kernel says of it (family, bound address,
listening state); nothing else travels.

Trust: on the abstract socket the server serves only root and its own (starting) user,
checked with SO_PEERCRED; the client checks that the server is the pid it asked for, so a
process squatting on the name cannot hand out sockets of its own. A path given with `-x`
is trusted like HAProxy trusts it: through its file permissions.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
from collections.abc import Callable, Sequence

REQUEST = b"_getsocks\n"
MAGIC = b"WEIRFD1"
ACK = b"ok\n"
BATCH = 200  # descriptors per message (the kernel's limit is 253)
_CRED = struct.Struct("3i")  # struct ucred: pid, uid, gid
_IO_TIMEOUT = 2.0


class HandoverError(OSError):
    """The sockets could not be fetched; the message says from where and why."""


def abstract_name(pid: int) -> str:
    return f"\0weir/{pid}/listeners"


def peer_cred(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end of a UNIX socket."""
    pid, uid, gid = _CRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size))
    return pid, uid, gid


# --------------------------------------------------------------------------- sending


def send_listeners(conn: socket.socket, socks: Sequence[socket.socket]) -> None:
    """Answer one `_getsocks` request already read from `conn` (blocking, bounded by a
    short timeout): header, wait for the ack, then the descriptors in batches."""
    conn.settimeout(_IO_TIMEOUT)
    fds = [s.fileno() for s in socks if s.fileno() >= 0]
    conn.sendall(MAGIC + f" {len(fds)}\n".encode())
    if not fds:
        return
    if _read_line(conn, len(ACK)) != ACK:
        raise HandoverError("the receiver did not acknowledge the header")
    for i in range(0, len(fds), BATCH):
        socket.send_fds(conn, [b"F"], fds[i : i + BATCH])


class Exporter:
    """Serves the current listening sockets of this process on `abstract_name(getpid())`.

    `sockets` is asked at each request, so that it always reflects the live listeners.
    The host event loop (asyncio's add_reader, or the master's selector) calls
    `on_readable` when the listening socket is readable. Each exchange is short and
    bounded by a 2 s timeout; it runs inline because it happens once per reload, with a
    client that has just connected and already sent its request.
    """

    def __init__(
        self,
        sockets: Callable[[], Sequence[socket.socket]],
        *,
        say: Callable[[str, str], None] | None = None,
    ) -> None:
        self.sockets = sockets
        self.say = say
        # Who may fetch: root, and whoever this process was started as (before any
        # privilege drop, which is why this is read here, at creation).
        self.allowed = {0, os.getuid(), os.geteuid()}
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.bind(abstract_name(os.getpid()))
            self.sock.listen(8)
        except OSError:
            self.sock.close()
            raise
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def on_readable(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            with conn:
                self._serve(conn)

    def _serve(self, conn: socket.socket) -> None:
        try:
            pid, uid, _ = peer_cred(conn)
            if uid not in self.allowed:
                if self.say is not None:
                    self.say(
                        "WARNING",
                        f"refused to hand the listening sockets to pid {pid} (uid {uid})",
                    )
                return
            conn.settimeout(_IO_TIMEOUT)
            if _read_line(conn, len(REQUEST)) != REQUEST:
                return
            send_listeners(conn, self.sockets())
        except OSError as e:
            if self.say is not None:
                self.say("WARNING", f"handing the listening sockets over failed: {e}")

    def close(self) -> None:
        self.sock.close()


# --------------------------------------------------------------------------- receiving


def _read_line(sock: socket.socket, limit: int) -> bytes:
    """Bytes up to and including a newline, read one at a time so that nothing beyond the
    line (a byte carrying descriptors) is consumed; at most `limit` bytes."""
    out = bytearray()
    while len(out) < limit:
        b = sock.recv(1)
        if not b:
            break
        out += b
        if b == b"\n":
            break
    return bytes(out)


def _receive(sock: socket.socket, where: str) -> list[socket.socket]:
    sock.sendall(REQUEST)
    header = _read_line(sock, 64)
    magic, _, count = header.strip().partition(b" ")
    if magic != MAGIC or not count.isdigit():
        raise HandoverError(f"{where} does not hand over listening sockets")
    want = int(count)
    if want == 0:
        return []
    sock.sendall(ACK)
    fds: list[int] = []
    try:
        while len(fds) < want:
            msg, got, _flags, _ = socket.recv_fds(sock, 1, min(BATCH, want - len(fds)))
            if not msg:
                raise HandoverError(f"{where} closed the connection after {len(fds)} sockets")
            fds.extend(got)
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return [socket.socket(fileno=fd) for fd in fds]


def fetch_from_pid(pid: int, timeout: float = _IO_TIMEOUT) -> list[socket.socket] | None:
    """The listening sockets of weir process `pid`; None when it offers none (not a weir
    process, or one that is not listening any more). Raises HandoverError when the process
    answered but the exchange failed."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with sock:
        sock.settimeout(timeout)
        try:
            sock.connect(abstract_name(pid))
        except (ConnectionRefusedError, FileNotFoundError):
            return None
        peer, _, _ = peer_cred(sock)
        if peer != pid:
            raise HandoverError(
                f"the hand-over socket of pid {pid} belongs to pid {peer}; not trusting it"
            )
        try:
            return _receive(sock, f"process {pid}")
        except OSError as e:
            if isinstance(e, HandoverError):
                raise
            raise HandoverError(f"fetching the listening sockets of pid {pid}: {e}") from None


def fetch_from_path(path: str, timeout: float = _IO_TIMEOUT) -> list[socket.socket]:
    """The listening sockets offered on the UNIX socket at `path` (`-x`)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with sock:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
            return _receive(sock, f"'{path}'")
        except HandoverError:
            raise
        except OSError as e:
            raise HandoverError(
                f"cannot fetch the listening sockets from '{path}': {e.strerror or e}"
            ) from None


# --------------------------------------------------------------------------- registry

_current: list[Callable[[], Sequence[socket.socket]]] = []


def set_current(sockets: Callable[[], Sequence[socket.socket]] | None) -> None:
    """Record where this process's live listening sockets are (None: it has none)."""
    _current.clear()
    if sockets is not None:
        _current.append(sockets)


def current_listeners() -> list[socket.socket]:
    """This process's live listening sockets, for a `_getsocks` request that arrives on
    another socket (the runtime API's `stats socket ... expose-fd listeners`)."""
    if not _current:
        return []
    with contextlib.suppress(OSError):
        return [s for s in _current[0]() if s.fileno() >= 0]
    return []
