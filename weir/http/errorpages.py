"""The pages weir answers its own errors with, as configured: `errorfile`, `errorloc`,
`errorloc302`, `errorloc303`, `http-error`, `errorfiles` and `http-errors` sections.

Each line of a proxy section adds one entry to the proxy's list, in order; once the whole
configuration is read (an `http-errors` section may come after the proxies that import
it), `resolve` applies the list, later lines overriding earlier ones, into the proxy's
`errorfiles`: status -> the whole response, as bytes, or as a function of the stream for
an `http-error` made of log-format strings (`lf-string`, `lf-file`, `hdr`). A page that
needs a stream is not used for errors that come before a request has one (weir's own page
is sent then), as in HAProxy, whose early errors take static pages only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weir.config.diagnostics import Diagnostics, Where
from weir.config.model import Config, Proxy
from weir.config.parser import Ctx
from weir.config.registry import Args, keyword, section
from weir.http.errors import reason

# HAProxy's list of statuses an error page may replace.
ERRORFILE_CODES = frozenset(
    {200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504}
)

Page = bytes | Callable[[Any], bytes]


@dataclass(slots=True)
class HttpErrors:
    """An `http-errors` section: pages by status."""

    name: str
    where: Where
    pages: dict[int, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Import:
    """`errorfiles NAME [CODE…]` (or `http-error … errorfiles NAME`): pages of a section,
    all of them when `codes` is None."""

    where: Where
    name: str
    codes: tuple[int, ...] | None
    warn: bool = True  # about a listed code the section has no page for


# An entry of a proxy's list: (status, page) -- page None: back to the default --, or an
# Import.
Entry = tuple[int, Page | None] | Import


def _code(ctx: Ctx, text: str) -> int | None:
    try:
        code = int(text)
    except ValueError:
        code = 0
    if code not in ERRORFILE_CODES:
        codes = ", ".join(str(c) for c in sorted(ERRORFILE_CODES))
        ctx.error(f"status '{text}' cannot be replaced (only {codes})")
        return None
    return code


def _response_file(ctx: Ctx, name: str) -> bytes | None:
    """A file holding a whole HTTP response, read now (files are not read again)."""
    try:
        data = Path(name).read_bytes()
    except OSError as e:
        ctx.error(f"cannot open file '{name}': {e.strerror}")
        return None
    if len(data) > ctx.cfg.global_.tune_bufsize:
        ctx.error(f"file '{name}' is larger than tune.bufsize ({ctx.cfg.global_.tune_bufsize})")
        return None
    if not data.startswith(b"HTTP/"):
        ctx.warn(f"file '{name}' does not start with an HTTP status line; it is sent as is")
    return data


def _add(ctx: Ctx, entry: Entry) -> None:
    # A new list per proxy: the list is inherited from defaults by copy, never shared.
    ctx.px.error_pages = [*ctx.px.error_pages, entry]


@keyword(
    "errorfile",
    "dfbl",
    "<code> <file>",
    "Answer this status with the file's bytes: a complete HTTP response, headers included.",
)
def _errorfile(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 2, 2, "a status code and a file"):
        return
    code = _code(ctx, args[0])
    data = _response_file(ctx, args[1]) if code is not None else None
    if code is not None and data is not None:
        _add(ctx, (code, data))


def _errorloc(status: int) -> Callable[[Ctx, Args], None]:
    line = b"HTTP/1.1 %d %s\r\n" % (status, reason(status).encode())

    def handler(ctx: Ctx, args: Args) -> None:
        if not ctx.expect(args, 2, 2, "a status code and a URL"):
            return
        code = _code(ctx, args[0])
        if code is not None:
            location = args[1].encode()
            _add(
                ctx,
                (
                    code,
                    line + b"Cache-Control: no-cache\r\nContent-length: 0\r\n"
                    b"Location: " + location + b"\r\n\r\n",
                ),
            )

    return handler


keyword(
    "errorloc",
    "dfbl",
    "<code> <url>",
    "Answer this status with a 302 redirection to the URL.",
)(_errorloc(302))
keyword(
    "errorloc302",
    "dfbl",
    "<code> <url>",
    "Answer this status with a 302 redirection to the URL.",
)(_errorloc(302))
keyword(
    "errorloc303",
    "dfbl",
    "<code> <url>",
    "Answer this status with a 303 redirection to the URL (fetched with GET).",
)(_errorloc(303))


@keyword(
    "errorfiles",
    "dfbl",
    "<name> [<code> …]",
    "Use the pages of an http-errors section (all of them, or those of the codes listed).",
)
def _errorfiles(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, None, "the name of an http-errors section"):
        return
    codes = []
    for text in args[1:]:
        code = _code(ctx, text)
        if code is None:
            return
        codes.append(code)
    _add(ctx, Import(ctx.where, args[0], tuple(codes) if codes else None))


@keyword(
    "http-error",
    "dfbl",
    "status <code> [content-type <type>] [default-errorfiles|errorfile <file>|errorfiles "
    "<name>|file <file>|lf-file <file>|string <str>|lf-string <fmt>] [hdr <name> <fmt>]*",
    "Answer this status with the response described (as 'http-request return' does).",
)
def _http_error(ctx: Ctx, args: Args) -> None:
    from weir.http.values import RuleValueError, compile_value
    from weir.sample.core import REQ

    if len(args) < 2 or args[0] != "status":
        ctx.error("expects 'status <code>' first")
        return
    code = _code(ctx, args[1])
    if code is None:
        return
    ctype: str | None = None
    body: bytes | Callable[[Any], bytes] | None = None
    hdrs: list[tuple[bytes, Callable[[Any], bytes]]] = []
    chosen: Entry | None = None
    words = list(args[2:])
    i = 0
    try:
        while i < len(words):
            w = words[i]
            if w == "default-errorfiles":
                chosen = (code, None)
                i += 1
                continue
            if i + 1 >= len(words):
                ctx.error(f"'{w}' expects a value")
                return
            arg = words[i + 1]
            if w == "content-type":
                ctype = arg
            elif w == "errorfile":
                data = _response_file(ctx, arg)
                if data is None:
                    return
                chosen = (code, data)
            elif w == "errorfiles":
                chosen = Import(ctx.where, arg, (code,), warn=False)
            elif w in ("string", "lf-string"):
                body = arg.encode() if w == "string" else compile_value(arg, REQ)
            elif w in ("file", "lf-file"):
                try:
                    text = Path(arg).read_bytes()
                except OSError as e:
                    ctx.error(f"cannot read '{arg}': {e.strerror}")
                    return
                body = text if w == "file" else compile_value(text.decode("latin-1"), REQ)
            elif w == "hdr" and i + 2 < len(words):
                hdrs.append((arg.encode(), compile_value(words[i + 2], REQ)))
                i += 1
            else:
                ctx.error(
                    f"unexpected '{w}' (expects content-type, default-errorfiles, errorfile, "
                    "errorfiles, file, lf-file, string, lf-string or hdr)"
                )
                return
            i += 2
    except RuleValueError as e:
        ctx.error(str(e))
        return
    if chosen is not None:
        _add(ctx, chosen)
        return
    if body is not None and body != b"" and ctype is None:
        ctx.error("a 'content-type' is needed with a payload ('string', 'file', …)")
        return
    _add(ctx, (code, _page(code, ctype, body, hdrs)))


def _page(
    code: int,
    ctype: str | None,
    body: bytes | Callable[[Any], bytes] | None,
    hdrs: list[tuple[bytes, Callable[[Any], bytes]]],
) -> Page:
    """The response of an `http-error`: bytes when nothing in it varies."""
    line = b"HTTP/1.1 %d %s\r\n" % (code, reason(code).encode())
    fixed = b"content-type: " + ctype.encode() + b"\r\n" if ctype and body else b""
    tail = b"cache-control: no-cache\r\nconnection: close\r\n"
    if not callable(body) and not hdrs:
        data = body or b""
        return b"%scontent-length: %d\r\n%s%s\r\n%s" % (line, len(data), fixed, tail, data)
    make_body = body if callable(body) else (lambda s, data=body or b"": data)

    def page(stream: Any) -> bytes:
        data = make_body(stream)
        extra = b"".join(
            name + b": " + value + b"\r\n"
            for name, value in ((n, v(stream)) for n, v in hdrs)
            if not any(c in value for c in (b"\r", b"\n", b"\0"))  # never a header injection
        )
        return b"%scontent-length: %d\r\n%s%s%s\r\n%s" % (
            line, len(data), fixed, extra, tail, data
        )  # fmt: skip

    return page


# ---- http-errors sections -------------------------------------------------------------------


@section("http-errors")
def _open(ctx: Ctx, args: Args) -> None:
    if len(args) != 1:
        ctx.error("expects a name: 'http-errors <name>'")
        return
    known = ctx.cfg.http_errors.get(args[0])
    if known is not None:
        ctx.error(f"http-errors section '{args[0]}' is already declared at {known.where}")
        return
    ctx.block = ctx.cfg.http_errors[args[0]] = HttpErrors(args[0], ctx.where)


@keyword(
    "errorfile",
    "e",
    "<code> <file>",
    "A page of this http-errors section: a file holding a whole HTTP response.",
)
def _section_errorfile(ctx: Ctx, args: Args) -> None:
    block = ctx.block
    if not isinstance(block, HttpErrors) or not ctx.expect(args, 2, 2, "a status code and a file"):
        return
    code = _code(ctx, args[0])
    data = _response_file(ctx, args[1]) if code is not None else None
    if code is not None and data is not None:
        block.pages[code] = data


# ---- resolution ----------------------------------------------------------------------------


def resolve(cfg: Config, px: Proxy, diags: Diagnostics, reported: set[Where]) -> None:
    """Apply a proxy's list of error pages, in order, into its `errorfiles`."""
    pages: dict[int, Page] = {}
    for entry in px.error_pages:
        if not isinstance(entry, Import):
            code, page = entry
            if page is None:
                pages.pop(code, None)
            else:
                pages[code] = page
            continue
        errs = cfg.http_errors.get(entry.name)
        if errs is None:
            if entry.where not in reported:
                reported.add(entry.where)
                diags.alert(f"unknown http-errors section '{entry.name}'", entry.where)
            continue
        for code in entry.codes if entry.codes is not None else sorted(errs.pages):
            found = errs.pages.get(code)
            if found is not None:
                pages[code] = found
            elif entry.codes is not None and entry.warn and entry.where not in reported:
                reported.add(entry.where)
                diags.warning(
                    f"status '{code}' not declared in http-errors section '{entry.name}'",
                    entry.where,
                )
    px.errorfiles = pages
