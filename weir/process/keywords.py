"""Global-section keywords about the process: daemon, pidfile, limits, identity."""

from __future__ import annotations

import grp
import pwd

from weir.config.parser import Ctx
from weir.config.registry import Args, keyword
from weir.config.units import parse_int, parse_size


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
    "1",
    "Worker threads; weir runs one event loop per process, so only 1 "
    "is accepted until multi-process workers exist.",
)
def _nbthread(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 1, "a number"):
        return
    try:
        n = parse_int(args[0], low=1, high=4096, what="nbthread")
    except ValueError as e:
        ctx.error(str(e))
        return
    if n != 1:
        ctx.error(
            "weir runs one event loop per process; more than one worker is not "
            "supported yet (use 'nbthread 1')"
        )
        return
    ctx.cfg.global_.nbthread = n


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
