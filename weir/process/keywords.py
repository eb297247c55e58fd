"""Global-section keywords about the process: daemon, pidfile, limits, identity, workers,
master-worker mode, soft-stop timings."""

from __future__ import annotations

import grp
import pwd

from weir.config.model import Bind
from weir.config.parser import Ctx
from weir.config.registry import BIND_OPTIONS, Args, keyword
from weir.config.units import parse_int, parse_size, parse_time
from weir.process.conf import MAX_WORKERS, CpuMapError, parse_cpu_map, process_global


@keyword("daemon", "g", "", "Detach into the background after start-up (same as -D).")
def _daemon(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 0, 0, ""):
        ctx.cfg.global_.daemon = True


@keyword("quiet", "g", "", "Print nothing at start-up (same as -q).")
def _quiet(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 0, 0, ""):
        ctx.cfg.global_.quiet = True


@keyword("pidfile", "g", "<path>", "Write the process id to this file (same as -p).")
def _pidfile(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a file path"):
        ctx.cfg.global_.pidfile = args[0]


@keyword(
    "maxconn",
    "g",
    "<number>",
    "Most concurrent connections for the whole process; accepting pauses at the limit.",
)
def _maxconn(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a number"):
        try:
            ctx.cfg.global_.maxconn = parse_int(args[0], low=1, what="maxconn")
        except ValueError as e:
            ctx.error(str(e))


@keyword(
    "nbthread",
    "g",
    "<number>",
    "Worker count: weir runs each of HAProxy's threads as a worker process with its own "
    "event loop, all sharing the listening sockets (1 to 64; default 1).",
)
def _nbthread(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 1, "a number"):
        return
    try:
        n = parse_int(args[0], low=1, high=MAX_WORKERS, what="nbthread")
    except ValueError as e:
        ctx.error(str(e))
        return
    ctx.cfg.global_.nbthread = n


@keyword(
    "cpu-map",
    "g",
    "[auto:]1[/<threads>] <cpu-set>...",
    "Pin workers (HAProxy's threads, numbered from 1) to CPUs.",
)
def _cpu_map(ctx: Ctx, args: Args) -> None:
    try:
        mapping = parse_cpu_map(list(args))
    except CpuMapError as e:
        ctx.error(str(e))
        return
    process_global(ctx.cfg).cpu_map.update(mapping)


@keyword(
    "master-worker",
    "g",
    "[no-exit-on-failure]",
    "Run a master process that owns the listeners, supervises the workers and reloads on "
    "SIGUSR2 (same as -W).",
)
def _master_worker(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 0, 1, "no argument or 'no-exit-on-failure'"):
        return
    if args and args[0] != "no-exit-on-failure":
        ctx.error(f"only supports 'no-exit-on-failure' (got '{args[0]}')")
        return
    g = process_global(ctx.cfg)
    g.master_worker = True
    g.exit_on_failure = not args


@keyword(
    "mworker-max-reloads",
    "g",
    "<number>",
    "Stop (SIGTERM) an old worker still running after this many reloads.",
)
def _mworker_max_reloads(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a number"):
        try:
            process_global(ctx.cfg).mworker_max_reloads = parse_int(
                args[0], low=1, what="mworker-max-reloads"
            )
        except ValueError as e:
            ctx.error(str(e))


@keyword(
    "chroot",
    "g",
    "<dir>",
    "Confine the workers to this directory (chroot) before dropping privileges.",
)
def _chroot(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a directory"):
        process_global(ctx.cfg).chroot = args[0]


@keyword(
    "ulimit-n",
    "g",
    "<number>",
    "File-descriptor limit to set (default: computed from maxconn).",
)
def _ulimit_n(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a number"):
        try:
            process_global(ctx.cfg).ulimit_n = parse_int(args[0], low=1, what="ulimit-n")
        except ValueError as e:
            ctx.error(str(e))


@keyword(
    "fd-hard-limit",
    "g",
    "<number>",
    "Never use more file descriptors than this, whatever the system allows.",
)
def _fd_hard_limit(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a number"):
        try:
            process_global(ctx.cfg).fd_hard_limit = parse_int(args[0], low=1, what="fd-hard-limit")
        except ValueError as e:
            ctx.error(str(e))


@keyword(
    "strict-limits",
    "g",
    "",
    "Refuse to start when the file-descriptor limit cannot be raised as needed.",
    negatable=True,
)
def _strict_limits(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 0, 0, ""):
        process_global(ctx.cfg).strict_limits = not ctx.negated


@keyword(
    "hard-stop-after",
    "g",
    "<time>",
    "Longest a soft stop (SIGUSR1, reload) may take before the remaining connections are cut.",
)
def _hard_stop_after(ctx: Ctx, args: Args) -> None:
    ms = _time(ctx, args)
    if ms is not None:
        process_global(ctx.cfg).hard_stop_after = ms


@keyword(
    "grace",
    "g",
    "<time>",
    "Keep accepting for this long after SIGUSR1 before the soft stop proceeds.",
)
def _grace(ctx: Ctx, args: Args) -> None:
    ms = _time(ctx, args)
    if ms is not None:
        process_global(ctx.cfg).grace = ms


@keyword(
    "close-spread-time",
    "g",
    "<time>|infinite",
    "During a soft stop, close idle connections at random moments within this window; "
    "'infinite' leaves connections to their own timeouts.",
)
def _close_spread_time(ctx: Ctx, args: Args) -> None:
    if len(args) == 1 and args[0] == "infinite":
        g = process_global(ctx.cfg)
        g.close_spread_infinite = True
        g.close_spread_time = None
        return
    ms = _time(ctx, args)
    if ms is not None:
        g = process_global(ctx.cfg)
        g.close_spread_time = ms
        g.close_spread_infinite = False


@keyword(
    "noreuseport",
    "g",
    "",
    "Do not set SO_REUSEPORT on listeners (a reload then relies on the socket hand-over).",
)
def _noreuseport(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 0, 0, ""):
        process_global(ctx.cfg).noreuseport = True


def _time(ctx: Ctx, args: Args) -> int | None:
    if not ctx.expect(args, 1, 1, "a time such as '30s'"):
        return None
    try:
        return parse_time(args[0])
    except ValueError as e:
        ctx.error(str(e))
        return None


@keyword(
    "backlog",
    "dfl",
    "<conns>",
    "The listen queue length of this proxy's binds that set none (default: its maxconn).",
)
def _backlog(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 1, "a number of connections"):
        return
    try:
        ctx.px.backlog = parse_int(args[0], low=1, what="backlog")
    except ValueError as e:
        ctx.error(str(e))


@BIND_OPTIONS.option(
    "freebind", 0, "", "Bind even if this host does not have the address (yet): IP_FREEBIND."
)
def _bind_freebind(ctx: Ctx, target: object, args: Args) -> None:
    assert isinstance(target, Bind)
    target.freebind = True


@BIND_OPTIONS.option(
    "transparent",
    0,
    "",
    "IP_TRANSPARENT: bind a foreign address (and accept traffic routed to it); needs "
    "CAP_NET_ADMIN.",
)
def _bind_transparent(ctx: Ctx, target: object, args: Args) -> None:
    assert isinstance(target, Bind)
    target.transparent = True


@keyword("user", "g", "<name>", "Switch to this user after binding the listeners.")
def _user(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 1, "a user name"):
        return
    try:
        ctx.cfg.global_.uid = pwd.getpwnam(args[0]).pw_uid
    except KeyError:
        ctx.error(f"no user named '{args[0]}' on this system")
        return
    ctx.cfg.global_.user = args[0]


@keyword("group", "g", "<name>", "Switch to this group after binding the listeners.")
def _group(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 1, "a group name"):
        return
    try:
        ctx.cfg.global_.gid = grp.getgrnam(args[0]).gr_gid
    except KeyError:
        ctx.error(f"no group named '{args[0]}' on this system")
        return
    ctx.cfg.global_.group = args[0]


@keyword("uid", "g", "<number>", "Switch to this user id after binding the listeners.")
def _uid(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a number"):
        try:
            ctx.cfg.global_.uid = parse_int(args[0], what="uid")
        except ValueError as e:
            ctx.error(str(e))


@keyword("gid", "g", "<number>", "Switch to this group id after binding the listeners.")
def _gid(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a number"):
        try:
            ctx.cfg.global_.gid = parse_int(args[0], what="gid")
        except ValueError as e:
            ctx.error(str(e))


@keyword(
    "tune.bufsize", "g", "<size>", "Largest request or response head weir reads (default 16384)."
)
def _bufsize(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a size"):
        try:
            size = parse_size(args[0])
        except ValueError as e:
            ctx.error(str(e))
            return
        if size < 1024:
            ctx.error("must be at least 1024")
            return
        ctx.cfg.global_.tune_bufsize = size


@keyword(
    "tune.maxaccept",
    "g",
    "<number>",
    "Most connections a listener accepts in a row before other work (-1: no limit, the default).",
)
def _maxaccept(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a number, or -1"):
        try:
            value = -1 if args[0] == "-1" else parse_int(args[0], low=1, what="tune.maxaccept")
        except ValueError as e:
            ctx.error(str(e))
            return
        ctx.cfg.global_.tune_maxaccept = value


@keyword("tune.http.maxhdr", "g", "<number>", "Most header fields in a message (default 101).")
def _maxhdr(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a number"):
        try:
            ctx.cfg.global_.tune_maxhdr = parse_int(args[0], low=1, high=32767, what="maxhdr")
        except ValueError as e:
            ctx.error(str(e))


@keyword("node", "g", "<name>", "This node's name, shown on the stats page.")
def _node(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a name"):
        ctx.cfg.global_.node = args[0]


@keyword("description", "g", "<text>", "This node's description, shown on the stats page.")
def _description(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, None, "some text"):
        ctx.cfg.global_.description = " ".join(args)


@keyword(
    "bind-process",
    "dfbl",
    "[all|odd|even|<process>…]",
    "Accepted and ignored, as HAProxy 2.6 does (it has no processes to bind to any more).",
)
def _bind_process(ctx: Ctx, args: Args) -> None:
    ctx.warn("has no effect, is deprecated, and is gone in HAProxy 2.7; delete the line")
