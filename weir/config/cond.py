"""Conditions of `.if` / `.elif` lines and of `weir -cc EXPR`, as HAProxy 2.6 reads them.

Theory of operation
-------------------
HAProxy does not parse a condition from the words of its line: it first glues the words
back together with single spaces (quotes, escapes and `"$VAR"` already resolved by the line
lexer) and then reads that one string. So `streq("$A", x)` compares the value of A with
" x" (leading space included), and a value holding a comma or a parenthesis changes how the
predicate's arguments split. `evaluate` does the same glueing, so it gives HAProxy's answer
for spaced and unspaced forms alike.

Grammar (`&&` binds tighter than `||`; blanks are spaces and tabs)::

    expr := and ( '||' and )*
    and  := term ( '&&' term )*
    term := '!'* ( INTEGER | '(' expr ')' | PREDICATE [ '(' args ')' ] )

* INTEGER is read like C's `strtol(s, &end, 0)`: `0x1f` is hex, `010` octal, a sign is
  allowed; zero is false, anything else true. `08` reads as `0` followed by garbage.
* A predicate's name runs up to the first space or `(`; its arguments are split on `,` up
  to `)` with their own quoting (`"…"`, `'…'`, `\\` `\\ ` `\\"` `\\'` `\\r` `\\n` `\\t`; any
  other backslash stays). Spaces inside the parentheses belong to the arguments. Without
  parentheses a one-argument predicate gets one empty argument (`defined` is false).
* The whole text must be consumed; an empty text is false, a blank one is an error.
* HAProxy bounds the recursion of its parser (1024 levels, about 1022 chained terms or 340
  nested parentheses); the same bound is applied here so that both accept the same texts.

Everything is parsed before anything is evaluated, so syntax errors are reported even in a
branch that would be short-circuited; evaluation stops as HAProxy's does (`&&` at the first
false term, `||` at the first true one), which matters only for predicates that fail when
evaluated (the OpenSSL ones).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from weir.version import FEATURES, HAPROXY_VERSION

__all__ = [
    "PREDICATES",
    "CondError",
    "Predicate",
    "compare_version",
    "evaluate",
    "evaluate_text",
]

# HAProxy's MAX_CFG_RECURSION: the depth budget its condition parser starts with.
_MAX_DEPTH = 1024
_BLANKS = " \t"
_CSPACE = " \t\n\v\f\r"  # C's isspace() in the C locale
_DIGITS = "0123456789"
_OCTAL = "01234567"
_HEX = "0123456789abcdefABCDEF"


class CondError(Exception):
    """A condition that cannot be parsed or evaluated.

    `position` is the 0-based offset, in the glued condition text, where the problem was
    found (None when it has no single place, e.g. an evaluation failure).
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


# -- evaluation context and predicates -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Context:
    env: Mapping[str, str]
    version: str
    features: frozenset[str]


@dataclass(frozen=True, slots=True)
class Predicate:
    """One condition predicate: its argument count (all strings, all mandatory) and test."""

    name: str
    nargs: int
    test: Callable[[Sequence[str], _Context], bool]
    doc: str


def _defined(args: Sequence[str], ctx: _Context) -> bool:
    return args[0] in ctx.env


def _feature(args: Sequence[str], ctx: _Context) -> bool:
    # HAProxy searches "+NAME" in its `-vv` feature list; weir's FEATURES holds exactly the
    # names that list would show with a '+'. (An empty name reads past the end of HAProxy's
    # string, an undefined answer; here it is simply absent.)
    return args[0] in ctx.features


def _streq(args: Sequence[str], ctx: _Context) -> bool:
    return args[0] == args[1]


def _strneq(args: Sequence[str], ctx: _Context) -> bool:
    return args[0] != args[1]


def _version_atleast(args: Sequence[str], ctx: _Context) -> bool:
    # An unparsable version compares as "not newer" in HAProxy 2.6, hence true here.
    return compare_version(ctx.version, args[0]) <= 0


def _version_before(args: Sequence[str], ctx: _Context) -> bool:
    return compare_version(ctx.version, args[0]) > 0


def _openssl_version(args: Sequence[str], ctx: _Context) -> bool:
    # A HAProxy built without OpenSSL fails these at evaluation time; weir has no OpenSSL
    # binding in its configuration layer, so it does the same even if FEATURES claims one.
    if "OPENSSL" not in ctx.features:
        raise CondError("OpenSSL version predicates need OpenSSL, which weir is built without")
    raise CondError("weir cannot compare OpenSSL versions in conditions")


def _ssllib_name_startswith(args: Sequence[str], ctx: _Context) -> bool:
    # Without OpenSSL, HAProxy 2.6 answers false rather than failing.
    if "OPENSSL" not in ctx.features:
        return False
    raise CondError("weir cannot tell the SSL library's name in conditions")


PREDICATES: dict[str, Predicate] = {
    p.name: p
    for p in (
        Predicate("defined", 1, _defined, "the environment variable exists (even if empty)"),
        Predicate("feature", 1, _feature, "the build feature is present ('+NAME' in -vv)"),
        Predicate("streq", 2, _streq, "both strings are equal"),
        Predicate("strneq", 2, _strneq, "the strings differ"),
        Predicate("version_atleast", 1, _version_atleast, "HAProxy version >= the argument"),
        Predicate("version_before", 1, _version_before, "HAProxy version < the argument"),
        Predicate("openssl_version_atleast", 1, _openssl_version, "OpenSSL version >= arg"),
        Predicate("openssl_version_before", 1, _openssl_version, "OpenSSL version < arg"),
        Predicate("ssllib_name_startswith", 1, _ssllib_name_startswith, "SSL library name"),
    )
}


# -- version comparison ----------------------------------------------------------------------


def _strtol10(s: str, pos: int) -> tuple[int, int]:
    """C's strtol(s + pos, &end, 10) folded to an unsigned int: (value, end offset)."""
    i = pos
    while i < len(s) and s[i] in _CSPACE:
        i += 1
    sign = 1
    if i < len(s) and s[i] in "+-":
        sign = -1 if s[i] == "-" else 1
        i += 1
    start = i
    while i < len(s) and s[i] in _DIGITS:
        i += 1
    if i == start:
        return 0, pos  # no conversion: end is where reading began
    value = max(min(sign * int(s[start:i]), 2**63 - 1), -(2**63))
    return value & 0xFFFFFFFF, i


def _split_version(v: str) -> list[int] | None:
    """HAProxy 2.6's split_version(): A[.B[.C[.D]]][-{dev|rc|pre}N][-COMMIT] into 7 numbers.

    The fifth number ranks the release type: dev=1, rc/pre=2, release=3, so 2.6-dev5 comes
    before 2.6.0. Returns None where HAProxy finds the text unparsable.
    """
    value = [0, 0, 0, 0, 3, 0, 0]
    if not v:
        return None
    n = len(v)
    pos = 0
    for idx in range(4):
        value[idx], end = _strtol10(v, pos)
        c = v[end] if end < n else ""
        pos = end + 1
        if c == "":
            return value
        if c == "-":
            break
        if idx == 3 or c != ".":
            return None
    # a tag ("dev3", "rc1", "pre2") unless a commit number follows directly
    if not (pos < n and v[pos] in _DIGITS):
        tag = {"dev": 1, "rc": 2, "pre": 2}
        name = next((t for t in tag if v.startswith(t, pos)), None)
        if name is not None:
            value[4] = tag[name]
            value[5], end = _strtol10(v, pos + len(name))
            c = v[end] if end < n else ""
            pos = end + 1
            if c == "":
                return value
            if c != "-":
                return None
    dash = v.rfind("-", pos)
    if dash >= 0:
        if dash + 1 >= n:
            return None
        pos = dash + 1
    commit, end = _strtol10(v, pos)
    value[6] = commit if end == n else 0
    return value


def compare_version(current: str, wanted: str) -> int:
    """Compare like HAProxy's compare_current_version().

    Returns -1 if `wanted` is older than `current`, 0 if equal, 1 if newer; -2 if `current`
    is unparsable, -3 if `wanted` is. Missing components count as zero.
    """
    cur = _split_version(current)
    if cur is None:
        return -2
    want = _split_version(wanted)
    if want is None:
        return -3
    if want < cur:
        return -1
    return 1 if want > cur else 0


# -- parsing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Term:
    negate: bool
    constant: bool | None = None  # an integer term
    predicate: Predicate | None = None
    args: tuple[str, ...] = ()
    group: tuple[tuple[_Term, ...], ...] | None = None  # '(' expr ')': OR of ANDs


_Expr = tuple[tuple[_Term, ...], ...]


class _Parser:
    """Recursive descent over one glued condition text, depth-accounted like HAProxy's.

    HAProxy recurses expr → and → term → expr for each '(' and for each `&&`/`||`, taking
    one unit of its depth budget per call. Here the chains are loops and only '(' recurses
    (one Python frame per level, so HAProxy's 340 levels fit Python's recursion limit), but
    `depth` is charged exactly as HAProxy charges it.
    """

    __slots__ = ("n", "s")

    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)

    def skip(self, i: int) -> int:
        while i < self.n and self.s[i] in _BLANKS:
            i += 1
        return i

    def need(self, i: int, depth: int) -> None:
        """Start of an expression, a chain or a term: something must be there."""
        if i >= self.n:
            raise CondError("expected a term at the end of the condition", i)
        if depth <= 0:
            raise CondError("condition nested too deeply", i)

    def expr(self, i: int, depth: int) -> tuple[_Expr, int]:
        s = self.s
        groups: list[tuple[_Term, ...]] = []
        while True:  # one `&&` chain per turn, separated by `||`
            self.need(i, depth)
            chain_depth = depth - 1
            terms: list[_Term] = []
            while True:  # one term per turn, separated by `&&`
                self.need(i, chain_depth)
                start = i = self.skip(i)
                self.need(i, chain_depth - 1)
                negate = False
                while i < self.n and s[i] == "!":
                    negate = not negate
                    i = self.skip(i + 1)
                if i < self.n and s[i] == "(":
                    group, i = self.expr(self.skip(i + 1), chain_depth - 2)
                    i = self.skip(i)
                    if i >= self.n or s[i] != ")":
                        raise CondError(f"missing ')' to close the '(' of '{s[start:]}'", start)
                    terms.append(_Term(negate, group=group))
                    i += 1
                else:
                    term, i = self.simple(i, negate)
                    terms.append(term)
                i = self.skip(i)
                if not s.startswith("&&", i):
                    break
                i = self.skip(i + 2)
                chain_depth -= 1
            groups.append(tuple(terms))
            if not s.startswith("||", i):
                return tuple(groups), i
            i = self.skip(i + 2)
            depth -= 1

    def simple(self, i: int, negate: bool) -> tuple[_Term, int]:
        """An integer or a predicate call at `i`."""
        s = self.s
        number = _strtol0(s, i)
        if number is not None:
            nonzero, i = number
            return _Term(negate, constant=nonzero), i
        end = i
        while end < self.n and s[end] not in " (":
            end += 1
        name = s[i:end]
        pred = PREDICATES.get(name)
        if pred is None:
            if not name:
                raise CondError("expected a term after '!'", i)
            raise CondError(f"unknown predicate or unparsable term '{s[i:]}'", i)
        args, i = _arg_list(s, end, pred)
        return _Term(negate, predicate=pred, args=args), i


def _strtol0(s: str, i: int) -> tuple[bool, int] | None:
    """C's strtol(s + i, &end, 0) reduced to (value != 0, end); None if nothing converts."""
    n = len(s)
    while i < n and s[i] in _CSPACE:
        i += 1
    if i < n and s[i] in "+-":
        i += 1
    if s.startswith(("0x", "0X"), i) and i + 2 < n and s[i + 2] in _HEX:
        digits = _HEX
        i += 2
    elif i < n and s[i] == "0":
        digits = _OCTAL
    else:
        digits = _DIGITS
    start = i
    while i < n and s[i] in digits:
        i += 1
    if i == start:
        return None
    return s[start:i].strip("0") != "", i


def _arg_list(s: str, i: int, pred: Predicate) -> tuple[tuple[str, ...], int]:
    """Read a predicate's arguments from s[i:] like HAProxy's make_arg_list() for strings.

    Returns the arguments and the offset just past them (past the ')' when there was a
    list). Without a '(' there is one empty argument and nothing is consumed.
    """
    n = len(s)
    listed = i < n and s[i] == "("
    if listed:
        i += 1
    args: list[str] = []
    while len(args) < pred.nargs:
        out: list[str] = []
        squote = dquote = False
        while listed and i < n:
            c = s[i]
            if c == '"' and not squote:
                dquote = not dquote
                i += 1
            elif c == "'" and not dquote:
                squote = not squote
                i += 1
            elif c == "\\" and not squote:
                if i + 1 >= n:
                    raise CondError(f"{pred.name}(): a backslash ends the text", i)
                nxt = s[i + 1]
                if nxt in ("\\", " ", '"', "'"):
                    out.append(nxt)
                    i += 2
                elif nxt in ("r", "n", "t"):
                    out.append({"r": "\r", "n": "\n", "t": "\t"}[nxt])
                    i += 2
                else:
                    out.append("\\")
                    i += 1
            elif not squote and not dquote and c in (",", ")"):
                break
            else:
                out.append(c)
                i += 1
        args.append("".join(out))
        if not listed or i >= n or s[i] == ")" or len(args) >= pred.nargs:
            break
        i += 1  # the comma
    if len(args) < pred.nargs:
        raise CondError(f"{pred.name}() needs {pred.nargs} arguments, got {len(args)}", i)
    if listed:
        if i >= n or s[i] != ")":
            rest = f" before '{s[i:]}'" if i < n else ""
            raise CondError(f"{pred.name}(): expected ')'{rest}", i)
        i += 1
    return tuple(args), i


# -- evaluation ------------------------------------------------------------------------------


def _eval_expr(expr: _Expr, ctx: _Context) -> bool:
    """OR of ANDs, stopping where HAProxy stops; one frame per parenthesis level."""
    for conj in expr:
        for term in conj:
            if term.constant is not None:
                value = term.constant
            elif term.group is not None:
                value = _eval_expr(term.group, ctx)
            else:
                assert term.predicate is not None
                value = term.predicate.test(term.args, ctx)
            if value == term.negate:
                break  # this term is false: the AND chain is false
        else:
            return True
    return False


def _evaluate_glued(
    text: str, env: Mapping[str, str] | None, version: str, features: frozenset[str]
) -> bool:
    if not text:
        return False
    parser = _Parser(text)
    expr, end = parser.expr(0, _MAX_DEPTH)
    end = parser.skip(end)
    if end < len(text):
        raise CondError(f"unexpected '{text[end]}' after the end of the condition", end)
    ctx = _Context(os.environ if env is None else env, version, features)
    return _eval_expr(expr, ctx)


def evaluate(
    words: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    version: str = HAPROXY_VERSION,
    features: frozenset[str] = FEATURES,
) -> bool:
    """Evaluate the lexed words that follow `.if` / `.elif`.

    The words are glued with single spaces first, as HAProxy does; pass them all, empty
    ones included, to get HAProxy's answer in every case (an empty condition is false, a
    blank one is an error). `env` (default os.environ) answers `defined()`. Raises
    CondError on a syntax error or a predicate that cannot be evaluated.
    """
    return _evaluate_glued(" ".join(words), env, version, features)


def evaluate_text(
    expr: str,
    *,
    env: Mapping[str, str] | None = None,
    version: str = HAPROXY_VERSION,
    features: frozenset[str] = FEATURES,
) -> bool:
    """Evaluate one condition string as `haproxy -cc EXPR` does.

    The string is first split into words like a configuration line except that `#` starts
    no comment and leading blanks are kept (they make an empty first word); quotes,
    escapes and `"$VAR"` are resolved with `env` (default os.environ). Raises CondError on
    any error, including the lexing ones that make `haproxy -cc` exit with status 2.
    """
    from weir.config.lexer import SplitError, split_words

    environ = os.environ if env is None else env
    pseudo: dict[str, str | None] = {".LINE": "0", ".FILE": None, ".SECTION": None}
    try:
        words = split_words(expr, environ, pseudo, comments=False)
    except SplitError as e:
        raise CondError(e.message) from None
    # HAProxy glues the words in place, turning every NUL (from "\x00") into a space.
    return _evaluate_glued(" ".join(words).replace("\0", " "), environ, version, features)
