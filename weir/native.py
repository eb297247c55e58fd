"""The modules that installing weir compiles to C with mypyc, where it can.

They are ordinary, fully typed Python; mypyc turns each into an extension module with the
same name, which Python imports in place of the source (a small keep-alive request spends
about a sixth of the interpreter time it does in pure Python: bench/micro_session.py).
`setup.py` reads `MODULES`; with `WEIR_PURE=1` in the environment, or without a C
compiler, weir installs as pure Python.

Compiled code follows Python's semantics with these exceptions that matter here (mypyc
2.4): a slice of `bytes` whose end falls before its start raises SystemError where Python
returns b"" (test such slices first); tuples may be copied, so `is` on a tuple is not
identity (compare a unique field); interpreted classes cannot subclass compiled ones.

An extension module shadows its source, so a source edited after the build would be
silently ignored: `stale()` names such modules, and importing weir refuses to run them.
"""

from __future__ import annotations

import importlib.machinery
from pathlib import Path

MODULES = (
    "weir/proto/h1.py",
    "weir/proto/h1_body.py",
    "weir/proto/h1_checks.py",
    "weir/proto/h1_errors.py",
    "weir/stream.py",
    "weir/http/session.py",
    "weir/http/rules.py",
    "weir/http/values.py",
    "weir/tcp/session.py",
    "weir/tcp/rules.py",
    "weir/net/connect.py",
    "weir/net/pool.py",
    "weir/proxy/runtime.py",
    "weir/sample/core.py",
    "weir/sample/acl.py",
    "weir/sample/patterns.py",
    "weir/sample/fetch_basic.py",
    "weir/sample/vars.py",
    "weir/persist/stick.py",
    "weir/persist/table.py",
    "weir/stats/rate.py",
    "weir/backend/server.py",
    "weir/balance/base.py",
    "weir/balance/first.py",
    "weir/balance/hash_consistent.py",
    "weir/balance/hash_map.py",
    "weir/balance/hashes.py",
    "weir/balance/keys.py",
    "weir/balance/leastconn.py",
    "weir/balance/random.py",
    "weir/balance/roundrobin.py",
    "weir/balance/static_rr.py",
)


def stale(root: Path) -> list[str]:
    """The compiled modules under `root` (the directory holding `weir/`) whose source is
    newer than the extension built from it, in a source tree (an installed copy's files
    all date from the install, in no particular order)."""
    out: list[str] = []
    if not (root / "pyproject.toml").exists():
        return out
    for module in MODULES:
        source = root / module
        stem = source.with_suffix("")
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            built = stem.with_name(stem.name + suffix)
            if built.exists() and source.stat().st_mtime > built.stat().st_mtime:
                out.append(module)
    return out
