"""Configuration lexer: one file's text → its logical lines of words, `.if` blocks applied.

Theory of operation
-------------------
Each physical line is cut into words exactly as HAProxy 2.6's parse_line() cuts it (the
rules were checked against the haproxy 2.6.12 binary, not only its documentation):

* Leading blanks are skipped. A line starting with `[` is a scope declaration (it only
  matters in SPOE files): it is checked and dropped, before any other processing.
* Outside quotes, blanks (space, tab, VT, FF) separate words; `#` starts a comment; CR
  ends the line (so CRLF files read fine). Quotes glue to their neighbours: `a"b c"d` is
  the single word `ab cd`, and `""` is an empty word.
* `"…"` (weak quotes) keeps blanks, `#` and `'`; backslash escapes and `"$VAR"` still
  work inside. `'…'` (strong quotes) interprets nothing at all.
* Backslash, outside strong quotes: `\\ ` `\\#` `\\\\` `\\'` `\\"` give the character, `\\t` `\\n`
  `\\r` the control character, `\\xNN` the byte NN (two hex digits or an error); `\\$`
  gives `$` inside weak quotes only. Any other backslash is kept as is, so `\\q` stays
  `\\q`, an unquoted `\\$` stays `\\$` and `\\<TAB>` is a backslash then a separator
  (HAProxy's documentation table says otherwise; the binary does this).
* Environment variables are expanded inside weak quotes only: `$NAME`, `${NAME}`,
  `${NAME-default}` (default used only when NAME is unset, not when empty; it runs raw up
  to the next `}`), and `${NAME[*]}` / `${NAME[*]-default}` which split the value on
  blanks into several words. An unset variable expands to nothing. A name must start with
  a letter or `_`; `$` followed by anything else (`"$1"`, `"$"`, `"${}"`) is an error.
  The pseudo-variables `.FILE`, `.LINE` and `.SECTION` (name or type of the section open
  at that line; unset before the first one) are HAProxy's.
* A separator that would start a 65th word is an error, even when only trailing blanks
  or a comment follow (HAProxy counts it). Line length has no limit in 2.6.

A line whose first word is empty (`"" foo`) is ignored, as in HAProxy. Trailing empty
words are dropped from `Line.words` (HAProxy cannot tell them from absent ones); empty words
inside a line are kept as "" for the keyword parsers, since HAProxy's own keyword parsers
react to them differently (most stop reading arguments there).

Conditional blocks follow: `.if`/`.elif` conditions are the rest of their line glued with
spaces and evaluated by weir.config.cond; `.else`, `.endif` and the message directives
`.diag`/`.notice`/`.warning`/`.alert` act as in HAProxy. Lines are always tokenized first,
so a lexing error is reported even inside a block that is not taken; other directives and
the lines themselves are ignored there.

Unlike HAProxy, which stops reading a file at a broken condition, an unknown directive or a
misplaced `.endif`, every problem is reported and reading goes on (a block whose condition
fails takes none of its branches), so that one `weir -c` run lists them all. A NUL
character still ends the file, as it does in HAProxy.
"""

from __future__ import annotations

import os
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from weir.config.cond import CondError, evaluate
from weir.config.diagnostics import Diagnostics, Where

__all__ = [
    "MAX_NESTED_IFS",
    "MAX_WORDS",
    "SECTION_KEYWORDS",
    "Line",
    "SplitError",
    "read_lines",
    "split_words",
]

MAX_WORDS = 64  # HAProxy 2.6's MAX_LINE_ARGS
MAX_NESTED_IFS = 99  # HAProxy 2.6 refuses the 100th nested level (MAXNESTEDCONDS)

# Keywords that open a section in HAProxy 2.6; they set the `.SECTION` pseudo-variable.
SECTION_KEYWORDS = frozenset(
    {
        "global",
        "defaults",
        "frontend",
        "backend",
        "listen",
        "userlist",
        "peers",
        "mailers",
        "resolvers",
        "program",
        "http-errors",
        "ring",
        "cache",
        "fcgi-app",
        "log-forward",
        "namespace_list",
    }
)

_SPACES = " \t\n\v\f\r"  # C's isspace() in the C locale
_LINE_END = ("\0", "\n", "\r")
_HEX = frozenset(string.hexdigits)
_NAME_FIRST = frozenset(string.ascii_letters + "_")
_NAME_REST = frozenset(string.ascii_letters + string.digits + "_")
_SCOPE_CHARS = frozenset(string.ascii_letters + string.digits + "._:-")
_CONTROL_ESCAPES = {"t": "\t", "n": "\n", "r": "\r"}
_PSEUDO_NAMES = (".FILE", ".LINE", ".SECTION")


@dataclass(frozen=True, slots=True)
class Line:
    """One logical configuration line that survived comments and conditional blocks."""

    where: Where  # file name as given, 1-based line number
    words: tuple[str, ...]  # never empty; words[0] is never ""
    text: str  # the raw line (without its line ending), for messages


class SplitError(Exception):
    """A line that cannot be cut into words; `column` is the 0-based offset of the culprit."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


# -- splitting one line into words -----------------------------------------------------------


class _Splitter:
    """One pass over one line; `args` grows by one word at each separator."""

    __slots__ = ("args", "comments", "cur", "env", "line", "pseudo", "too_many_at")

    def __init__(
        self,
        line: str,
        env: Mapping[str, str],
        pseudo: Mapping[str, str | None],
        comments: bool,
    ) -> None:
        self.line = line
        self.env = env
        self.pseudo = pseudo
        self.comments = comments
        self.args: list[str] = []
        self.cur: list[str] = []
        self.too_many_at = -1

    def next_word(self, at: int) -> None:
        self.args.append("".join(self.cur))
        self.cur = []
        if len(self.args) >= MAX_WORDS and self.too_many_at < 0:
            self.too_many_at = at

    def run(self, i: int) -> list[str]:
        line, n = self.line, len(self.line)
        squote = dquote = False
        quote_at = -1
        while i < n:
            c = line[i]
            if c in _LINE_END:
                break
            if c == "#" and self.comments and not squote and not dquote:
                break
            if c == '"' and not squote:
                dquote = not dquote
                quote_at = i if dquote else -1
                i += 1
            elif c == "'" and not dquote:
                squote = not squote
                quote_at = i if squote else -1
                i += 1
            elif c == "\\" and not squote:
                i = self.escape(i, dquote)
            elif c in _SPACES and not squote and not dquote:
                at = i
                while i < n and line[i] in _SPACES:
                    i += 1
                self.next_word(at)
            elif c == "$" and dquote:
                i = self.variable(i)
            else:
                self.cur.append(c)
                i += 1
        self.args.append("".join(self.cur))
        if quote_at >= 0:
            raise SplitError(f"quote at column {quote_at + 1} is never closed", quote_at)
        if self.too_many_at >= 0:
            raise SplitError(
                f"more than {MAX_WORDS} words on one line (word {MAX_WORDS + 1} starts at "
                f"column {self.too_many_at + 1}; blanks before a comment or the end of the "
                "line count as the start of a word)",
                self.too_many_at,
            )
        return self.args

    def escape(self, i: int, dquote: bool) -> int:
        """Handle the backslash at `i` (outside strong quotes); return the next offset."""
        line = self.line
        nxt = line[i + 1] if i + 1 < len(line) else ""
        if nxt in (" ", "\\", "'", '"'):
            self.cur.append(nxt)
            return i + 2
        if nxt in _CONTROL_ESCAPES:
            self.cur.append(_CONTROL_ESCAPES[nxt])
            return i + 2
        if (nxt == "#" and self.comments) or (nxt == "$" and dquote):
            self.cur.append(nxt)
            return i + 2
        if nxt == "x":
            hexa = line[i + 2 : i + 4]
            if len(hexa) != 2 or not _HEX.issuperset(hexa):
                raise SplitError(
                    f"'\\x' at column {i + 1} must be followed by two hexadecimal digits", i
                )
            self.cur.append(chr(int(hexa, 16)))
            return i + 4
        self.cur.append("\\")  # not an escape sequence: the backslash stays
        return i + 1

    def variable(self, i: int) -> int:
        """Expand the `$` reference at `i` (inside weak quotes); return the next offset."""
        line, n = self.line, len(self.line)
        i += 1
        brace = -1
        if i < n and line[i] == "{":
            brace = i
            i += 1
        start = i
        if i >= n or (line[i] not in _NAME_FIRST and line[i] != "."):
            raise SplitError(f"a variable name must start with a letter or '_' (column {i + 1})", i)
        if line[i] == ".":
            i += 1
        while i < n and line[i] in _NAME_REST:
            i += 1
        name = line[start:i]
        value: str | None
        if name.startswith("."):
            if name not in self.pseudo:
                known = ", ".join(_PSEUDO_NAMES)
                raise SplitError(
                    f"unknown pseudo-variable '{name}' at column {start + 1} (known: {known})",
                    start,
                )
            value = self.pseudo[name]
        else:
            value = self.env.get(name)
        split = False
        if brace >= 0 and i < n and line[i] == "[":
            if line[i + 1 : i + 3] != "*]":
                raise SplitError(
                    f"only '[*]' may follow a variable name inside '${{…}}' (column {i + 1})", i
                )
            split = True
            i += 3
        if brace >= 0:
            close = line.find("}", i)
            if i < n and line[i] == "-" and close >= 0:
                if value is None:
                    value = line[i + 1 : close]
                i = close
            elif i >= n or line[i] != "}":
                raise SplitError(f"'${{' at column {brace + 1} has no matching '}}'", brace)
            i += 1
        if value:
            self.emit(value, split, i)
        return i

    def emit(self, value: str, split: bool, at: int) -> None:
        if not split:
            self.cur.append(value)
            return
        j, n = 0, len(value)
        while j < n:
            if value[j] in _SPACES:
                self.next_word(at)
                while j < n and value[j] in _SPACES:
                    j += 1
            else:
                self.cur.append(value[j])
                j += 1


def split_words(
    line: str,
    env: Mapping[str, str],
    pseudo: Mapping[str, str | None],
    *,
    comments: bool = True,
    start: int = 0,
) -> list[str]:
    """Cut `line[start:]` into HAProxy's raw argument list; raise SplitError if it cannot.

    The list has one entry per separator plus one, so it ends with "" when the line ends
    with blanks, and is [""] for a blank line. `pseudo` maps the pseudo-variables
    (.FILE, .LINE, .SECTION) that are known here to their values (None: unset).
    `comments=False` reads `#` as an ordinary character (as `haproxy -cc` does).
    """
    return _Splitter(line, env, pseudo, comments).run(start)


# -- one file --------------------------------------------------------------------------------


class _Branch(Enum):
    TAKING = "taking"  # the current branch's lines are kept
    WAITING = "waiting"  # no branch taken yet: a later .elif/.else may be
    DONE = "done"  # a branch was taken, the block is masked, or its condition failed


@dataclass(slots=True)
class _Block:
    opened: int  # line number of its .if
    state: _Branch
    seen_else: bool = False


def _excerpt(text: str, column: int, width: int = 76) -> tuple[str, str]:
    """The text around `column` made printable, and a caret line under that column."""
    shown = "".join(" " if c in _SPACES else c if c.isprintable() else "?" for c in text)
    begin = max(0, min(column - width // 2, len(shown) - width))
    prefix = "..." if begin else ""
    suffix = "..." if begin + width < len(shown) else ""
    body = prefix + shown[begin : begin + width] + suffix
    caret = " " * (column - begin + len(prefix)) + "^"
    return "  " + body, "  " + caret


class _FileReader:
    __slots__ = ("blocks", "diags", "env", "filename", "lines", "section")

    def __init__(self, filename: str, diags: Diagnostics, env: Mapping[str, str]) -> None:
        self.filename = filename
        self.diags = diags
        self.env = env
        self.lines: list[Line] = []
        self.blocks: list[_Block] = []
        self.section: str | None = None

    def read(self, text: str) -> list[Line]:
        if not text:
            return self.lines
        physical = text.split("\n")
        missing_lf = physical[-1] != ""
        if not missing_lf:
            physical.pop()
        last = len(physical)
        for lineno, raw in enumerate(physical, 1):
            nul = raw.find("\0")
            content = raw if nul < 0 else raw[:nul]
            self.line(lineno, content)
            if nul >= 0:
                self.diags.alert(
                    f"NUL character at column {nul + 1}: the rest of the file is ignored",
                    Where(self.filename, lineno),
                )
                last = lineno
                missing_lf = False
                break
        end = Where(self.filename, last)
        if missing_lf:
            self.diags.alert(
                "the last line does not end with a newline; the file may have been cut "
                "short (HAProxy 2.6 refuses such a file)",
                end,
            )
        for block in self.blocks:
            self.diags.alert(f"'.if' of line {block.opened} is never closed by '.endif'", end)
        return self.lines

    def masked(self) -> bool:
        return bool(self.blocks) and self.blocks[-1].state is not _Branch.TAKING

    def line(self, lineno: int, content: str) -> None:
        where = Where(self.filename, lineno)
        text = content.removesuffix("\r")
        i = 0
        while i < len(content) and content[i] in _SPACES:
            i += 1
        if content.startswith("[", i):
            self.scope(where, content, i)
            return
        pseudo = {".FILE": self.filename, ".LINE": str(lineno), ".SECTION": self.section}
        try:
            args = split_words(content, self.env, pseudo, start=i)
        except SplitError as e:
            self.diags.alert(e.message, where, *_excerpt(text, e.column))
            return
        # A word is a C string in HAProxy: a NUL from "\x00" ends it. Conditions are read
        # from the glued line instead, where HAProxy turns every NUL into a space.
        words = [w.partition("\0")[0] for w in args]
        head = words[0]
        if not head:
            return
        if head in (".if", ".elif", ".else", ".endif"):
            condition = [w.replace("\0", " ") for w in args[1:]]
            self.conditional(head, words, condition, where)
            return
        if self.masked():
            return
        if head.startswith("."):
            self.message(head, words, where)
            return
        self.track_section(words)
        while not words[-1]:
            words.pop()
        self.lines.append(Line(where, tuple(words), text))

    def scope(self, where: Where, content: str, i: int) -> None:
        """Check a `[name]` scope declaration; valid ones are dropped (SPOE files only)."""
        close = content.find("]", i + 1)
        if close < 0:
            self.diags.alert("scope declaration has no closing ']'", where)
            return
        name = content[i + 1 : close]
        if not name:
            self.diags.alert("empty scope name in '[]'", where)
            return
        bad = next((c for c in name if c not in _SCOPE_CHARS), None)
        if bad is not None:
            self.diags.alert(f"character '{bad}' is not allowed in a scope name", where)
            return
        rest = content[close + 1 :].lstrip(_SPACES)
        if rest and not rest.startswith("#"):
            self.diags.alert(
                f"only a comment may follow a scope declaration, found '{rest[0]}'", where
            )

    def conditional(
        self, head: str, args: Sequence[str], condition: Sequence[str], where: Where
    ) -> None:
        """`.if` / `.elif` / `.else` / `.endif`; always processed, even in masked blocks.

        `args` are the line's words, `condition` the raw words after the directive.
        """
        if head == ".if":
            masked = self.masked()
            block = _Block(where.line, _Branch.DONE)
            self.blocks.append(block)
            if len(self.blocks) > MAX_NESTED_IFS:
                self.diags.alert(f"more than {MAX_NESTED_IFS} nested '.if' blocks", where)
            if not masked:
                block.state = self.test(head, condition, where)
            return
        if head in (".else", ".endif") and len(args) > 1 and args[1]:
            self.diags.alert(f"'{head}' takes no argument, found '{args[1]}'", where)
        if not self.blocks:
            self.diags.alert(f"'{head}' without a matching '.if'", where)
            return
        block = self.blocks[-1]
        if head == ".endif":
            self.blocks.pop()
            return
        if block.seen_else:
            self.diags.alert(f"'{head}' after the '.else' of this block", where)
            block.state = _Branch.DONE
            return
        if head == ".else":
            block.seen_else = True
            waiting = block.state is _Branch.WAITING
            block.state = _Branch.TAKING if waiting else _Branch.DONE
        elif block.state is _Branch.WAITING:
            block.state = self.test(head, condition, where)
        else:
            block.state = _Branch.DONE

    def test(self, head: str, condition: Sequence[str], where: Where) -> _Branch:
        try:
            taken = evaluate(condition, env=self.env)
        except CondError as e:
            detail: tuple[str, ...] = ()
            if e.position is not None:
                detail = _excerpt(f"{head} {' '.join(condition)}", len(head) + 1 + e.position)
            self.diags.alert(f"'{head}' condition: {e.message}", where, *detail)
            return _Branch.DONE
        return _Branch.TAKING if taken else _Branch.WAITING

    def message(self, head: str, args: Sequence[str], where: Where) -> None:
        """`.diag` / `.notice` / `.warning` / `.alert MESSAGE`, and unknown directives."""
        emit = {
            ".alert": self.diags.alert,
            ".warning": self.diags.warning,
            ".notice": self.diags.notice,
            ".diag": self.diags.diag,
        }.get(head)
        if emit is None:
            self.diags.alert(
                f"unknown directive '{head}' (known: .if .elif .else .endif "
                ".diag .notice .warning .alert)",
                where,
            )
            return
        if len(args) > 2 and args[2]:
            self.diags.alert(
                f"'{head}' takes one message but found also '{args[2]}'; "
                "quote a message that has spaces",
                where,
            )
            return
        emit(f"'{args[1] if len(args) > 1 else ''}'", where)

    def track_section(self, args: Sequence[str]) -> None:
        """Follow the open section for `.SECTION`, as HAProxy does (after a `no`/`default`)."""
        if args[0] in ("no", "default") and len(args) > 1 and args[1]:
            args = args[1:]
        if args[0] in SECTION_KEYWORDS:
            self.section = args[1] if len(args) > 1 and args[1] else args[0]


def read_lines(
    text: str,
    filename: str,
    diags: Diagnostics,
    env: Mapping[str, str] | None = None,
) -> list[Line]:
    """Cut one configuration file into its logical lines, with `.if` blocks applied.

    `text` is the whole file, `filename` is used as given in every Where and for `.FILE`.
    `env` (default os.environ) resolves `"$VAR"` and `defined()`. Every problem is recorded
    in `diags` (an `.alert` directive too) and never raised; a line that cannot be split
    is left out. Comment-only and blank lines, directives and lines of blocks not taken are
    not returned.
    """
    return _FileReader(filename, diags, os.environ if env is None else env).read(text)
