"""Log-format strings → a list of nodes: HAProxy's syntax only, no values, no Stream.

The syntax is HAProxy 2.6's (checked against its binary), plus the item names of later
HAProxy versions, used by JSON encoding:

    %VAR            a variable: `%ci`, `%Tw`, `%HPO` (the longest run of letters and digits)
    %{FLAGS}VAR     the same with flags, comma-separated, each `+F` or `-F`: Q (quote
                    strings), X (hexadecimal IPs, ports, %Ts, %ms, %rt, %lc, %pid), E
                    (backslash-escape `"`, `\\`, `]` for RFC 5424 structured data), M (print
                    `-` for an empty value; always on in log formats), json (with `%o`
                    only: encode the whole line as one JSON object). Unknown flags are
                    ignored, as HAProxy does.
    %[FETCH]        a sample fetch: `%[src]`, `%[capture.req.hdr(0)]`; `%{FLAGS}[FETCH]`
    %o              not printed: its flags become the default of every item after it
    %(NAME)ITEM     an item named NAME (HAProxy 3.0's spelling); the name is the JSON key
                    under `%{+json}o`, and is ignored otherwise
    %%              a literal `%`
    SPACE           a separator: consecutive ones print as one, and none is printed where
                    nothing but separators was printed since the previous one

A `%` followed by any other character is dropped (the character stays), as in HAProxy;
a `%` followed by a digit or a blank is an error.
"""

from __future__ import annotations

from dataclasses import dataclass

# Flags (HAProxy's LOG_OPT_*).
HEXA = 1
MANDATORY = 2
QUOTE = 4
ESC = 8
JSON = 16

_FLAGS = {"Q": QUOTE, "X": HEXA, "E": ESC, "M": MANDATORY, "json": JSON}


class LogFormatError(ValueError):
    """A log-format string weir cannot compile; the message is for the user."""


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Sep:
    pass


SEP = Sep()


@dataclass(frozen=True, slots=True)
class Var:
    name: str
    opts: int
    key: str | None = None  # `%(key)` item name


@dataclass(frozen=True, slots=True)
class Expr:
    """`%[fetch(arg),conv…]` as written, split once; compiled by weir.log.lfvars."""

    fetch: str
    arg: str | None
    converters: tuple[str, ...]
    opts: int
    text: str  # the expression as written, for messages
    key: str | None = None


Node = Text | Sep | Var | Expr


def _flags(arg: str, opts: int) -> int:
    """Apply `+Q,-X,…` to `opts`; unknown or unsigned words are ignored (HAProxy does)."""
    for word in arg.split(","):
        if len(word) > 1 and word[0] in "+-":
            bit = _FLAGS.get(word[1:], 0)
            opts = opts | bit if word[0] == "+" else opts & ~bit
    return opts


def _alnum_end(fmt: str, i: int) -> int:
    n = len(fmt)
    while i < n and fmt[i].isascii() and fmt[i].isalnum():
        i += 1
    return i


def _expr(fmt: str, start: int, opts: int, key: str | None) -> tuple[Expr, int]:
    """Parse the expression that starts at `start` (just after `[`); return it and the
    index after its `]`."""
    n = len(fmt)
    i = start
    parts: list[str] = []
    part_start = i
    while True:
        while i < n and fmt[i] not in "(,]" and not fmt[i].isspace():
            i += 1
        if i < n and fmt[i] == "(":
            close = fmt.find(")", i)
            if close < 0:
                raise LogFormatError(f"missing ')' in sample expression '{fmt[start:]}'")
            i = close + 1
        parts.append(fmt[part_start:i])
        if i < n and fmt[i] == ",":
            i += 1
            part_start = i
            continue
        break
    text = fmt[start:i]
    if i >= n:
        raise LogFormatError(f"missing ']' after '%[{text}'")
    if fmt[i] != "]":
        raise LogFormatError(f"expected ']' after '%[{text}', found '{fmt[i]}'")
    head = parts[0]
    if not head:
        raise LogFormatError("empty sample expression '%[]'")
    name, paren, rest = head.partition("(")
    arg = rest[:-1] if paren else None
    return Expr(name, arg, tuple(parts[1:]), opts, text, key), i + 1


def _no_item_json(item_opts: int, opts: int) -> None:
    if item_opts & JSON and not opts & JSON:
        raise LogFormatError(
            "the 'json' flag encodes a whole line: set it on %o, as in '%{+json}o'"
        )


def parse(fmt: str, base_opts: int = 0) -> tuple[list[Node], bool]:
    """Cut a format string into nodes; also say whether `%{+json}o` asks for JSON.
    `base_opts` are the flags every item starts with (MANDATORY for log formats).
    Consecutive separators come out as one SEP; text is merged into as few Text nodes as
    possible."""
    nodes: list[Node] = []
    json = False
    text: list[str] = []
    opts = base_opts
    n = len(fmt)
    i = 0

    def flush() -> None:
        if text:
            nodes.append(Text("".join(text)))
            text.clear()

    while i < n:
        c = fmt[i]
        if c == " ":
            flush()
            if not nodes or nodes[-1] is not SEP:
                nodes.append(SEP)
            i += 1
            continue
        if c != "%":
            j = i + 1
            while j < n and fmt[j] not in " %":
                j += 1
            text.append(fmt[i:j])
            i = j
            continue
        i += 1
        if i >= n:
            raise LogFormatError("the format ends with a lone '%' (write '%%' for a '%')")
        c = fmt[i]
        if c == "%":
            text.append("%")
            i += 1
            continue
        if c.isdigit() or c in " \t":
            raise LogFormatError(
                f"'%' followed by {c!r} at position {i - 1} of '{fmt}' is not a variable "
                "(write '%%' for a '%')"
            )
        key: str | None = None
        if c == "(":
            close = fmt.find(")", i)
            if close < 0:
                raise LogFormatError(f"missing ')' after the item name in '{fmt[i - 1 :]}'")
            key = fmt[i + 1 : close].partition(":")[0]
            i = close + 1
            if i >= n:
                raise LogFormatError(f"item name '%({key})' names nothing")
            c = fmt[i]
        item_opts = opts
        arg: str | None = None
        if c == "{":
            close = fmt.find("}", i)
            if close < 0:
                raise LogFormatError(f"missing '}}' after '%{fmt[i:]}'")
            arg = fmt[i + 1 : close]
            item_opts = _flags(arg, opts)
            i = close + 1
            if i >= n or not (fmt[i] == "[" or (fmt[i].isascii() and fmt[i].isalnum())):
                raise LogFormatError(f"flags '%{{{arg}}}' are not followed by a variable")
            c = fmt[i]
        elif not (c == "[" or (c.isascii() and c.isalpha())):
            if key is not None:
                raise LogFormatError(f"item name '%({key})' names nothing")
            continue  # the '%' is dropped, the character stays as text
        flush()
        if c == "[":
            _no_item_json(item_opts, opts)
            expr, i = _expr(fmt, i + 1, item_opts, key)
            nodes.append(expr)
            continue
        end = _alnum_end(fmt, i)
        name = fmt[i:end]
        i = end
        if name == "o":
            opts = item_opts  # `%o` prints nothing; its flags apply from here on
            json = json or bool(opts & JSON)
            continue
        _no_item_json(item_opts, opts)
        nodes.append(Var(name, item_opts, key))
    flush()
    return nodes, json
