"""Generate docs/config-reference.md from the keyword registry.

    python -m weir.config.reference > docs/config-reference.md

A test regenerates it and fails when the checked-in copy is stale, so the reference
always says exactly what weir accepts.
"""

from __future__ import annotations

import sys

from weir.config.registry import BIND_OPTIONS, REGISTRY, SERVER_OPTIONS, Section

_ORDER = [
    Section.GLOBAL,
    Section.DEFAULTS,
    Section.FRONTEND,
    Section.BACKEND,
    Section.LISTEN,
    Section.USERLIST,
    Section.PEERS,
    Section.RESOLVERS,
    Section.HTTP_ERRORS,
]
_LETTER = {
    Section.GLOBAL: "g",
    Section.DEFAULTS: "d",
    Section.FRONTEND: "f",
    Section.BACKEND: "b",
    Section.LISTEN: "l",
    Section.USERLIST: "u",
    Section.PEERS: "p",
    Section.RESOLVERS: "r",
    Section.HTTP_ERRORS: "e",
}


def render() -> str:
    import weir.keywords  # noqa: F401  (registers every keyword)

    out = [
        "# weir configuration reference",
        "",
        "Generated from weir's keyword registry by `python -m weir.config.reference`; do not "
        "edit by hand. Every keyword listed here is implemented. Any other HAProxy 2.6 "
        "keyword is refused by `weir -c` with a message saying that weir does not support it "
        "yet.",
        "",
        "Sections: g = global, d = defaults, f = frontend, b = backend, l = listen, u = userlist, "
        "p = peers, r = resolvers, e = http-errors.",
        "",
        "## Section keywords",
        "",
        "| keyword | sections | arguments | what it does |",
        "|---|---|---|---|",
    ]
    for kw in REGISTRY.all():
        letters = "".join(_LETTER[s] for s in _ORDER if s in kw.sections)
        name = f"[no] {kw.name}" if kw.negatable else kw.name
        out.append(f"| `{name}` | {letters} | {_cell(kw.usage)} | {_cell(kw.doc)} |")
    for table, title in (
        (BIND_OPTIONS, "`bind` options"),
        (SERVER_OPTIONS, "`server` / `default-server` options"),
    ):
        out += ["", f"## {title}", "", "| option | arguments | what it does |", "|---|---|---|"]
        for opt in table.all():
            out.append(f"| `{opt.name}` | {_cell(opt.usage)} | {_cell(opt.doc)} |")
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|") if text else ""


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render())
