"""The master CLI (`-S <address>[,<option>,<value>...]`): supervise the processes of a
master, and reload it.

Commands: `show proc`, `reload`, `show version`, `help`, `prompt`, `quit`, `operator`, `user`.
`@<relative pid> <command>` and `@!<pid> <command>` relay a command to a worker's runtime
API (the worker answers on an abstract unix socket named after its pid), at the level of
the master CLI connection. A connection without `prompt` is closed once the lines it sent
are answered;
`reload` answers nothing and closes the connection, as HAProxy's does.

The master runs a select loop, not an event loop, so this module is written for it:
non-blocking accepts and reads driven by the master's selector, short blocking writes.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import selectors
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

from weir.config.address import AddressError, Family, parse_address
from weir.net.listener import BindError, open_listening_sockets
from weir.process.system import StartupError
from weir.version import __version__

if TYPE_CHECKING:
    from weir.process.master import Master

_LEVELS = {"user": 1, "operator": 2, "admin": 3}
_MAX_LINE = 16 * 1024
_WRITE_TIMEOUT = 2.0

HELP = """\
The following commands are valid at this level:
  @!<pid>                                 : send a command to the <pid> process
  @<relative pid>                         : send a command to the <relative pid> process
  @master                                 : send a command to the master process
  operator                                : lower the level of the current CLI session to operator
  reload                                  : reload weir
  show proc                               : show processes status
  show version                            : show version of the current process
  user                                    : lower the level of the current CLI session to user
  help [<command>]                        : list matching or all commands
  prompt                                  : toggle interactive mode with prompt
  quit                                    : disconnect
"""


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """`/path,mode,600,level,user` -> ("/path", {"mode": "600", "level": "user"})."""
    words = spec.split(",")
    where, rest = words[0], words[1:]
    if len(rest) % 2:
        raise StartupError(f"master CLI '{spec}': option '{rest[-1]}' expects a value")
    opts: dict[str, str] = {}
    for name, value in zip(rest[::2], rest[1::2], strict=True):
        if name not in ("mode", "uid", "gid", "user", "group", "level"):
            raise StartupError(
                f"master CLI '{spec}': unknown option '{name}' "
                "(weir knows mode, uid, gid, user, group, level)"
            )
        opts[name] = value
    if "level" in opts and opts["level"] not in _LEVELS:
        raise StartupError(f"master CLI '{spec}': level must be user, operator or admin")
    return where, opts


def _bind(spec: str) -> tuple[socket.socket, int]:
    where, opts = parse_spec(spec)
    try:
        addr = parse_address(where, for_bind=True)
    except AddressError as e:
        raise StartupError(f"master CLI '{spec}': {e}") from None
    if addr.family is Family.FD or addr.port_low != addr.port_high:
        raise StartupError(f"master CLI '{spec}': expects a UNIX path or one address:port")
    try:
        (sock,) = open_listening_sockets(addr, backlog=16, v6only=None)
    except BindError as e:
        raise StartupError(f"master CLI: {e}") from None
    if addr.family is Family.UNIX:
        try:
            uid = int(opts["uid"]) if "uid" in opts else -1
            gid = int(opts["gid"]) if "gid" in opts else -1
            if "user" in opts:
                uid = pwd.getpwnam(opts["user"]).pw_uid
            if "group" in opts:
                gid = grp.getgrnam(opts["group"]).gr_gid
            if "mode" in opts:
                Path(addr.host).chmod(int(opts["mode"], 8))
            if uid != -1 or gid != -1:
                os.chown(addr.host, uid, gid)
        except (KeyError, ValueError, OSError) as e:
            sock.close()
            raise StartupError(f"master CLI '{spec}': {e}") from None
    return sock, _LEVELS[opts.get("level", "admin")]


class _Conn:
    __slots__ = ("buf", "level", "prompt", "sock")

    def __init__(self, sock: socket.socket, level: int) -> None:
        self.sock = sock
        self.level = level
        self.buf = bytearray()
        self.prompt = False


class MasterCli:
    """The master CLI's sockets and connections, driven by the master's selector."""

    def __init__(self, master: Master, specs: list[str]) -> None:
        self.master = master
        self.listeners: list[tuple[socket.socket, int]] = []
        self.conns: dict[int, _Conn] = {}
        try:
            for spec in specs:
                self.listeners.append(_bind(spec))
        except StartupError:
            self.close()
            raise
        for sock, level in self.listeners:
            sock.setblocking(False)
            master.sel.register(
                sock.fileno(),
                selectors.EVENT_READ,
                lambda s=sock, lv=level: self._accept(s, lv),
            )

    # -- life cycle ----------------------------------------------------------------------

    def close(self) -> None:
        for fd in list(self.conns):
            self._drop(fd)
        for sock, _ in self.listeners:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.master.sel.unregister(sock.fileno())
            sock.close()
        self.listeners.clear()

    def close_in_child(self) -> None:
        """A forked worker drops its copies (the master's selector is not its own)."""
        for c in self.conns.values():
            c.sock.close()
        for sock, _ in self.listeners:
            sock.close()

    def _accept(self, sock: socket.socket, level: int) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            conn.setblocking(False)
            fd = conn.fileno()
            self.conns[fd] = _Conn(conn, level)
            self.master.sel.register(fd, selectors.EVENT_READ, lambda fd=fd: self._read(fd))

    def _drop(self, fd: int) -> None:
        c = self.conns.pop(fd, None)
        if c is None:
            return
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.master.sel.unregister(fd)
        c.sock.close()

    def _read(self, fd: int) -> None:
        c = self.conns.get(fd)
        if c is None:
            return
        try:
            data = c.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(fd)
            return
        c.buf += data
        if len(c.buf) > _MAX_LINE and b"\n" not in c.buf:
            self._drop(fd)
            return
        answered = False
        while True:
            line, sep, rest = bytes(c.buf).partition(b"\n")
            if not sep:
                break
            c.buf = bytearray(rest)
            for command in line.decode(errors="replace").split(";"):
                answered = True
                keep = self._run(c, command.strip())
                if not keep:
                    self._drop(fd)
                    return
        if answered and not c.prompt:
            self._drop(fd)

    def _send(self, c: _Conn, text: str) -> None:
        try:
            c.sock.settimeout(_WRITE_TIMEOUT)
            c.sock.sendall(text.encode())
            c.sock.setblocking(False)
        except OSError:
            pass

    # -- commands ------------------------------------------------------------------------

    def _run(self, c: _Conn, line: str) -> bool:
        """Answer one command; False when the connection must close."""
        words = line.split()
        out = ""
        if not words:
            out = ""
        elif words[0].startswith("@"):
            target = words[0][1:]
            if target in ("", "master"):
                if len(words) > 1:
                    return self._run(c, " ".join(words[1:]))
            else:
                out = self._relay(target, " ".join(words[1:]), c.level)
        elif words == ["show", "proc"]:
            out = self.show_proc()
        elif words == ["show", "version"]:
            out = f"{__version__}\n"
        elif words[0] == "help":
            out = HELP
        elif words == ["prompt"]:
            c.prompt = not c.prompt
        elif words == ["quit"]:
            return False
        elif words == ["operator"]:
            c.level = min(c.level, _LEVELS["operator"])
        elif words == ["user"]:
            c.level = min(c.level, _LEVELS["user"])
        elif words == ["reload"]:
            if c.level < _LEVELS["operator"]:
                out = "Permission denied\n"
            else:
                self._send(c, "")
                self.master.reload()
                return False
        else:
            out = "Unknown command: '" + line + "'\n\n" + HELP
        self._send(c, out + ("\nmaster> " if c.prompt else "\n"))
        return True

    def _relay(self, target: str, line: str, level: int) -> str:
        """`@<relative pid> <command>` / `@!<pid> <command>`: the answer of that worker's
        runtime API (weir.process.run serves it on an abstract socket named after the
        worker's pid), at this connection's level."""
        current = [w for w in self.master.processes() if not w.leaving]
        pid = None
        if target.startswith("!") and target[1:].isdigit():
            wanted = int(target[1:])
            pid = next((w.pid for w in self.master.processes() if w.pid == wanted), None)
        elif target.isdigit():
            pid = next((w.pid for w in current if w.slot == int(target)), None)
        if pid is None:
            return f"Can't find the target CLI '@{target}'!\n"
        if not line:
            return ""
        prefix = {v: k for k, v in _LEVELS.items()}.get(level, "user")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(_RELAY_TIMEOUT)
                s.connect(worker_cli_socket(pid))
                s.sendall(f"{prefix}\n{line}\n".encode())
                s.shutdown(socket.SHUT_WR)
                chunks = []
                while chunk := s.recv(65536):
                    chunks.append(chunk)
        except OSError as e:
            return f"Can't reach the worker {pid}: {e.strerror or e}\n"
        return b"".join(chunks).decode(errors="replace")

    def show_proc(self) -> str:
        m = self.master
        now = time.time()
        row = "{:<15} {:<15} {:<15} {:<15} {:<15}\n"
        lines = [row.format("#<PID>", "<type>", "<reloads>", "<uptime>", "<version>")]
        lines.append(
            row.format(
                os.getpid(),
                "master",
                f"{m.reloads} [failed: {m.failed_reloads}]",
                _uptime(now - m.started),
                __version__,
            )
        )
        current = [w for w in m.processes() if not w.leaving]
        old = [w for w in m.processes() if w.leaving]
        lines.append("# workers\n")
        lines += [
            row.format(w.pid, "worker", w.reloads, _uptime(now - w.started), __version__)
            for w in current
        ]
        if old:
            lines.append("# old workers\n")
            lines += [
                row.format(w.pid, "worker", w.reloads, _uptime(now - w.started), __version__)
                for w in old
            ]
        lines.append("# programs\n")
        return "".join(lines)


def _uptime(seconds: float) -> str:
    s = max(0, int(seconds))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{d}d{h:02d}h{m:02d}m{s:02d}s"


_RELAY_TIMEOUT = 5.0  # seconds for a worker to answer a relayed command


def worker_cli_socket(pid: int) -> str:
    """The abstract unix socket where worker `pid` answers the master CLI's relays."""
    return f"\0weir-worker-cli-{pid}"
