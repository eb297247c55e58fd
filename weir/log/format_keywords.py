"""Keywords for custom log formats, captures and unique ids.

    log-format <fmt>            a frontend's own traffic log line (overrides `option
                                httplog`/`tcplog`, and they override it: the last wins)
    log-format-sd <fmt>         the structured-data part of RFC 5424 lines
    unique-id-format <fmt>      an id per request, for %ID and unique-id-header
    unique-id-header <name>     send that id to the server in this header
    capture cookie <name> len <n>
    capture request header <name> len <n>
    capture response header <name> len <n>
    option logasap              log when the response head arrives, not at the end

A format is one word (quote it, or escape its blanks with `\\ `). It is checked when the
whole configuration is loaded (weir.log.checks), once the proxy's mode is known, since
some variables need `mode http`.
"""

from __future__ import annotations

from weir.config.parser import Ctx
from weir.config.registry import Args, flag_option, keyword
from weir.log.keywords import overriding


def _one_format(ctx: Ctx, args: Args) -> str | None:
    if not args or not args[0]:
        ctx.error("expects a format string")
        return None
    if len(args) > 1:
        ctx.error(
            "expects one format string: quote it, or escape its spaces with '\\ ' "
            f"(found {len(args)} words)"
        )
        return None
    return args[0]


@keyword(
    "log-format",
    "dfl",
    "<format>",
    "This frontend's traffic log line, built from %-variables and %[samples] "
    "(replaces 'option httplog'/'option tcplog', or is replaced by them: the last wins); "
    "'%{+json}o' with named items ('%(name)ci') prints one JSON object per line.",
)
def _log_format(ctx: Ctx, args: Args) -> None:
    fmt = _one_format(ctx, args)
    if fmt is None:
        return
    px = ctx.px
    overriding(ctx)
    px.log_format = fmt
    px.httplog = px.tcplog = px.httplog_clf = px.log_json = False
    px.logformat_where = ctx.where


@keyword(
    "log-format-sd",
    "dfl",
    "<format>",
    "The structured-data part of RFC 5424 log lines ('-' when unset or empty).",
)
def _log_format_sd(ctx: Ctx, args: Args) -> None:
    fmt = _one_format(ctx, args)
    if fmt is not None:
        ctx.px.log_format_sd = fmt
        ctx.px.log_format_sd_where = ctx.where


@keyword(
    "unique-id-format",
    "dfl",
    "<format>",
    "Give each request an id built from this format (%ID in log formats; sent to the "
    "server with 'unique-id-header').",
)
def _unique_id_format(ctx: Ctx, args: Args) -> None:
    fmt = _one_format(ctx, args)
    if fmt is not None:
        ctx.px.unique_id_format = fmt
        ctx.px.unique_id_format_where = ctx.where


@keyword(
    "unique-id-header",
    "dfl",
    "<name>",
    "Add the request's unique id (see 'unique-id-format') to the request in this header.",
)
def _unique_id_header(ctx: Ctx, args: Args) -> None:
    if not args or not args[0]:
        ctx.error("expects a header name")
        return
    if len(args) > 1:
        ctx.error(f"expects one header name, not {len(args)} words")
        return
    ctx.px.unique_id_header = args[0]


def _length(ctx: Ctx, word: str) -> int | None:
    try:
        n = int(word, 10)
    except ValueError:
        n = -1
    if n < 0:
        ctx.error(f"invalid capture length '{word}': expects a number of bytes")
        return None
    return n


def _capture_header(ctx: Ctx, args: Args, what: str) -> tuple[str, int] | None:
    usage = f"'capture {what} header <name> len <length>'"
    if len(args) != 3 or args[1] != "len" or not args[0]:
        if len(args) > 3 and args[1] == "len":
            ctx.error(f"unexpected argument '{args[3]}': expects {usage}")
        else:
            ctx.error(f"expects {usage}")
        return None
    n = _length(ctx, args[2])
    return None if n is None else (args[0], n)


@keyword(
    "capture request header",
    "fl",
    "<name> len <length>",
    "Log the last value of this request header, cut to <length> bytes (%hr, %hrl).",
)
def _capture_request(ctx: Ctx, args: Args) -> None:
    cap = _capture_header(ctx, args, "request")
    if cap is not None:
        ctx.px.capture_request_headers.append(cap)
        ctx.px.capture_where = ctx.px.capture_where or ctx.where


@keyword(
    "capture response header",
    "fl",
    "<name> len <length>",
    "Log the last value of this response header, cut to <length> bytes (%hs, %hsl).",
)
def _capture_response(ctx: Ctx, args: Args) -> None:
    cap = _capture_header(ctx, args, "response")
    if cap is not None:
        ctx.px.capture_response_headers.append(cap)
        ctx.px.capture_where = ctx.px.capture_where or ctx.where


@keyword(
    "declare capture",
    "fl",
    "request|response len <length>",
    "A capture slot that 'http-request capture ... id N' (or http-response) fills (%hr, %hs).",
)
def _declare_capture(ctx: Ctx, args: Args) -> None:
    if len(args) != 3 or args[0] not in ("request", "response") or args[1] != "len":
        ctx.error("expects 'declare capture request|response len <length>'")
        return
    n = _length(ctx, args[2])
    if n is None:
        return
    slots = (
        ctx.px.capture_request_headers if args[0] == "request" else ctx.px.capture_response_headers
    )
    slots.append(("", n))  # no header: a rule fills it
    ctx.px.capture_where = ctx.px.capture_where or ctx.where


@keyword(
    "capture cookie",
    "fl",
    "<name> len <length>",
    "Log the first request cookie (%CC) and response Set-Cookie (%CS) whose name starts "
    "with <name>, as 'name=value' cut to <length> bytes (63 at most).",
)
def _capture_cookie(ctx: Ctx, args: Args) -> None:
    if len(args) != 3 or args[1] != "len" or not args[0]:
        ctx.error("expects 'capture cookie <name> len <length>'")
        return
    n = _length(ctx, args[2])
    if n is None:
        return
    px = ctx.px
    if px.capture_cookie is not None:
        ctx.warn(f"replaces 'capture cookie {px.capture_cookie[0]}': only one cookie is captured")
    if n > 63:
        ctx.warn(f"capture length {n} is cut to 63 bytes, the most a cookie capture keeps")
        n = 63
    px.capture_cookie = (args[0], n)
    px.capture_where = px.capture_where or ctx.where


flag_option(
    "logasap",
    "dfl",
    "logasap",
    "Log an HTTP request as soon as its response head arrives, with the byte count and "
    "times so far marked '+', instead of when the transfer ends.",
)
