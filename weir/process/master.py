"""The master: owns the listening sockets, runs the workers, replaces them, reloads.

Theory of operation
-------------------
With `master-worker` (`-W`, `-Ws`) or `nbthread N` > 1, the process that bound the
listeners becomes a master. It forks one worker per `nbthread`; each worker inherits the
listening sockets, so all of them accept from the same kernel queues (no SO_REUSEPORT is
involved in sharing them). The master never serves traffic, keeps its privileges (to bind
new ports on reload) and stays out of any chroot; it runs a plain select loop, not an
event loop, so that forking from it is simple.

Supervision: a worker that dies while it should be serving is replaced in the same slot
(HAProxy's master exits instead, since its single worker is the whole proxy; a weir worker
is one of N, like one of HAProxy's threads). A slot whose workers keep dying — 5 times in
10 s — ends the master, as HAProxy's `exit-on-failure` does, unless
`master-worker no-exit-on-failure`, which leaves that slot empty. Workers learn that the
master has died from a pipe only the master writes to: they then soft-stop.

Reload (master-worker mode only; SIGUSR2, SIGHUP, or the master CLI's `reload`): the
configuration files are read again in the master. If they do not load, or a new port
cannot be bound, nothing changes. Otherwise a new generation of workers is forked with the
new configuration; sockets of addresses that stay are the same sockets. Once every new
worker is serving, the old ones get SIGUSR1 (they finish their connections and leave)
and the master drops the sockets of addresses no longer configured. A new worker that dies
before it serves, or a generation not ready within 60 s, fails the reload: the new workers
are stopped, the old ones keep serving. The master reads the configuration again but not
weir's own code: upgrading weir needs a restart (or a new process with -sf).

Without master-worker mode (only `nbthread` > 1) the master is a plain parent: it forwards
SIGHUP, SIGTTOU and SIGTTIN to the workers and ignores SIGUSR2. In both modes SIGUSR1 soft-
stops every worker and SIGTERM/SIGINT stops them now; the master exits 0 once they are
gone. The pidfile holds the master's pid, which is what `-sf` is given.

Per-worker state (documented in docs/process.md): health checks run in every worker,
counters and the stats page are per worker, and `maxconn` limits each worker.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import struct
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from weir.config.model import Config
from weir.net.listener import InheritedSockets
from weir.process import handover
from weir.process.conf import process_conf
from weir.process.listeners import BoundListener, bind_listeners, close_all, count_binds
from weir.process.run import (
    SIGNALS,
    RunOptions,
    ServiceSockets,
    WorkerLink,
    bind_services,
    serve_worker,
    signal_old,
)
from weir.process.system import (
    Detached,
    Reporter,
    StartupError,
    apply_cpu_map,
    apply_fd_limit,
    detach_stdio,
    sd_notify,
)

READY_TIMEOUT = 60.0  # seconds a new generation has to start serving
KILL_AFTER = 10.0  # seconds after SIGTERM before a worker that did not leave is killed
CRASH_WINDOW = 10.0
CRASH_LIMIT = 5
_PID = struct.Struct("=i")


@dataclass(slots=True)
class Worker:
    pid: int
    slot: int  # from 1: HAProxy's thread number (cpu-map)
    generation: int  # the master's reload count when it was forked
    started: float  # time.time()
    ready: bool = False
    leaving: bool = False  # told to stop (reload or stop)
    reloads: int = 0  # reloads survived while leaving


@dataclass(slots=True)
class Generation:
    """A configuration being started by a reload: its workers are not all serving yet."""

    number: int
    cfg: Config
    listeners: list[BoundListener]
    services: ServiceSockets
    deadline: float
    pids: set[int] = field(default_factory=set)


def describe_status(status: int) -> tuple[int, str]:
    """(code, word) for a wait status as HAProxy reports it: `exited with code 137
    (Killed)`; a signal shows as 128 + its number."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return 128 + sig, signal.strsignal(sig) or f"signal {sig}"
    return os.waitstatus_to_exitcode(status), "Exit"


class Master:
    def __init__(
        self,
        cfg: Config,
        listeners: list[BoundListener],
        services: ServiceSockets,
        *,
        opts: RunOptions,
        say: Reporter,
        detached: Detached,
    ) -> None:
        self.cfg = cfg
        self.listeners = listeners
        self.services = services
        self.opts = opts
        self.say = say
        self.detached = detached
        pg = process_conf(cfg)
        self.reloadable = opts.master_worker or opts.systemd or pg.master_worker
        self.exit_on_failure = pg.exit_on_failure
        self.started = time.time()
        self.workers: dict[int, Worker] = {}
        self.current_gen = 0  # the generation whose configuration is in service
        self.next_gen = 1
        self.reloads = 0  # reloads asked for (HAProxy's count in `show proc`)
        self.failed_reloads = 0
        self.starting: Generation | None = None  # a reload in progress
        self.first_start = True
        self.reload_wanted = False
        self.stopping = ""  # "", "soft" or "hard"
        self.status = 0
        self.kill_at = 0.0
        self.crashes: dict[int, deque[float]] = {}
        self.signals: deque[int] = deque()
        self.sel = selectors.DefaultSelector()
        # Workers see EOF on `alive_r` when the master is gone; they report readiness
        # with their pid on `ready_w`.
        self.alive_r, self.alive_w = os.pipe()
        self.ready_r, self.ready_w = os.pipe()
        self.wake_r, self.wake_w = os.pipe()
        for fd in (self.ready_r, self.wake_r, self.wake_w):
            os.set_blocking(fd, False)
        self.exporter: handover.Exporter | None = None
        self.cli: Any = None  # weir.process.mcli.MasterCli when -S is given

    # -- main loop -----------------------------------------------------------------------

    def run(self) -> int:
        for sig in (*SIGNALS, signal.SIGCHLD):
            signal.signal(sig, self._on_signal)
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        self.sel.register(self.wake_r, selectors.EVENT_READ, self._drain_wake)
        self.sel.register(self.ready_r, selectors.EVENT_READ, self._read_ready)
        try:
            self.exporter = handover.Exporter(
                lambda: [bl.sock for bl in self.listeners], say=self.say
            )
            self.sel.register(self.exporter.fileno(), selectors.EVENT_READ, self._export)
        except OSError as e:
            self.say("WARNING", f"cannot offer the listening sockets to a successor: {e}")
        handover.set_current(lambda: [bl.sock for bl in self.listeners])
        if self.opts.master_cli:
            try:
                from weir.process.mcli import MasterCli

                self.cli = MasterCli(self, self.opts.master_cli)
            except StartupError as e:
                self.say("ALERT", str(e))
                self._cleanup()
                return 1
        self.starting = Generation(
            0, self.cfg, self.listeners, self.services, time.monotonic() + READY_TIMEOUT
        )
        for slot in range(1, self.cfg.global_.nbthread + 1):
            self._fork(slot, self.starting)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, (*SIGNALS, signal.SIGCHLD))
        try:
            while self.workers or not self.stopping:
                for key, _ in self.sel.select(self._timeout()):
                    key.data()
                self._handle_signals()
                self._timers()
                if self.stopping and not self.workers:
                    break
                if not self.workers and self.starting is None and not self.stopping:
                    # Every slot gave up (no-exit-on-failure): nothing is left to serve.
                    self.say("ALERT", "no worker left: exiting")
                    self.status = self.status or 1
                    break
        finally:
            self._cleanup()
        if self.stopping:
            self.say("WARNING", f"All workers exited. Exiting... ({self.status})")
        return self.status

    def _timeout(self) -> float:
        t = 1.0
        now = time.monotonic()
        if self.starting is not None:
            t = min(t, max(0.0, self.starting.deadline - now))
        if self.kill_at:
            t = min(t, max(0.0, self.kill_at - now))
        return t

    def _cleanup(self) -> None:
        if self.cli is not None:
            self.cli.close()
        if self.exporter is not None:
            self.exporter.close()
            self.exporter = None
        handover.set_current(None)
        close_all(self.listeners)
        self.services.close()
        if self.starting is not None and self.starting.listeners is not self.listeners:
            close_all(self.starting.listeners)
            self.starting.services.close()
        signal.set_wakeup_fd(-1)
        for fd in (self.alive_r, self.alive_w, self.ready_r, self.ready_w, self.wake_r):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.sel.close()

    def _on_signal(self, sig: int, _frame: object) -> None:
        self.signals.append(sig)

    def _drain_wake(self) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while os.read(self.wake_r, 512):
                pass

    def _export(self) -> None:
        if self.exporter is not None:
            self.exporter.on_readable()

    # -- workers -------------------------------------------------------------------------

    def _fork(self, slot: int, gen: Generation) -> int:
        # Signals stay blocked across fork so that none reaches the child's copy of the
        # master's handlers; the worker unblocks them once its own are in place.
        old = signal.pthread_sigmask(signal.SIG_BLOCK, (*SIGNALS, signal.SIGCHLD))
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                status = self._child(slot, gen)
            except BaseException:
                with contextlib.suppress(Exception):
                    traceback.print_exc()
            finally:
                os._exit(status)
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
        self.workers[pid] = Worker(pid, slot, gen.number, time.time())
        gen.pids.add(pid)
        self.say("NOTICE", f"New worker ({pid}) forked")
        return pid

    def _child(self, slot: int, gen: Generation) -> int:
        """In the forked worker: shed the master's state, then serve `gen`."""
        signal.set_wakeup_fd(-1)
        for sig in (*SIGNALS, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        self.sel.close()
        mine = {id(bl.sock) for bl in gen.listeners}
        others = [bl for bl in self.listeners if id(bl.sock) not in mine]
        if self.services is not gen.services:
            self.services.close()
        if self.starting is not None and self.starting is not gen:
            others += [bl for bl in self.starting.listeners if id(bl.sock) not in mine]
            self.starting.services.close()
        close_all(others)
        if self.exporter is not None:
            self.exporter.close()
        if self.cli is not None:
            self.cli.close_in_child()
        handover.set_current(None)
        for fd in (self.alive_w, self.ready_r, self.wake_r, self.wake_w):
            os.close(fd)
        self.detached.close()
        ready_w = self.ready_w
        detach = self.detached_mode

        def ready() -> None:
            if detach:
                detach_stdio()
            with contextlib.suppress(OSError):
                os.write(ready_w, _PID.pack(os.getpid()))
                os.close(ready_w)

        apply_cpu_map(gen.cfg, slot, self.say)
        link = WorkerLink(
            number=slot,
            on_ready=ready,
            master_fd=self.alive_r,
            services=gen.services,
            debug=self.opts.debug,
            workers=gen.cfg.global_.nbthread,
            mesh=f"{os.getppid()}-{gen.number}",
            old_pids=[
                w.pid for w in self.workers.values() if w.slot == slot and w.generation < gen.number
            ],
        )
        return serve_worker(gen.cfg, gen.listeners, self.say, link)

    @property
    def detached_mode(self) -> bool:
        g = self.cfg.global_
        return (
            (self.opts.daemon or g.daemon) and not self.opts.foreground and not (self.opts.systemd)
        )

    def _read_ready(self) -> None:
        try:
            data = os.read(self.ready_r, _PID.size * 64)
        except (BlockingIOError, InterruptedError):
            return
        for (pid,) in _PID.iter_unpack(data[: len(data) - len(data) % _PID.size]):
            w = self.workers.get(pid)
            if w is not None:
                w.ready = True
        gen = self.starting
        if gen is not None and all(p in self.workers and self.workers[p].ready for p in gen.pids):
            self._generation_ready(gen)

    def _generation_ready(self, gen: Generation) -> None:
        self.starting = None
        if gen.number == 0:
            self.say("NOTICE", "Loading success.")
            signal_old(self.opts)
            if self.opts.systemd:
                sd_notify(f"READY=1\nMAINPID={os.getpid()}")
            self.detached.ready([os.getpid()])
            return
        old_listeners, old_services = self.listeners, self.services
        self.cfg, self.listeners, self.services = gen.cfg, gen.listeners, gen.services
        self.current_gen = gen.number
        self.exit_on_failure = process_conf(gen.cfg).exit_on_failure
        close_all(old_listeners)
        old_services.close()
        limit = process_conf(gen.cfg).mworker_max_reloads
        for w in self.workers.values():
            if w.generation != gen.number:
                if not w.leaving:
                    w.leaving = True
                    self._kill(w.pid, signal.SIGUSR1)
                w.reloads += 1
                if limit and w.reloads > limit:
                    self.say(
                        "WARNING",
                        f"Former worker ({w.pid}) survived {w.reloads} reloads "
                        "(mworker-max-reloads): sending SIGTERM",
                    )
                    self._kill(w.pid, signal.SIGTERM)
        self.say("NOTICE", "Loading success.")
        if self.opts.systemd:
            sd_notify("READY=1")
        if self.reload_wanted:
            self.reload_wanted = False
            self.reload()

    def _kill(self, pid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            w = self.workers.pop(pid, None)
            if w is not None:
                self._exited(w, status)

    def _exited(self, w: Worker, status: int) -> None:
        code, word = describe_status(status)
        gen = self.starting
        if gen is not None and w.pid in gen.pids and not self.stopping:
            self.say("ALERT", f"New worker ({w.pid}) exited with code {code} ({word})")
            self._start_failed(gen, f"a new worker exited with code {code} ({word})", code)
            return
        if w.leaving or self.stopping:
            what = "Former" if w.generation != self.current_gen else "Current"
            level = "WARNING" if code == 0 else "ALERT"
            self.say(level, f"{what} worker ({w.pid}) exited with code {code} ({word})")
            return
        # A worker of the configuration in service died: replace it.
        self.say("ALERT", f"Current worker ({w.pid}) exited with code {code} ({word})")
        times = self.crashes.setdefault(w.slot, deque(maxlen=CRASH_LIMIT))
        now = time.monotonic()
        times.append(now)
        if len(times) == CRASH_LIMIT and now - times[0] < CRASH_WINDOW:
            if self.exit_on_failure:
                self.say("ALERT", "exit-on-failure: killing every processes with SIGTERM")
                self.status = code or 1
                self._stop("hard")
                return
            self.say(
                "ALERT",
                f"worker slot {w.slot} keeps failing: not restarting it (no-exit-on-failure)",
            )
            return
        current = Generation(self.current_gen, self.cfg, self.listeners, self.services, 0.0)
        self._fork(w.slot, current)

    def _start_failed(self, gen: Generation, why: str, code: int) -> None:
        """A generation could not start: stop what started of it."""
        self.starting = None
        for pid in gen.pids:
            w = self.workers.get(pid)
            if w is not None:
                w.leaving = True
                self._kill(pid, signal.SIGTERM)
        if gen.number == 0:
            # Nothing was serving yet: the start-up failed.
            self.say("ALERT", f"start-up failed: {why}")
            self.status = code or 1
            self._stop("hard")
            return
        if gen.listeners is not self.listeners:
            close_all(gen.listeners)
            gen.services.close()
        self.failed_reloads += 1
        self.say("ALERT", f"reload failed: {why}; the previous configuration stays in service")
        if self.opts.systemd:
            sd_notify("READY=1")

    def _timers(self) -> None:
        now = time.monotonic()
        gen = self.starting
        if gen is not None and now >= gen.deadline:
            self._start_failed(gen, f"the workers were not serving after {READY_TIMEOUT:.0f}s", 1)
        if self.kill_at and now >= self.kill_at:
            self.kill_at = 0.0
            for pid in list(self.workers):
                self._kill(pid, signal.SIGKILL)

    # -- signals -------------------------------------------------------------------------

    def _handle_signals(self) -> None:
        while self.signals:
            sig = self.signals.popleft()
            if sig == signal.SIGCHLD:
                self._reap()
            elif sig in (signal.SIGTERM, signal.SIGINT):
                self._stop("hard")
            elif sig == signal.SIGUSR1:
                self._stop("soft")
            elif sig in (signal.SIGUSR2, signal.SIGHUP) and self.reloadable:
                self.reload()
            elif sig in (signal.SIGHUP, signal.SIGTTOU, signal.SIGTTIN):
                self._forward(sig)

    def _forward(self, sig: int) -> None:
        for pid in list(self.workers):
            self._kill(pid, sig)

    def _stop(self, how: str) -> None:
        if self.stopping in ("hard", how):
            return
        if not self.stopping:
            self.say("WARNING", "Exiting Master process...")
        self.stopping = how
        self.starting = None
        sig = signal.SIGTERM if how == "hard" else signal.SIGUSR1
        for w in self.workers.values():
            w.leaving = True
        self._forward(sig)
        if how == "hard":
            self.kill_at = time.monotonic() + KILL_AFTER
        # Stop offering and holding the sockets: the workers have their own copies.
        if self.exporter is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(self.exporter.fileno())
            self.exporter.close()
            self.exporter = None
        handover.set_current(None)
        close_all(self.listeners)
        self.services.close()
        if self.opts.systemd:
            sd_notify("STOPPING=1")

    # -- reload --------------------------------------------------------------------------

    def reload(self) -> str | None:
        """Start a new generation with the configuration read again. Returns a message
        when nothing was started (the reason is also printed)."""
        if self.stopping:
            return "the master is stopping"
        if self.starting is not None:
            self.reload_wanted = True
            return None
        self.reloads += 1
        self.say("NOTICE", "Reloading weir")
        if self.opts.systemd:
            sd_notify("RELOADING=1")
        problem = self._start_generation()
        if problem is not None:
            self.failed_reloads += 1
            self.say("ALERT", f"reload failed: {problem}; the previous configuration stays")
            if self.opts.systemd:
                sd_notify("READY=1")
        return problem

    def _start_generation(self) -> str | None:
        from weir.config.diagnostics import Diagnostics
        from weir.config.loader import load
        from weir.net.listener import BindError

        diags = Diagnostics()
        cfg = load(self.opts.files, diags)
        diags.print(self.say.out, quiet=self.say.quiet)
        if diags.has_errors():
            return "the configuration has errors"
        pool = InheritedSockets(bl.sock.dup() for bl in self.listeners)
        try:
            apply_fd_limit(cfg, count_binds(cfg), self.say)
            listeners = bind_listeners(
                cfg, inherited=pool, reuseport=not process_conf(cfg).noreuseport
            )
        except (BindError, StartupError) as e:
            return str(e)
        finally:
            pool.close_rest()
        try:
            services = bind_services(cfg)
        except BindError as e:
            close_all(listeners)
            return str(e)
        gen = Generation(self.next_gen, cfg, listeners, services, time.monotonic() + READY_TIMEOUT)
        self.next_gen += 1
        self.starting = gen
        for slot in range(1, cfg.global_.nbthread + 1):
            self._fork(slot, gen)
        return None

    # -- for the master CLI ----------------------------------------------------------------

    def processes(self) -> list[Worker]:
        return sorted(self.workers.values(), key=lambda w: (w.leaving, w.generation, w.slot))
