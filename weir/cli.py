"""weir's command line, compatible with haproxy's.

    weir -f FILE|DIR [-f …] [-c] [-db | -D] [-W | -Ws] [-p PIDFILE] [-d] [-q] [-V] [-C DIR]
         [-L NAME] [-S ADDR[,OPTS]] [-x SOCKET] [-sf PID… | -st PID…]
    weir -cc EXPR        evaluate a `.if` condition: exit 0 if true, 1 if false, 2 on error
    weir -v | -vv        version (and build details)
    weir demo            the built-in demonstration (see README)

Exit statuses are haproxy's: 0 for success (and for a clean stop on SIGTERM/SIGINT), 1 for
an invalid configuration or a start-up failure, 2 for a `-cc` error.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from weir.version import FEATURES, HAPROXY_VERSION, __version__

USAGE = """\
Usage : weir [-f <cfgfile|cfgdir>]* [ -vdVD ] [ -n <maxconn> ] [ -N <maxpconn> ]
        [ -p <pidfile> ] [ -m <max megs> ] [ -C <dir> ] [-- <cfgfile>*]
        -v displays version ; -vv shows known build options.
        -d enters debug mode ; -db only disables background mode.
        -V enters verbose mode (disables quiet mode)
        -D goes daemon ; -C changes to <dir> before loading files.
        -W master-worker mode. -Ws master-worker mode with systemd notify support.
        -q quiet mode : don't display messages
        -c check mode : only check config files and exit
        -cc check condition : evaluate a condition and exit
        -L set local peer name (default to hostname)
        -p writes pids of all children to this file
        -sf/-st [pid ]* finishes/terminates old pids.
        -x <unix_socket> get listening sockets from a unix socket
        -S <bind>[,<bind options>...] new master CLI
        weir demo : run the built-in demonstration
"""

# haproxy flags that belong to capabilities weir does not have yet.
_NOT_YET: dict[str, str] = {}


@dataclass(slots=True)
class Args:
    files: list[str] = field(default_factory=list)
    check: bool = False
    cond: str | None = None
    daemon: bool = False
    foreground: bool = False
    debug: bool = False
    quiet: bool = False
    verbose: bool = False
    pidfile: str | None = None
    chdir: str | None = None
    peer_name: str | None = None
    version: int = 0
    master_worker: bool = False
    systemd: bool = False
    old_pids: list[int] = field(default_factory=list)
    terminate_old: bool = False
    fetch_path: str | None = None
    master_cli: list[str] = field(default_factory=list)


class UsageError(Exception):
    pass


def parse_args(argv: Sequence[str]) -> Args:
    a = Args()
    i = 0
    while i < len(argv):
        arg = argv[i]

        def value(flag: str, i: int = i) -> str:
            if i + 1 >= len(argv):
                raise UsageError(f"'{flag}' expects an argument")
            return argv[i + 1]

        if arg == "--":
            a.files.extend(argv[i + 1 :])
            break
        if arg == "-f":
            a.files.append(value(arg))
            i += 2
            continue
        if arg == "-p":
            a.pidfile = value(arg)
            i += 2
            continue
        if arg == "-C":
            a.chdir = value(arg)
            i += 2
            continue
        if arg == "-L":
            a.peer_name = value(arg)
            i += 2
            continue
        if arg == "-cc":
            a.cond = value(arg)
            i += 2
            continue
        if arg == "-x":
            a.fetch_path = value(arg)
            i += 2
            continue
        if arg == "-S":
            a.master_cli.append(value(arg))
            i += 2
            continue
        if arg in ("-sf", "-st"):
            # As haproxy: every following word up to the next option is a pid.
            a.terminate_old = arg == "-st"
            i += 1
            while i < len(argv) and not argv[i].startswith("-"):
                if not argv[i].isdigit() or int(argv[i]) <= 0:
                    raise UsageError(f"'{arg}' expects process ids (got '{argv[i]}')")
                a.old_pids.append(int(argv[i]))
                i += 1
            continue
        if arg in _NOT_YET:
            raise UsageError(f"{_NOT_YET[arg]} is not supported by weir yet")
        simple = {
            "-c": "check",
            "-D": "daemon",
            "-db": "foreground",
            "-q": "quiet",
            "-V": "verbose",
        }
        if arg in simple:
            setattr(a, simple[arg], True)
        elif arg == "-d":
            a.debug = True
            a.foreground = True
        elif arg == "-W":
            a.master_worker = True
        elif arg == "-Ws":
            a.master_worker = True
            a.systemd = True
        elif arg == "-v":
            a.version = max(a.version, 1)
        elif arg == "-vv":
            a.version = 2
        elif arg.startswith("-"):
            raise UsageError(f"unknown option '{arg}'")
        else:
            a.files.append(arg)
        i += 1
    return a


def version_text(detail: bool) -> str:
    lines = [
        f"weir version {__version__} - HAProxy-compatible load balancer "
        f"(follows HAProxy {HAPROXY_VERSION})",
    ]
    if detail:
        from weir.net.loop import loop_name

        lines += [
            f"Running on: Python {platform.python_version()} "
            f"({platform.python_implementation()}), {loop_name()}, "
            f"{platform.system()} {platform.release()} {platform.machine()}",
            "Feature list : " + " ".join(f"+{f}" for f in sorted(FEATURES)),
            "Available modes : http tcp",
            "Available polling systems : epoll (through the event loop)",
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "demo":
        from weir.demo import run_demo

        return run_demo(argv[1:])
    try:
        args = parse_args(argv)
    except UsageError as e:
        print(f"[ALERT]    ({os.getpid()}) : {e}", file=sys.stderr)
        print(USAGE, file=sys.stderr, end="")
        return 1
    if args.version:
        sys.stdout.write(version_text(args.version > 1))
        return 0
    if args.cond is not None:
        from weir.config.cond import CondError, evaluate_text

        try:
            return 0 if evaluate_text(args.cond) else 1
        except CondError as e:
            print(
                f"[ALERT]    ({os.getpid()}) : failed to evaluate condition: {e}", file=sys.stderr
            )
            return 2
    if not args.files:
        print(USAGE, file=sys.stderr, end="")
        return 1
    if args.chdir:
        try:
            os.chdir(args.chdir)
        except OSError as e:
            print(
                f"[ALERT]    ({os.getpid()}) : cannot change to directory "
                f"'{args.chdir}': {e.strerror}",
                file=sys.stderr,
            )
            return 1
    return _load_and_run(args)


def _load_and_run(args: Args) -> int:
    from weir.config.diagnostics import Diagnostics
    from weir.config.loader import load
    from weir.peers.conf import LOCAL_NAME_FROM_CLI

    if args.peer_name:
        LOCAL_NAME_FROM_CLI.append(args.peer_name)

    diags = Diagnostics()
    cfg = load(args.files, diags)
    quiet = (args.quiet or cfg.global_.quiet) and not args.verbose
    diags.print(sys.stderr, quiet=quiet, show_diag=args.debug)
    if diags.has_errors():
        print(
            f"[ALERT]    ({os.getpid()}) : config : Fatal errors found in configuration.",
            file=sys.stderr,
        )
        return 1
    if args.check:
        if not quiet:
            print("Configuration file is valid")
        return 0
    from weir.process.run import RunOptions, run

    opts = RunOptions(
        daemon=args.daemon,
        foreground=args.foreground,
        pidfile=args.pidfile,
        debug=args.debug,
        quiet=quiet,
        files=list(args.files),
        master_worker=args.master_worker,
        systemd=args.systemd,
        old_pids=args.old_pids,
        terminate_old=args.terminate_old,
        fetch_path=args.fetch_path,
        master_cli=args.master_cli,
    )
    try:
        return run(cfg, opts)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
