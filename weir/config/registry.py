"""The keyword registry: every configuration keyword weir knows, declared once.

A concern registers its keywords next to its own code::

    @keyword("balance", "dbl", "<algorithm> [<arguments>]",
             "How the backend picks a server for a new connection.")
    def _balance(ctx: Ctx, args: Args) -> None: ...

Section letters: g global, d defaults, f frontend, b backend, l listen, u userlist.
Keywords may span several words (`timeout connect`, `option httplog`, `stats uri`); lookup
takes the longest registered prefix of a line's words. The same registry feeds the parser,
`weir -c`'s "did you mean", and `docs/config-reference.md`.

`bind` and `server` take options of their own; they live in two `OptionTable`s with the
number of words each option takes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from weir.config.parser import Ctx

Args = Sequence[str]


class Section(StrEnum):
    GLOBAL = "global"
    DEFAULTS = "defaults"
    FRONTEND = "frontend"
    BACKEND = "backend"
    LISTEN = "listen"
    USERLIST = "userlist"
    PEERS = "peers"
    RESOLVERS = "resolvers"
    HTTP_ERRORS = "http-errors"


LETTERS = {
    "g": Section.GLOBAL,
    "d": Section.DEFAULTS,
    "f": Section.FRONTEND,
    "b": Section.BACKEND,
    "l": Section.LISTEN,
    "u": Section.USERLIST,
    "p": Section.PEERS,
    "r": Section.RESOLVERS,
    "e": Section.HTTP_ERRORS,
}
PROXY_SECTIONS = frozenset({Section.DEFAULTS, Section.FRONTEND, Section.BACKEND, Section.LISTEN})


def sections_of(letters: str) -> frozenset[Section]:
    return frozenset(LETTERS[c] for c in letters)


Handler = Callable[["Ctx", Args], None]

# Sections other than global, the proxies and userlist (`peers`, `resolvers`): the module
# that implements one registers an opener, called with the words after the section's
# name; it reports problems through ctx and sets `ctx.block` to the object the section's
# keywords fill in. A section without an opener is refused by name.
Opener = Callable[["Ctx", Args], None]
SECTION_OPENERS: dict[str, Opener] = {}


def section(name: str) -> Callable[[Opener], Opener]:
    """Register the opener of section `name` (a Section value)."""

    def register(fn: Opener) -> Opener:
        Section(name)  # must be a known section
        SECTION_OPENERS[name] = fn
        return fn

    return register


@dataclass(frozen=True, slots=True)
class Keyword:
    words: tuple[str, ...]
    sections: frozenset[Section]
    usage: str
    doc: str
    handler: Handler
    negatable: bool = False

    @property
    def name(self) -> str:
        return " ".join(self.words)


class Registry:
    """Keywords by their word tuple; longest-prefix lookup over at most three words.

    The same words may name different keywords in different sections (`maxconn` in
    `global` and in a frontend); each registration owns its own sections.
    """

    def __init__(self) -> None:
        self._keywords: dict[tuple[str, ...], list[Keyword]] = {}

    def add(self, kw: Keyword) -> None:
        same = self._keywords.setdefault(kw.words, [])
        if any(other.sections & kw.sections for other in same):
            raise RuntimeError(f"keyword '{kw.name}' registered twice for one section")
        same.append(kw)

    def remove(self, name: str) -> None:
        """Forget every registration of `name` (tests that register their own)."""
        self._keywords.pop(tuple(name.split()), None)

    def lookup(self, words: Sequence[str], section: Section) -> Keyword | None:
        """The keyword the line starts with: the one valid in `section` if there is one,
        else any keyword with those words (so the caller can say where it is allowed)."""
        for n in (3, 2, 1):
            if len(words) >= n:
                found = self._keywords.get(tuple(words[:n]))
                if found:
                    return next((k for k in found if section in k.sections), found[0])
        return None

    def all(self) -> list[Keyword]:
        return sorted(
            (k for ks in self._keywords.values() for k in ks),
            key=lambda k: (k.words, sorted(k.sections)),
        )

    def names_in(self, section: Section) -> list[str]:
        return [k.name for k in self.all() if section in k.sections]


REGISTRY = Registry()


def keyword(
    name: str, sections: str, usage: str, doc: str, *, negatable: bool = False
) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of keyword `name`."""

    def register(fn: Handler) -> Handler:
        REGISTRY.add(Keyword(tuple(name.split()), sections_of(sections), usage, doc, fn, negatable))
        return fn

    return register


def flag_option(name: str, sections: str, field: str, doc: str) -> None:
    """Register `option NAME` (and `no option NAME`), which sets the proxy's boolean
    `field` (cleared by `no`)."""

    def handler(ctx: Ctx, args: Args) -> None:
        if ctx.expect(args, 0, 0, ""):
            setattr(ctx.px, field, not ctx.negated)

    keyword(f"option {name}", sections, "", doc, negatable=True)(handler)


# ---- bind / server options ---------------------------------------------------------------

OptionHandler = Callable[["Ctx", object, Args], None]


@dataclass(frozen=True, slots=True)
class Option:
    name: str
    nargs: int
    usage: str
    doc: str
    handler: OptionHandler
    default_server: bool = True  # allowed on `default-server` lines too


class OptionTable:
    def __init__(self, what: str) -> None:
        self.what = what
        self.options: dict[str, Option] = {}

    def option(
        self, name: str, nargs: int, usage: str, doc: str, *, default_server: bool = True
    ) -> Callable[[OptionHandler], OptionHandler]:
        def register(fn: OptionHandler) -> OptionHandler:
            if name in self.options:
                raise RuntimeError(f"{self.what} option '{name}' registered twice")
            self.options[name] = Option(name, nargs, usage, doc, fn, default_server)
            return fn

        return register

    def all(self) -> list[Option]:
        return sorted(self.options.values(), key=lambda o: o.name)


BIND_OPTIONS = OptionTable("bind")
SERVER_OPTIONS = OptionTable("server")
