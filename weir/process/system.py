"""What the process asks of the operating system: messages, detaching, pidfile, limits,
CPU affinity, chroot, identity, and systemd's readiness protocol.

Everything here runs before serving (or between forks), never on the data path.
"""

from __future__ import annotations

import contextlib
import grp
import importlib
import os
import pkgutil
import pwd
import resource
import socket
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from weir.config.model import Config
from weir.process.conf import process_conf


@dataclass(slots=True)
class Reporter:
    """Start-up and run-time messages in HAProxy's style: `[LEVEL]    (pid) : message`.

    With `quiet`, only alerts print (as HAProxy's -q)."""

    quiet: bool = False
    out: TextIO = field(default_factory=lambda: sys.stderr)

    def __call__(self, level: str, message: str) -> None:
        if self.quiet and level != "ALERT":
            return
        tag = f"[{level}]"
        with contextlib.suppress(OSError, ValueError):
            print(f"{tag:<10} ({os.getpid()}) : {message}", file=self.out, flush=True)


class StartupError(Exception):
    """Start-up cannot go on; the message is printed as an alert and the status is 1."""


# --------------------------------------------------------------------------- naming


def set_name(name: str) -> None:
    """Name this process `name` in the process table, whichever way it was started
    (`weir`, `python -m weir`): the command line shown by `ps` and matched by `pidof`
    (argv[0]) becomes `name` followed by the original arguments, and the kernel's short
    name, matched by `killall`, `ps -C`, `pgrep -x` and start-stop-daemon, becomes `name`
    (15 bytes at most). keepalived's `killall -0 weir` and `pidof weir` checks rely on it."""
    try:
        import setproctitle
    except ImportError:  # the title is cosmetic except for pidof; the short name below
        pass
    else:
        setproctitle.setproctitle(" ".join([name, *sys.argv[1:]]))
    with contextlib.suppress(OSError), open("/proc/self/comm", "w") as f:
        f.write(name[:15])


# --------------------------------------------------------------------------- detaching


class Detached:
    """The detached child's link to its foreground parent (see `daemonize`)."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def ready(self, pids: Iterable[int] = ()) -> None:
        """Start-up succeeded: leave the terminal (standard streams to /dev/null) and let
        the parent write the pidfile and exit 0. `pids` go to the pidfile instead of this
        process's own pid when given."""
        if self.fd < 0:
            return
        detach_stdio()
        text = "".join(f"{p}\n" for p in pids) or f"{os.getpid()}\n"
        with contextlib.suppress(OSError):
            os.write(self.fd, b"R" + text.encode())
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.fd = -1

    def close(self) -> None:
        """Forget the link without reporting (a forked worker drops its inherited copy)."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


def detach_stdio() -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError):
            os.dup2(devnull, fd)
    os.close(devnull)


def daemonize(pidfile: str | None, say: Reporter) -> Detached:
    """Fork into the background as HAProxy does with -D, but report start-up failures.

    The pidfile is opened first (an unwritable pidfile fails in the foreground). The parent
    then waits until the child calls `Detached.ready()` — it writes the pid(s) to the
    pidfile and exits 0 — or dies or gives up without it — it exits 1; the child's alerts
    reached the terminal, since the child keeps the standard streams until it is ready.
    """
    pid_fd = -1
    if pidfile:
        try:
            pid_fd = os.open(pidfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except OSError as e:
            raise StartupError(f"cannot create pidfile {pidfile}: {e.strerror}") from None
    r, w = os.pipe()
    child = os.fork()
    if child > 0:
        os.close(w)
        data = bytearray()
        while True:
            try:
                chunk = os.read(r, 4096)
            except InterruptedError:
                continue
            if not chunk:
                break
            data += chunk
        status = 0 if data.startswith(b"R") else 1
        if status == 0 and pid_fd >= 0:
            try:
                os.write(pid_fd, bytes(data[1:]))
            except OSError as e:
                say("ALERT", f"cannot write pidfile {pidfile}: {e.strerror}")
                status = 1
        os._exit(status)
    os.close(r)
    if pid_fd >= 0:
        os.close(pid_fd)
    os.setsid()
    return Detached(w)


def write_pidfile(path: str, pids: Iterable[int]) -> None:
    try:
        with open(path, "w") as f:
            f.write("".join(f"{p}\n" for p in pids))
    except OSError as e:
        raise StartupError(f"cannot create pidfile {path}: {e.strerror}") from None


def remove_pidfile(path: str, pid: int) -> None:
    """Remove the pidfile if it still names this process (a newer process may own it)."""
    with contextlib.suppress(OSError, ValueError), open(path) as f:
        if f.read().split()[:1] == [str(pid)]:
            Path(path).unlink()


# --------------------------------------------------------------------------- limits


@dataclass(slots=True)
class FdPlan:
    """The file-descriptor limit the process will run with, and why."""

    wanted: int  # 0: leave the limit as it is
    reason: str


def fd_plan(cfg: Config, listeners: int) -> FdPlan:
    """What RLIMIT_NOFILE should be, as HAProxy computes it.

    `ulimit-n` wins. Otherwise a configured `maxconn` needs two descriptors per connection
    (client and server side) plus one per listener, per health-checked server and per log
    target, and a small margin. Without either, the process takes the hard limit (bounded
    by `fd-hard-limit`), from which the default maxconn is then derived.
    """
    g = process_conf(cfg)
    if g.ulimit_n:
        return FdPlan(g.ulimit_n, "ulimit-n")
    maxconn = cfg.global_.maxconn
    if maxconn:
        servers = sum(len(px.servers) for px in cfg.proxies)
        logs = len(cfg.global_.logs) + sum(len(px.logs) for px in cfg.proxies)
        return FdPlan(maxconn * 2 + listeners + servers + logs + 20, "maxconn")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = g.fd_hard_limit or 1 << 20  # never ask for a billion descriptors
    return FdPlan(min(cap, hard if hard != resource.RLIM_INFINITY else cap), "hard limit")


def apply_fd_limit(cfg: Config, listeners: int, say: Reporter) -> None:
    """Set RLIMIT_NOFILE per `fd_plan`: raise (root may raise the hard limit too) or warn;
    with `strict-limits`, failing to reach the wanted limit is fatal."""
    g = process_conf(cfg)
    plan = fd_plan(cfg, listeners)
    wanted = plan.wanted
    if g.fd_hard_limit and wanted > g.fd_hard_limit:
        wanted = g.fd_hard_limit
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if wanted == soft:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(hard, wanted)))
        return
    except (OSError, ValueError):
        pass
    if g.strict_limits:
        raise StartupError(f"cannot raise the file-descriptor limit to {wanted}, it is {soft}")
    # At least go as high as the hard limit allows.
    best = min(wanted, hard) if hard != resource.RLIM_INFINITY else wanted
    with contextlib.suppress(OSError, ValueError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (best, hard))
    now, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if now < wanted:
        say("WARNING", f"cannot raise the file-descriptor limit to {wanted}, it is {now}")


# --------------------------------------------------------------------------- CPUs


def apply_cpu_map(cfg: Config, worker: int, say: Reporter) -> None:
    """Pin this process to the CPUs `cpu-map` gives worker `worker` (from 1), within the
    CPUs it is already allowed; an empty intersection leaves the affinity alone."""
    cpus = process_conf(cfg).cpu_map.get(worker)
    if not cpus or not hasattr(os, "sched_setaffinity"):
        return
    allowed = os.sched_getaffinity(0) & cpus
    if not allowed:
        say("WARNING", f"cpu-map: none of CPUs {sorted(cpus)} is available to worker {worker}")
        return
    try:
        os.sched_setaffinity(0, allowed)
    except OSError as e:
        say("WARNING", f"cpu-map: cannot pin worker {worker}: {e.strerror}")


# --------------------------------------------------------------------------- chroot

# Standard modules that weir or the libraries it uses import lazily, on first use: after a
# chroot there is no file system to import them from.
_LAZY_STDLIB = (
    "_strptime",
    "base64",
    "binascii",
    "calendar",
    "concurrent.futures",
    "concurrent.futures.thread",
    "datetime",
    "email.utils",
    "encodings.ascii",
    "encodings.idna",
    "encodings.latin_1",
    "encodings.utf_8",
    "hashlib",
    "hmac",
    "html",
    "http",
    "http.cookies",
    "ipaddress",
    "json",
    "json.decoder",
    "json.encoder",
    "linecache",
    "random",
    "ssl",
    "stringprep",
    "struct",
    "tokenize",
    "traceback",
    "unicodedata",
    "urllib.parse",
    "uuid",
    "zlib",
)


def preload_modules(say: Reporter) -> None:
    """Import every weir module and the standard modules imported lazily, and load what
    the C library reads on first use (time zone, libgcc_s for thread unwinding), so that
    the process keeps working once chrooted into an empty directory."""
    import weir

    for name in _LAZY_STDLIB:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    for info in pkgutil.walk_packages(weir.__path__, "weir."):
        if info.name in ("weir.__main__",):
            continue
        try:
            importlib.import_module(info.name)
        except Exception as e:  # a broken optional module must not stop the start
            say("WARNING", f"chroot: cannot preload module {info.name}: {e}")
    time.tzset()
    time.localtime()
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libgcc_s.so.1")
    # The loop's resolver and socket helpers encode names on first use.
    with contextlib.suppress(OSError, UnicodeError):
        socket.getaddrinfo("127.0.0.1", 0, type=socket.SOCK_STREAM)
    "weir".encode("idna")


def enter_chroot(path: str) -> None:
    try:
        os.chroot(path)
        os.chdir("/")
    except OSError as e:
        raise StartupError(f"cannot chroot({path}): {e.strerror}") from None


# --------------------------------------------------------------------------- identity


def drop_privileges(cfg: Config) -> None:
    """Switch to the configured group and user, as HAProxy does: supplementary groups are
    dropped with the group change; a user alone changes only the user id (`uid 0`, like
    HAProxy's unset value, changes nothing)."""
    g = cfg.global_
    if g.gid:
        try:
            if os.getgroups():
                os.setgroups([])
        except OSError:
            pass  # an unprivileged user cannot drop them; setgid below says if that matters
        try:
            os.setgid(g.gid)
        except OSError:
            raise StartupError(f"cannot set gid {g.gid}") from None
    if g.uid:
        try:
            os.setuid(g.uid)
        except OSError:
            raise StartupError(f"cannot set uid {g.uid}") from None


def identity_text(cfg: Config) -> str:
    g = cfg.global_
    parts = []
    if g.uid:
        with contextlib.suppress(KeyError):
            parts.append(f"user {pwd.getpwuid(g.uid).pw_name}")
    if g.gid:
        with contextlib.suppress(KeyError):
            parts.append(f"group {grp.getgrgid(g.gid).gr_name}")
    return ", ".join(parts)


# --------------------------------------------------------------------------- systemd


def sd_notify(state: str) -> bool:
    """Send `state` (e.g. "READY=1") to systemd's notification socket, if there is one."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    if path.startswith("@"):
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect(path)
            s.sendall(state.encode())
    except OSError:
        return False
    return True
