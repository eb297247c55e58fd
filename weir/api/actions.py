"""Runtime changes an operator asks for, shared by the runtime API and the stats page.

Every change of a server's state or weight goes through here, so that it reaches the
balancer (`server_up` / `server_down` / `set_weight`), wakes requests waiting in the
backend's queue when a server becomes usable, and prints HAProxy's line for it. The CLI
commands (`weir.api.commands_*`) and the stats page's admin form (`weir.stats.admin`) only
parse their input and call these methods.

weir keeps one state per server (`Server.state`: UP, DOWN, MAINT, DRAIN) where HAProxy keeps
an operational state and administrative flags apart, so a few combinations HAProxy can show
do not exist here: a DOWN server asked to drain stays DOWN, and a drained server that goes
DOWN and comes back comes back UP.

Health checks: the check scheduler skips a server in maintenance on its own. Turning a
server's checks off (`disable health`) cancels its check task and clears `check_status`
(None is "not checked" for stats); turning them on starts a new task. Both need the
scheduler, which the process hands over through `Control.checks`.

Pure module: no socket here; the check scheduler is only imported when checks change.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from weir.backend.server import Server, SrvState
from weir.config.model import Cap, ServerConf

if TYPE_CHECKING:
    from weir.check.scheduler import CheckScheduler
    from weir.proxy.runtime import Backend, Frontend, Runtime

Say = Callable[[str, str], None]
UPDATER = "stats socket command"

_INT = re.compile(r"\s*([+-]?\d+)")


def say_stderr(level: str, message: str) -> None:
    """HAProxy's stderr form: `[WARNING]  (pid) : message`."""
    tag = f"[{level}]"
    print(f"{tag:<10} ({os.getpid()}) : {message}", file=sys.stderr, flush=True)


def strtol(text: str) -> tuple[int | None, str]:
    """C's strtol in base 10: (value, what follows), or (None, text) without digits."""
    m = _INT.match(text)
    if m is None:
        return None, text
    return int(m.group(1)), text[m.end() :]


@dataclass(slots=True)
class ListenerHandle:
    """One listening socket of a frontend, as the process serves it: what
    `disable frontend` closes and `enable frontend` serves again.

    `server` is the object `loop.create_server(factory, sock=sock)` returned; `sock` the
    listening socket it serves; `factory` the protocol factory; `backlog` the listen queue.
    """

    frontend: Frontend
    sock: Any  # socket.socket
    factory: Callable[[], Any]
    backlog: int
    server: Any = None  # asyncio.Server while serving, None while paused
    address: Any = None  # (family, sockname, v6only) kept while paused


class Control:
    """Operator changes to one runtime. Methods return None on success or a message."""

    __slots__ = ("checks", "hard_maxconn", "listeners", "loop", "paused", "rt", "say")

    def __init__(
        self,
        rt: Runtime,
        *,
        checks: CheckScheduler | None = None,
        listeners: Sequence[ListenerHandle] = (),
        say: Say | None = None,
        loop: Any = None,
    ) -> None:
        self.rt = rt
        self.loop = loop  # asyncio loop serving the listeners (resuming a frontend needs it)
        self.checks = checks
        self.listeners = list(listeners)
        self.say = say or say_stderr
        self.paused: set[str] = set()  # names of frontends paused by `disable frontend`
        # The process-wide connection limit at start: `set maxconn global` may not exceed it.
        self.hard_maxconn = rt.limiter.limit

    # -- lookups -----------------------------------------------------------------------

    def backend(self, name: str) -> Backend | None:
        """A backend by name, or by `#<id>` (its proxy id as stats show it)."""
        be = self.rt.backends.get(name)
        if be is not None or not name.startswith("#"):
            return be
        from weir.api.conf import first_proxy_id

        try:
            iid = int(name[1:])
        except ValueError:
            return None
        base = first_proxy_id(self.rt.config)
        for i, px in enumerate(self.rt.config.proxies, base):
            if i == iid:
                return self.rt.backends.get(px.name) if px.cap.is_backend else None
        return None

    def frontend(self, name: str) -> Frontend | None:
        return next((fe for fe in self.rt.frontends if fe.name == name), None)

    @staticmethod
    def server(be: Backend, name: str) -> Server | None:
        """A server of `be` by name, or by `#<id>`."""
        if name.startswith("#"):
            try:
                puid = int(name[1:])
            except ValueError:
                return None
            return next((s for s in be.servers if s.puid == puid), None)
        return next((s for s in be.servers if s.name == name), None)

    @staticmethod
    def conf(be: Backend, srv: Server) -> ServerConf:
        """The configuration of `srv` (be.servers[i] is built from be.conf.servers[i])."""
        return be.conf.servers[be.servers.index(srv)]

    def check_of(self, srv: Server) -> Any:
        """The health-check task of `srv` in the scheduler (not its agent check), or None."""
        if self.checks is None:
            return None
        for c in self.checks.checks:
            if c.server is srv and not getattr(c, "agent", False):
                return c
        return None

    # -- administrative state ------------------------------------------------------------

    def set_ready(self, be: Backend, srv: Server, *, message: str = "") -> bool:
        """Leave maintenance or drain. Returns whether anything changed. `message` replaces
        what follows the server's name in the line reported (weir.dns: "resolves again").
        A server without an address (resolution maintenance, `srv.rmaint`) stays out."""
        state = srv.state
        if srv.rmaint and not message:
            return False
        if state is SrvState.MAINT:
            was = "maintenance"
            if srv.check_status is not None:
                # Back in service until the first check says otherwise, as HAProxy does.
                srv.check_health = self.conf(be, srv).check.rise
        elif state is SrvState.DRAIN:
            was = "drain"
        else:
            return False
        self._change(srv, SrvState.UP)
        if was == "maintenance":
            _warm_up(be, srv, self.conf(be, srv))
        be.balancer.server_up(srv)
        _serve_queue(be)
        self.say(
            "WARNING",
            f"{_who(be, srv)} {message or f'is UP/READY (leaving forced {was}).'}",
        )
        return True

    def set_drain(self, be: Backend, srv: Server) -> bool:
        """Stop sending new traffic to `srv`; its sessions go on. A DOWN server stays DOWN."""
        if srv.state in (SrvState.DRAIN, SrvState.DOWN):
            return False
        if srv.state is SrvState.MAINT and srv.check_status is not None:
            srv.check_health = self.conf(be, srv).check.rise
        self._change(srv, SrvState.DRAIN)
        be.balancer.server_down(srv)
        act, bck = _usable(be)
        self.say(
            "WARNING",
            f"{_who(be, srv)} enters drain state. {act} active and {bck} backup servers online."
            f" 0 sessions requeued, {len(be.queue)} total in queue.",
        )
        return True

    def set_maint(self, be: Backend, srv: Server, *, cause: str = "") -> bool:
        """Put `srv` in maintenance: no traffic, no checks (the scheduler skips it).
        `cause` is said in parentheses (weir.dns: "DNS NX status")."""
        if srv.state is SrvState.MAINT:
            return False
        had_any = be.has_usable()
        if srv.state is SrvState.DOWN:
            srv.add_downtime(time.time() - srv.last_change)
        self._change(srv, SrvState.MAINT)
        be.balancer.server_down(srv)
        act, bck = _usable(be)
        self.say(
            "WARNING",
            f"{_who(be, srv)} is going DOWN for maintenance{f' ({cause})' if cause else ''}. "
            f"{act} active and {bck} backup "
            f"servers left. {srv.cur_sess} sessions active, 0 requeued, "
            f"{len(be.queue)} remaining in queue.",
        )
        if had_any and not act and not bck:
            kind = "proxy" if be.conf.cap is Cap.LISTEN else "backend"
            self.say("ALERT", f"{kind} '{be.name}' has no server available!")
        return True

    @staticmethod
    def _change(srv: Server, state: SrvState) -> None:
        srv.state = state
        srv.last_change = time.time()

    # -- weight, address, limits ----------------------------------------------------------

    def set_weight(self, be: Backend, srv: Server, text: str) -> str | None:
        """`set weight` / `set server ... weight`: absolute (0..256) or `N%` of the initial
        weight. Returns HAProxy's message on a refusal."""
        if not text:
            return "Require <weight> or <weight%>.\n"
        w, rest = strtol(text)
        if w is None:
            return "Empty weight string empty or preceded by garbage"
        initial = initial_weight(be, srv)
        if rest == "%":
            if w < 0:
                return "Relative weight must be positive.\n"
            w = min(initial * min(w, 25600) // 100, 256)
        elif w < 0 or w > 256:
            return "Absolute weight can only be between 0 and 256 inclusive.\n"
        elif rest:
            return "Trailing garbage in weight string"
        if w and w != initial and not _dynamic(be):
            return (
                "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n"
            )
        was_usable = srv.usable
        srv.uweight = w
        if not _warming(srv):  # a warming server reads uweight at its next step
            be.balancer.set_weight(srv, w)
        if srv.usable and not was_usable:
            _serve_queue(be)
        return None

    def set_addr(self, be: Backend, srv: Server, addr: str, port: str | None) -> str:
        """`set server ... addr IP [port P]`: HAProxy's report line (always one)."""
        msg = ""
        changed = False
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return f"Invalid addr '{addr}' by '{UPDATER}'\n"
        try:
            # "": no address yet (a host name that did not resolve, see weir.dns)
            current = ipaddress.ip_address(srv.host) if srv.host else None
        except ValueError:
            return (
                "Update for the current server address family is only supported through "
                f"configuration file by '{UPDATER}'\n"
            )
        host = srv.host
        if current == ip:
            msg = "no need to change the addr"
        else:
            msg = f"IP changed from '{srv.host}' to '{addr}'"
            host = str(ip)
            changed = True
        new_port = srv.port
        if port is not None:
            msg += ", "
            value, _ = strtol(port)
            if value is None or not 0 <= value <= 65535:
                msg += f"problem converting port '{port}' to an int"
                port = None
            elif port[:1] in ("+", "-"):
                msg += "can't change <port> to port map: weir does not support port maps yet"
                port = None
            elif value != srv.port:
                msg += f"port changed from '{srv.port}' to '{value}'"
                new_port = value
                changed = True
            else:
                msg += "no need to change the port"
        if changed:
            self._move(be, srv, host, new_port)
        return f"{msg} by '{UPDATER}'\n"

    def _move(self, be: Backend, srv: Server, host: str, port: int) -> None:
        srv.host, srv.port, srv.addr = host, port, (host, port)
        if be.cookie is not None:
            be.cookie.readdress(srv)  # a dynamic cookie value follows the address
        if be.sticker is not None:
            be.sticker.index = None  # with `srvkey addr`, stick entries follow it too
        check = self.check_of(srv)
        conf = self.conf(be, srv)
        if check is None or conf.check.address is not None:
            return  # checks go to their own `addr`
        import socket

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        check_port = conf.check.port or port
        check.target = replace(check.target, family=family, address=(host, check_port))

    def set_maxconn_server(self, be: Backend, srv: Server, text: str) -> str | None:
        if not text:
            return "Require <maxconn>.\n"
        v, rest = strtol(text)
        if v is None:
            return "maxconn string empty or preceded by garbage"
        if rest:
            return "Trailing garbage in maxconn string"
        srv.maxconn = max(0, v)
        _serve_queue(be)
        return None

    def set_maxconn_frontend(self, fe: Frontend, value: int) -> None:
        fe.maxconn = value
        fe.limiter.limit = value
        _wake(fe.limiter)

    def set_maxconn_global(self, value: int) -> None:
        self.rt.limiter.limit = value
        _wake(self.rt.limiter)

    # -- health checks -------------------------------------------------------------------

    def disable_health(self, srv: Server) -> None:
        """Stop the server's health checks; its state stays as the last check left it."""
        check = self.check_of(srv)
        if check is not None and check.task is not None:
            check.task.cancel()
            check.task = None
        srv.check_status = None

    def agent_of(self, srv: Server) -> Any:
        """The agent-check task of `srv` in the scheduler, or None."""
        if self.checks is None:
            return None
        return next(
            (c for c in self.checks.checks if c.server is srv and getattr(c, "agent", False)),
            None,
        )

    def disable_agent(self, srv: Server) -> bool:
        """Stop the server's agent check (its last word stays in force); False without one."""
        agent = self.agent_of(srv)
        if agent is None:
            return False
        if agent.task is not None:
            agent.task.cancel()
            agent.task = None
        srv.agent_status = None
        return True

    def enable_agent(self, srv: Server) -> bool:
        """Restart an agent check stopped by `disable_agent`; False without one."""
        agent = self.agent_of(srv)
        if agent is None or self.checks is None:
            return False
        if agent.task is None or agent.task.done():
            srv.agent_status = "INI"
            agent.task = self.checks.loop.create_task(agent.run(0.0), name=f"agent {srv.name}")
        return True

    def enable_health(self, be: Backend, srv: Server) -> bool:
        """(Re)start the checks of a server configured with `check`; False if it has none.

        A check stopped by `disable_health` resumes; a server added at run time gets its
        first check task here (HAProxy starts those with `enable health` too)."""
        conf = self.conf(be, srv)
        if not conf.check.enabled:
            return False
        check = self.check_of(srv)
        if check is not None and check.task is not None and not check.task.done():
            return True  # already running
        if self.checks is None:
            return True  # no scheduler in this process: nothing to start
        loop = self.checks.loop
        if check is None:
            check = _new_check(be, srv, conf, self.say)
            if check is None:
                return True  # nothing to connect to (no port): HAProxy does not check it
            self.checks.checks.append(check)
        srv.check_status = "INI"
        if srv.state in (SrvState.UP, SrvState.DRAIN):
            srv.check_health = conf.check.rise  # up, to be confirmed by the first check
        check.task = loop.create_task(check.run(0.0), name=f"check {be.name}/{srv.name}")
        return True

    def force_health(self, be: Backend, srv: Server, up: bool) -> bool:
        """The stats page's "Health: force UP/DOWN": set the health counter to its top
        (or 0) and the state with it, as if checks had said so. Not for a server in
        maintenance or drain, whose state is the administrator's."""
        if srv.state in (SrvState.MAINT, SrvState.DRAIN):
            return False
        chk = self.conf(be, srv).check
        srv.check_health = chk.rise + chk.fall - 1 if up else 0
        if up and srv.state is SrvState.DOWN:
            srv.add_downtime(time.time() - srv.last_change)
            self._change(srv, SrvState.UP)
            be.balancer.server_up(srv)
            _serve_queue(be)
            self.say("WARNING", f"{_who(be, srv)} is UP (changed from Web interface).")
        elif not up and srv.state is SrvState.UP:
            self._change(srv, SrvState.DOWN)
            srv.chkdown += 1
            be.balancer.server_down(srv)
            act, bck = _usable(be)
            self.say(
                "WARNING",
                f"{_who(be, srv)} is DOWN (changed from Web interface). {act} active and "
                f"{bck} backup servers left. {srv.cur_sess} sessions active, 0 requeued, "
                f"{len(be.queue)} remaining in queue.",
            )
        return True

    def shutdown_sessions(self, srv: Server) -> bool:
        """End the server's sessions now, when the data path tracks them (False if not)."""
        live = getattr(srv, "sessions", None)
        if live is None:
            return False
        for session in list(live):
            session.shutdown("K")  # killed by an administrator
        return True

    # -- frontends -----------------------------------------------------------------------

    def handles(self, fe: Frontend) -> list[ListenerHandle]:
        return [h for h in self.listeners if h.frontend is fe]

    def pause_frontend(self, fe: Frontend) -> str | None:
        """`disable frontend`: close its listeners, releasing their ports, as HAProxy does;
        connections already accepted go on."""
        if fe.name in self.paused:
            return "All sockets are already disabled.\n"
        handles = self.handles(fe)
        if not handles:
            return (
                f"Cannot pause frontend '{fe.name}': its listening sockets were not handed "
                "to the runtime API.\n"
            )
        for h in handles:
            h.address = (h.sock.family, h.sock.getsockname(), _v6only(h.sock))
            if h.server is not None:
                h.server.close()
                h.server = None
            h.sock.close()
        self.paused.add(fe.name)
        self.say("WARNING", f"Paused frontend {fe.name}.")
        return None

    def resume_frontend(self, fe: Frontend) -> str | None:
        """`enable frontend`: bind the same addresses again and serve them."""
        if fe.name not in self.paused:
            return "All sockets are already enabled.\n"
        import socket

        fresh: list[tuple[ListenerHandle, socket.socket]] = []
        try:
            for h in self.handles(fe):
                family, name, v6only = h.address
                sock = socket.socket(family, socket.SOCK_STREAM)
                fresh.append((h, sock))
                if family != socket.AF_UNIX:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                else:
                    _unlink(name)
                if v6only is not None:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
                sock.bind(name)
                sock.listen(h.backlog)
                sock.setblocking(False)
        except OSError as e:
            for _, sock in fresh:
                sock.close()
            self.say("ALERT", f"Cannot resume frontend {fe.name}: {e.strerror or e}.")
            return "Failed to resume frontend, check logs for precise cause (port conflict?).\n"
        loop = self.loop
        for h, sock in fresh:
            h.sock = sock
            if loop is not None:
                loop.create_task(_serve(loop, h))
        self.paused.discard(fe.name)
        self.say("WARNING", f"Resumed frontend {fe.name}.")
        return None

    # -- counters ------------------------------------------------------------------------

    def clear_counters(self, everything: bool) -> None:
        """`clear counters`: the maximums; `clear counters all`: every counter."""
        from weir.stats.rate import RateCounter

        rt = self.rt
        counters = [fe.counters for fe in rt.frontends] + [
            be.counters for be in rt.backends.values()
        ]
        for c in counters:
            c.max_sess = c.cur_sess
            for name in ("sess_rate", "req_rate", "conn_rate"):
                rc = getattr(c, name, None)
                if rc is not None:
                    if everything:
                        setattr(c, name, RateCounter())
                    else:
                        rc.max = 0
            if everything:
                for name in _TOTALS:
                    if isinstance(getattr(c, name, None), int):
                        setattr(c, name, 0)
                c.hrsp = [0] * 6
        for be in rt.backends.values():
            for srv in be.servers:
                srv.max_sess = srv.cur_sess
                if everything:
                    srv.tot_sess = 0
                    srv.chkfail = srv.chkdown = 0
        rt.limiter.max = rt.limiter.cur
        for fe in rt.frontends:
            fe.limiter.max = fe.limiter.cur


_TOTALS = (
    "tot_sess",
    "bytes_in",
    "bytes_out",
    "requests",
    "denied",
    "errors",
    "econ",
    "eresp",
    "wretr",
    "wredis",
    "intercepted",
    "dresp",
    "cli_abrt",
    "srv_abrt",
    "lbtot",
    "connect",
    "reuse",
)


def _new_check(be: Backend, srv: Server, conf: ServerConf, say: Say) -> Any:
    """A health-check task for a server the scheduler did not start with."""
    from weir.check import scheduler

    target = scheduler.make_target(be, conf)
    if target is None:
        return None
    return scheduler.CheckTask(be, srv, conf, target, say)


def initial_weight(be: Backend, srv: Server) -> int:
    """The weight the server was configured (or added) with."""
    iweight = getattr(srv, "iweight", None)
    return iweight if isinstance(iweight, int) else Control.conf(be, srv).weight


def _warm_up(be: Backend, srv: Server, conf: ServerConf) -> None:
    """Slow start on leaving maintenance, as HAProxy does (`slowstart` on the server)."""
    ms = getattr(conf, "slowstart", 0)
    if not ms:
        return
    try:
        from weir.backend import slowstart

        slowstart.begin(be.balancer, srv, ms)
    except (ImportError, RuntimeError):  # no slow start here, or no running loop
        return


def _warming(srv: Server) -> bool:
    try:
        from weir.backend import slowstart
    except ImportError:
        return False
    return slowstart.warming(srv) is not None


def _who(be: Backend, srv: Server) -> str:
    return f"{'Backup ' if srv.backup else ''}Server {be.name}/{srv.name}"


def _usable(be: Backend) -> tuple[int, int]:
    act = sum(1 for s in be.servers if s.usable and not s.backup)
    bck = sum(1 for s in be.servers if s.usable and s.backup)
    return act, bck


def _dynamic(be: Backend) -> bool:
    params = be.balancer.params
    return params.dynamic


def _serve_queue(be: Backend) -> int:
    """Hand waiting requests to servers that now have room; bounded by the queue length."""
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


def _v6only(sock: Any) -> bool | None:
    import socket

    if sock.family != socket.AF_INET6:
        return None
    try:
        return bool(sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY))
    except OSError:
        return None


def _unlink(path: Any) -> None:
    import contextlib
    from pathlib import Path

    if isinstance(path, str) and path:
        with contextlib.suppress(OSError):
            Path(path).unlink()


async def _serve(loop: Any, h: ListenerHandle) -> None:
    from weir.process.listeners import serve_socket

    h.server = await serve_socket(loop, h.sock, h.factory, h.backlog, getattr(h, "tls", None))


def _wake(limiter: Any) -> None:
    root = limiter
    while root.parent is not None:
        root = root.parent
    root.wake()


# -- the process's Control ---------------------------------------------------------------

_CONTROLS: dict[int, tuple[Runtime, Control]] = {}


def control_for(rt: Runtime) -> Control:
    """The Control of `rt`: the one the process registered, or a new one without checks
    nor listeners (enough for state and weight changes)."""
    found = _CONTROLS.get(id(rt))
    if found is not None and found[0] is rt:
        return found[1]
    ctl = Control(rt)
    _CONTROLS[id(rt)] = (rt, ctl)
    return ctl


def register(ctl: Control) -> None:
    """Make `ctl` the runtime's Control (keeping what an earlier one already changed)."""
    found = _CONTROLS.get(id(ctl.rt))
    if found is not None and found[0] is ctl.rt:
        ctl.hard_maxconn = found[1].hard_maxconn
        ctl.paused = found[1].paused
    _CONTROLS[id(ctl.rt)] = (ctl.rt, ctl)


def forget(rt: Runtime) -> None:
    found = _CONTROLS.get(id(rt))
    if found is not None and found[0] is rt:
        del _CONTROLS[id(rt)]
