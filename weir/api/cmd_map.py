"""Maps and ACL pattern files on the runtime API: `show|get|add|set|del|clear map` and
their `acl` twins, with HAProxy's answers. A change takes effect for the next request that
reads the file (weir.sample.patterns)."""

from __future__ import annotations

from collections.abc import Callable

from weir.api.commands import Request, command
from weir.api.conf import Level
from weir.sample.patterns import FILES, PatternFile, find

_UNKNOWN = {
    "map": "Unknown map identifier. Please use #<id> or <file>.\n",
    "acl": "Unknown ACL identifier. Please use #<id> or <file>.\n",
}


def _list(kind: str) -> str:
    lines = [
        f"{f.id} ({f.path}) pattern loaded from file '{f.path}' used by {kind}. "
        f"curr_ver={f.version} next_ver={f.version} entry_cnt={len(f.entries)}\n"
        for f in FILES.values()
        if f.kind == kind
    ]
    return "# id (file) description\n" + "".join(lines)


def _dump(f: PatternFile) -> str:
    if f.kind == "map":
        return "".join(
            f"0x{id(e):x} {e[0].decode('latin-1')} {e[1].decode('latin-1')}\n" for e in f.entries
        )
    return "".join(f"0x{id(e):x} {e[0].decode('latin-1')}\n" for e in f.entries)


def _target(kind: str, args: list[str], at: int) -> PatternFile | str:
    if len(args) <= at:
        return f"'{args[0]} {kind}' expects a {kind} file name or #<id>.\n"
    f = find(kind, args[at])
    return f if f is not None else _UNKNOWN[kind]


def _register(kind: str) -> None:
    def show(req: Request, args: list[str]) -> str:
        if len(args) < 3:
            return _list(kind)
        f = _target(kind, args, 2)
        return f if isinstance(f, str) else _dump(f)

    def get(req: Request, args: list[str]) -> str:
        f = _target(kind, args, 2)
        if isinstance(f, str):
            return f
        if len(args) < 4:
            return "Missing input string.\n"
        value = args[3].encode("latin-1")
        hit = next((e for e in f.entries if e[0] == value), None)
        if kind == "map":
            if hit is None:
                return "type=str, case=sensitive, found=no\n"
            return (
                f'type=str, case=sensitive, found=yes, idx=tree, key="{hit[0].decode("latin-1")}", '
                f'value="{hit[1].decode("latin-1")}", type="str"\n'
            )
        if hit is None:
            return "type=str, case=sensitive, match=no\n"
        return (
            f'type=str, case=sensitive, match=yes, idx=tree, pattern="{hit[0].decode("latin-1")}"\n'
        )

    def add(req: Request, args: list[str]) -> str:
        f = _target(kind, args, 2)
        if isinstance(f, str):
            return f
        need = 5 if kind == "map" else 4
        if len(args) < need:
            return (
                "'add map' expects three parameters: map identifier, key and value.\n"
                if (kind == "map")
                else "'add acl' expects two parameters: ACL identifier and pattern.\n"
            )
        f.add(args[3].encode("latin-1"), " ".join(args[4:]).encode("latin-1"))
        return ""

    def set_(req: Request, args: list[str]) -> str:
        f = _target(kind, args, 2)
        if isinstance(f, str):
            return f
        if len(args) < 5:
            return "'set map' expects three parameters: map identifier, key and value.\n"
        if not f.set(args[3].encode("latin-1"), " ".join(args[4:]).encode("latin-1")):
            return "Entry not found.\n"
        return ""

    def delete(req: Request, args: list[str]) -> str:
        f = _target(kind, args, 2)
        if isinstance(f, str):
            return f
        if len(args) < 4:
            return f"This command expects two parameters: {kind} identifier and key.\n"
        return "" if f.delete(args[3].encode("latin-1")) else "Key not found.\n"

    def clear(req: Request, args: list[str]) -> str:
        f = _target(kind, args, 2)
        if isinstance(f, str):
            return f
        f.clear()
        return ""

    handlers: tuple[tuple[str, str, str, Level, Callable[[Request, list[str]], str]], ...] = (
        ("show", f"[<{kind}>]", f"report available {kind}s or dump one", Level.OPERATOR, show),
        ("get", f"<{kind}> <value>", f"what a sample matches in a {kind}", Level.OPERATOR, get),
        ("add", f"<{kind}> <key> [<value>]", f"add an entry to a {kind}", Level.ADMIN, add),
        ("del", f"<{kind}> [<key>|#<ref>]", f"delete entries from a {kind}", Level.ADMIN, delete),
        ("clear", f"<{kind}>", f"clear the contents of a {kind}", Level.ADMIN, clear),
    )  # fmt: skip
    for verb, usage, doc, level, fn in handlers:
        command(f"{verb} {kind}", f"{verb} {kind} {usage}", doc, level)(fn)
    if kind == "map":
        command(
            "set map", "set map <map> [<key>|#<ref>] <value>", "modify a map entry", Level.ADMIN
        )(set_)


_register("map")
_register("acl")
