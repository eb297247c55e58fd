"""What the `global` section says about the process model, and the `cpu-map` language.

The configuration model (`weir.config.model.GlobalConf`) has no fields for these yet, so
the keyword handlers turn the Config's `global_` into a `ProcessGlobal`: the same data plus
this concern's fields. It derives from the runtime API's own extension (`ApiGlobal`, which
derives from GlobalConf), so that either concern may convert first without losing the
other's settings; every other concern keeps reading `cfg.global_` as before.
`process_conf(cfg)` reads the settings back (defaults when no keyword set one).

Mapping of HAProxy's threads to weir: Python threads share one interpreter lock, so weir
runs `nbthread N` as N worker processes, each with its own event loop, all accepting from
the same listening sockets. Worker k is HAProxy's thread k for `cpu-map`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from weir.api.conf import ApiGlobal
from weir.config.model import Config

MAX_WORKERS = 64  # HAProxy 2.6's MAX_THREADS on 64-bit systems
MAX_CPU = 63  # highest CPU number in a cpu-map set, as on a 64-bit HAProxy


@dataclass(slots=True)
class ProcessGlobal(ApiGlobal):
    # `master-worker [no-exit-on-failure]` and `mworker-max-reloads`
    master_worker: bool = False
    exit_on_failure: bool = True
    mworker_max_reloads: int = 0  # 0: no limit
    chroot: str | None = None
    # `ulimit-n`, `fd-hard-limit` (0: unset) and `strict-limits`
    ulimit_n: int = 0
    fd_hard_limit: int = 0
    strict_limits: bool = False
    # Soft-stop timings, in ms: `hard-stop-after` (None: wait for every connection),
    # `grace`, `close-spread-time` (None: unset; `close_spread_infinite` for "infinite").
    hard_stop_after: int | None = None
    grace: int = 0
    close_spread_time: int | None = None
    close_spread_infinite: bool = False
    noreuseport: bool = False
    # `cpu-map`: worker number (HAProxy's thread number, from 1) -> CPUs it may run on.
    cpu_map: dict[int, frozenset[int]] = field(default_factory=dict)


_EMPTY = ProcessGlobal()


def process_global(cfg: Config) -> ProcessGlobal:
    """The Config's global settings as a ProcessGlobal, converting them on first use."""
    g = cfg.global_
    if isinstance(g, ProcessGlobal):
        return g
    new = ProcessGlobal(**{f.name: getattr(g, f.name) for f in fields(g)})
    cfg.global_ = new
    return new


def process_conf(cfg: Config) -> ProcessGlobal:
    """The process settings of `cfg` (without converting it): defaults when none were given."""
    g = cfg.global_
    return g if isinstance(g, ProcessGlobal) else _EMPTY


# --------------------------------------------------------------------------- cpu-map


class CpuMapError(ValueError):
    """A malformed cpu-map argument; the message is meant for the user."""


def _number(text: str, low: int, high: int, what: str) -> int:
    if not text.isdigit():
        raise CpuMapError(f"'{text}' is not a {what} number")
    n = int(text)
    if not low <= n <= high:
        raise CpuMapError(f"{what} number {n} is out of range ({low}..{high})")
    return n


def parse_set(text: str, low: int, high: int, what: str) -> list[int]:
    """`all`, `odd`, `even`, `N`, `N-M` or `N-` (up to `high`), as a sorted list."""
    if text == "all":
        return list(range(low, high + 1))
    if text == "odd":
        return [n for n in range(low, high + 1) if n % 2 == 1]
    if text == "even":
        return [n for n in range(low, high + 1) if n % 2 == 0]
    first, dash, last = text.partition("-")
    a = _number(first, low, high, what)
    b = (_number(last, low, high, what) if last else high) if dash else a
    if b < a:
        raise CpuMapError(f"'{text}': the range ends before it starts")
    return list(range(a, b + 1))


def parse_cpu_map(args: list[str]) -> dict[int, frozenset[int]]:
    """One `cpu-map [auto:]<process>[/<threads>] <cpu-set>...` line: worker -> CPUs.

    The process part must designate process 1 (HAProxy 2.6 runs one process; "1" alone means
    all its threads). With `auto:`, threads and CPUs pair off in increasing order and both
    sets must be the same size; without it, every listed thread gets every listed CPU.
    """
    if len(args) < 2:
        raise CpuMapError("expects a thread set and at least one CPU set")
    spec = args[0]
    auto = spec.startswith("auto:")
    if auto:
        spec = spec[5:]
    proc, slash, threads = spec.partition("/")
    procs = parse_set(proc, 1, MAX_WORKERS, "process")
    if 1 not in procs:
        raise CpuMapError(
            f"'{proc}' does not include process 1; weir runs one process "
            "(its workers are HAProxy's threads: write '1/<threads>')"
        )
    if not slash and len(procs) > 1 and auto:
        raise CpuMapError("'auto:' needs a thread range after the process (e.g. 'auto:1/1-4')")
    thread_list = (
        parse_set(threads, 1, MAX_WORKERS, "thread") if slash else list(range(1, MAX_WORKERS + 1))
    )
    cpus: set[int] = set()
    for text in args[1:]:
        cpus.update(parse_set(text, 0, MAX_CPU, "CPU"))
    if auto:
        ordered = sorted(cpus)
        if len(ordered) != len(thread_list):
            raise CpuMapError(
                f"'auto:' pairs threads with CPUs one to one, but {len(thread_list)} "
                f"threads and {len(ordered)} CPUs are given"
            )
        return {t: frozenset({c}) for t, c in zip(thread_list, ordered, strict=True)}
    chosen = frozenset(cpus)
    return dict.fromkeys(thread_list, chosen)
