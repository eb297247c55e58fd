"""Sections and keyword dispatch: lexed lines → the configuration model.

Each line either opens a section (`global`, `defaults [NAME] [from D]`, `frontend NAME`,
`backend NAME`, `listen NAME`, `userlist NAME`) or is a keyword of the open section, found
in the registry and handed to its handler. Nothing here raises on a user's mistake: every
problem is recorded with its file:line and parsing goes on, so all errors show at once.

Keywords the registry does not know are classified with HAProxy 2.6's catalog: removed in
an older HAProxy (say what replaced it), a real HAProxy keyword weir does not support yet
(say so plainly), or a typo (suggest the nearest known keyword).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from weir.config import catalog
from weir.config.diagnostics import Diagnostics, Where
from weir.config.lexer import Line
from weir.config.model import Cap, Config, Proxy, Userlist
from weir.config.registry import (
    LETTERS,
    PROXY_SECTIONS,
    REGISTRY,
    SECTION_OPENERS,
    Keyword,
    Section,
)

_NAME_OK = re.compile(r"[A-Za-z0-9_.:-]+\Z")
_PROXY_CAPS = {
    "frontend": Cap.FRONTEND,
    "backend": Cap.BACKEND,
    "listen": Cap.LISTEN,
    "defaults": Cap.DEFAULTS,
}


class Ctx:
    """What a keyword handler sees: where it is, the section it fills in, and how to complain."""

    __slots__ = (
        "block",
        "cfg",
        "diags",
        "keyword",
        "negated",
        "proxy",
        "section",
        "userlist",
        "where",
    )

    def __init__(self, cfg: Config, diags: Diagnostics) -> None:
        self.cfg = cfg
        self.diags = diags
        self.where = Where("", 0)
        self.section: Section | None = None
        self.proxy: Proxy | None = None
        self.userlist: Userlist | None = None
        self.block: Any = None  # what a registered section (`peers`, `resolvers`) fills in
        self.keyword = ""
        self.negated = False

    @property
    def px(self) -> Proxy:
        """The proxy section being filled in (only valid in proxy sections)."""
        assert self.proxy is not None
        return self.proxy

    def error(self, message: str) -> None:
        self.diags.alert(f"'{self.keyword}' : {message}", self.where)

    def warn(self, message: str) -> None:
        self.diags.warning(f"'{self.keyword}' : {message}", self.where)

    def expect(self, args: Sequence[str], low: int, high: int | None, usage: str) -> bool:
        """Check the number of arguments; on mismatch report the usage and return False."""
        if len(args) < low or (high is not None and len(args) > high):
            if high == 0:
                self.error("takes no argument")
            else:
                self.error(f"expects {usage}")
            return False
        return True


class Parser:
    """Feeds lexed lines into a Config; one instance per load (several files)."""

    def __init__(self, cfg: Config, diags: Diagnostics) -> None:
        self.cfg = cfg
        self.diags = diags
        self.ctx = Ctx(cfg, diags)
        self.last_defaults = Proxy(Cap.DEFAULTS, "", Where("<built-in>", 0))
        self.skipping: str | None = None  # inside an unsupported section

    def feed(self, lines: Iterable[Line]) -> None:
        for line in lines:
            self._line(line)

    def end_file(self) -> None:
        """A section never spans files in HAProxy: each file starts outside any section."""
        self._close_section()
        self.ctx.section = None
        self.skipping = None

    # -- lines -----------------------------------------------------------------------------

    def _line(self, line: Line) -> None:
        ctx = self.ctx
        ctx.where = line.where
        words = line.words
        head = words[0]
        if head in _PROXY_CAPS or head in ("global", "userlist"):
            self._open_section(head, words[1:])
            return
        opener = SECTION_OPENERS.get(head)
        if opener is not None:
            self._close_section()
            self.skipping = None
            ctx.section = Section(head)
            ctx.keyword = head
            opener(ctx, words[1:])
            return
        if head in catalog.SECTIONS:
            self._close_section()
            ctx.section = None
            self.skipping = head
            self.diags.alert(
                f"'{head}' sections are HAProxy's but weir does not support them yet", line.where
            )
            return
        if self.skipping is not None:
            return
        if ctx.section is None:
            self.diags.alert(f"unknown keyword '{head}' out of section", line.where)
            return
        negated = False
        if head == "no" and len(words) > 1:
            negated, words = True, words[1:]
        words = tuple(_split_action_argument(words, ctx.section))
        kw = REGISTRY.lookup(words, ctx.section)
        if kw is None or ctx.section not in kw.sections:
            self._unknown(words, kw, negated)
            return
        if negated and not kw.negatable:
            self.diags.alert(f"'{kw.name}' cannot be negated with 'no'", line.where)
            return
        ctx.keyword = kw.name
        ctx.negated = negated
        kw.handler(ctx, words[len(kw.words) :])

    def _unknown(self, words: Sequence[str], kw: Keyword | None, negated: bool) -> None:
        ctx = self.ctx
        assert ctx.section is not None
        section = ctx.section
        where = ctx.where
        removed = catalog.REMOVED.get(" ".join(words[:2])) or catalog.REMOVED.get(words[0])
        if removed is not None:
            name = " ".join(words[:2]) if " ".join(words[:2]) in catalog.REMOVED else words[0]
            self.diags.alert(f"'{name}' is not supported anymore: {removed}", where)
            return
        if kw is not None:
            allowed = ", ".join(sorted(s.value for s in kw.sections))
            self.diags.alert(
                f"'{kw.name}' is not allowed in a '{section}' section (only in: {allowed})",
                where,
            )
            return
        family = _family_name(words, section)
        if family is not None and _haproxy_knows(family, section):
            self.diags.alert(
                f"'{family}' is a HAProxy keyword that weir does not support yet", where
            )
            return
        if family is not None and len(family.split()) > 1:
            # A family we know (`option`, `timeout`, `stats` …) with an unknown member.
            first = family.split()[0]
            members = [k.words[1] for k in REGISTRY.all() if k.words[0] == first]
            members += _catalog_members(first)
            hint = _did_you_mean(words[1], members)
            self.diags.alert(f"unknown '{first}' keyword '{words[1]}'{hint}", where)
            return
        candidates = [n.split()[0] for n in REGISTRY.names_in(section)]
        candidates += _catalog_names(section)
        hint = _did_you_mean(words[0], candidates)
        self.diags.alert(f"unknown keyword '{words[0]}' in '{section}' section{hint}", where)

    # -- sections --------------------------------------------------------------------------

    def _open_section(self, head: str, args: Sequence[str]) -> None:
        self._close_section()
        ctx = self.ctx
        self.skipping = None
        ctx.proxy = None
        ctx.userlist = None
        ctx.section = Section(head)
        where = ctx.where
        if head == "global":
            if args:
                self.diags.alert("'global' takes no argument", where)
            return
        if head == "userlist":
            if len(args) != 1:
                self.diags.alert("'userlist' expects exactly one name", where)
                ctx.userlist = Userlist(where, "")
                return
            if args[0] in self.cfg.userlists:
                self.diags.alert(f"userlist '{args[0]}' is defined twice", where)
            ctx.userlist = Userlist(where, args[0])
            self.cfg.userlists[args[0]] = ctx.userlist
            return

        cap = _PROXY_CAPS[head]
        name = ""
        base = self.last_defaults
        rest = list(args)
        if rest and rest[0] != "from":
            name = rest.pop(0)
        elif cap is not Cap.DEFAULTS:
            self.diags.alert(f"'{head}' expects a name", where)
        if rest and rest[0] == "from":
            if len(rest) != 2:
                self.diags.alert(f"'{head} {name} from' expects one defaults section name", where)
            else:
                found = self.cfg.defaults.get(rest[1])
                if found is None:
                    hint = _did_you_mean(rest[1], list(self.cfg.defaults))
                    self.diags.alert(
                        f"'{head} {name}' : defaults section '{rest[1]}' not found{hint}", where
                    )
                else:
                    base = found
            rest = []
        if rest:
            if head in {"listen", "frontend"}:
                self.diags.alert(
                    f"'{head} {name}' : addresses go on a 'bind' line, not after the name "
                    "(HAProxy removed that form in 1.5)",
                    where,
                )
            else:
                self.diags.alert(f"'{head} {name}' : unexpected '{' '.join(rest)}'", where)
        if name and not _NAME_OK.match(name):
            bad = next(c for c in name if not _NAME_OK.match(c))
            self.diags.alert(f"character '{bad}' is not permitted in {head} name '{name}'", where)
        proxy = base.inherit(cap, name, where)
        ctx.proxy = proxy
        if cap is Cap.DEFAULTS:
            self.last_defaults = proxy
            if name:
                if name in self.cfg.defaults:
                    other = self.cfg.defaults[name].where
                    self.diags.alert(
                        f"defaults section '{name}' is defined twice (first at {other})", where
                    )
                self.cfg.defaults[name] = proxy
            return
        self._register_proxy(proxy)

    def _register_proxy(self, proxy: Proxy) -> None:
        tables = []
        if proxy.cap.is_frontend:
            tables.append(self.cfg.frontends)
        if proxy.cap.is_backend:
            tables.append(self.cfg.backends)
        for table in tables:
            other = table.get(proxy.name)
            if other is not None:
                self.diags.alert(
                    f"{proxy.cap} '{proxy.name}' has the same name as {other.cap} "
                    f"'{other.name}' declared at {other.where}",
                    proxy.where,
                )
                return
        for table in tables:
            table[proxy.name] = proxy
        self.cfg.proxies.append(proxy)

    def _close_section(self) -> None:
        self.ctx.proxy = None
        self.ctx.userlist = None
        self.ctx.block = None


def named_defaults_only(ctx: Ctx, keyword: str) -> bool:
    """False, with an error, for `keyword` in an anonymous defaults section: rules and
    ACLs may only be written in named ones (used with `from`), as in HAProxy 2.6."""
    if ctx.section is Section.DEFAULTS and ctx.proxy is not None and not ctx.proxy.name:
        ctx.error(
            f"'{keyword}' not allowed in anonymous 'defaults' section (name the section "
            "and use it with 'from')"
        )
        return False
    return True


def _split_action_argument(words: Sequence[str], section: Section) -> Sequence[str]:
    """`http-request set-var(txn.x) EXPR`: an action that carries its argument in
    parentheses is registered under its bare name (`http-request set-var`); the
    parenthesised part becomes the action's first argument, `(txn.x)`."""
    if len(words) < 2 or words[0] not in _FAMILIES:
        return words
    second = words[1]
    paren = second.find("(")
    if paren <= 0 or not second.endswith(")"):
        return words
    split = [words[0], second[:paren], second[paren:], *words[2:]]
    return split if REGISTRY.lookup(split[:2], section) is not None else words


def _family_name(words: Sequence[str], section: Section) -> str | None:
    """The keyword as HAProxy names it: `option httplog`, `timeout check`, `balance`."""
    first = words[0]
    if first in _FAMILIES and len(words) > 1:
        return f"{first} {words[1]}"
    if first in _FAMILIES:
        return first
    return first


_FAMILIES = (
    "option",
    "timeout",
    "stats",
    "http-request",
    "http-response",
    "http-after-response",
    "tcp-request",
    "tcp-response",
    "http-check",
    "tcp-check",
)


def _haproxy_knows(name: str, section: Section) -> bool:
    words = name.split()
    if section is Section.GLOBAL:
        if words[0] == "stats" and len(words) > 1:
            return words[1] in catalog.STATS_GLOBAL
        return words[0] in catalog.GLOBAL
    if section not in PROXY_SECTIONS:
        return words[0] in catalog.SECTION_KEYWORDS.get(section.value, frozenset())
    letter = next(k for k, v in LETTERS.items() if v is section)
    if len(words) == 2:
        table = _FAMILY_TABLES.get(words[0])
        if table is not None:
            if isinstance(table, dict):
                return letter in table.get(words[1], "")
            return words[1] in table
    return letter in catalog.PROXY.get(words[0], "")


_FAMILY_TABLES: dict[str, dict[str, str] | frozenset[str]] = {
    "option": catalog.OPTIONS,
    "timeout": catalog.TIMEOUTS,
    "stats": catalog.STATS,
    "http-request": catalog.HTTP_REQUEST_ACTIONS,
    "http-response": catalog.HTTP_RESPONSE_ACTIONS,
    "http-after-response": catalog.HTTP_AFTER_RESPONSE_ACTIONS,
    "http-check": catalog.HTTP_CHECK,
    "tcp-check": catalog.TCP_CHECK,
}


def _catalog_members(family: str) -> list[str]:
    table = _FAMILY_TABLES.get(family)
    return list(table) if table is not None else []


def _catalog_names(section: Section) -> list[str]:
    if section is Section.GLOBAL:
        return list(catalog.GLOBAL)
    if section in PROXY_SECTIONS:
        letter = next(k for k, v in LETTERS.items() if v is section)
        return [k for k, letters in catalog.PROXY.items() if letter in letters]
    return list(catalog.SECTION_KEYWORDS.get(section.value, frozenset()))


def _did_you_mean(word: str, candidates: Sequence[str]) -> str:
    found = catalog.suggestions(word, sorted(set(candidates)))
    return f"; did you mean '{found[0]}'?" if found else ""
