"""mode http keywords: connection modes and X-Forwarded-For."""

from __future__ import annotations

import ipaddress

from weir.config.parser import Ctx
from weir.config.registry import Args, flag_option, keyword


def _connection_mode(name: str, doc: str) -> None:
    def handler(ctx: Ctx, args: Args) -> None:
        if not ctx.expect(args, 0, 0, ""):
            return
        if ctx.negated:
            if ctx.px.http_connection_mode == name:
                ctx.px.http_connection_mode = "http-keep-alive"
            return
        ctx.px.http_connection_mode = name

    keyword(f"option {name}", "dfbl", "", doc, negatable=True)(handler)


_connection_mode(
    "http-keep-alive", "Keep client and server connections open between requests (the default)."
)
_connection_mode(
    "http-server-close", "Close the server connection after each response; keep the client's."
)
_connection_mode("httpclose", "Close both connections after each response.")


flag_option(
    "http-buffer-request",
    "dfbl",
    "buffer_request",
    "Wait for the request body (up to tune.bufsize) before the http-request rules, so that "
    "they can read it (req.body, req.body_param ...).",
)


@keyword(
    "option forwardfor",
    "dfbl",
    "[except <network>] [header <name>] [if-none]",
    "Add the client's address in an X-Forwarded-For header.",
    negatable=True,
)
def _forwardfor(ctx: Ctx, args: Args) -> None:
    px = ctx.px
    if ctx.negated:
        px.forwardfor = False
        return
    i = 0
    px.forwardfor_except = None
    px.forwardfor_if_none = False
    while i < len(args):
        word = args[i]
        if word in ("header", "except") and i + 1 >= len(args):
            ctx.error(f"'{word}' expects an argument")
            return
        if word == "header":
            px.forwardfor_header = args[i + 1]
            i += 2
        elif word == "except":
            try:
                px.forwardfor_except = ipaddress.ip_network(args[i + 1], strict=False)
            except ValueError:
                ctx.error(f"'except' expects a network such as 10.0.0.0/8, got '{args[i + 1]}'")
                return
            i += 2
        elif word == "if-none":
            px.forwardfor_if_none = True
            i += 1
        else:
            ctx.error(f"unexpected '{word}' (expects 'except', 'header' or 'if-none')")
            return
    px.forwardfor = True


@keyword(
    "monitor-uri",
    "dfl",
    "<uri>",
    "Answer this exact path with 200 (503 while stopping) for an outer health probe.",
)
def _monitor_uri(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 1, "a path such as /haproxy_test"):
        return
    if not args[0].startswith("/"):
        ctx.warn(f"'{args[0]}' does not start with '/': only a request for exactly it matches")
    ctx.px.monitor_uri = args[0]


@keyword(
    "monitor fail",
    "fl",
    "{if | unless} <condition>",
    "Answer the monitor-uri with 503 while the condition holds (several lines: any).",
)
def _monitor_fail(ctx: Ctx, args: Args) -> None:
    from weir.proxy.keywords import parse_cond

    if not args:
        ctx.error("expects 'if' or 'unless' followed by a condition")
        return
    ok, cond = parse_cond(ctx, args)
    if ok and cond is not None:
        ctx.px.monitor_fail.append(cond)


@keyword(
    "option contstats",
    "dfl",
    "",
    "Count traffic continuously rather than at the end of each transfer (weir always does).",
    negatable=True,
)
def _contstats(ctx: Ctx, args: Args) -> None:
    # weir's byte counters are bumped on every chunk relayed, which is what the option
    # asks for; there is nothing to switch, and `no option contstats` cannot turn it off.
    if ctx.expect(args, 0, 0, "") and ctx.negated:
        ctx.warn("weir always updates its counters continuously; 'no' has no effect")
