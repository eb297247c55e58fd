"""Keywords of cookie persistence: `cookie` in backends and `cookie VALUE` on servers."""

from __future__ import annotations

from weir.config.model import CookieConf, ServerConf
from weir.config.parser import Ctx
from weir.config.registry import SERVER_OPTIONS, Args, keyword

_FLAGS = {"indirect", "nocache", "httponly", "secure"}
_MODES = {"insert", "rewrite", "prefix"}
_NOT_YET = {"postonly", "preserve", "dynamic", "maxidle", "maxlife"}


@keyword(
    "cookie",
    "dbl",
    "<name> [insert|rewrite|prefix] [indirect] [nocache] [httponly] [secure] [domain <d>]* "
    "[attr <a>]*",
    "Persistence by a cookie: inserted by weir, rewritten or prefixed in the server's, or "
    "(without a mode) the server's own.",
)
def _cookie(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, None, "a cookie name and its mode"):
        return
    conf = CookieConf(ctx.where, args[0])
    conf.mode = ""
    i = 1
    while i < len(args):
        word = args[i]
        if word in _NOT_YET:
            ctx.error(f"'{word}' is a HAProxy cookie option that weir does not support yet")
            return
        if word in ("domain", "attr"):
            if i + 1 >= len(args):
                ctx.error(f"'{word}' expects a value")
                return
            (conf.domains if word == "domain" else conf.attrs).append(args[i + 1])
            i += 2
            continue
        if word in _MODES:
            if conf.mode:
                ctx.error(f"'{word}' and '{conf.mode}' are exclusive cookie modes")
                return
            conf.mode = word
        elif word in _FLAGS:
            setattr(conf, word, True)
        else:
            ctx.error(f"unknown cookie option '{word}'")
            return
        i += 1
    conf.mode = conf.mode or "passive"
    ctx.px.cookie = conf


@SERVER_OPTIONS.option(
    "cookie", 1, "<value>", "This server's value of the persistence cookie.", default_server=False
)
def _server_cookie(ctx: Ctx, target: object, args: Args) -> None:
    assert isinstance(target, ServerConf)
    target.cookie = args[0]


# ---- use-server, force-persist, ignore-persist --------------------------------------------


@keyword(
    "use-server",
    "bl",
    "<server> {if | unless} <condition>",
    "Send the request to this server when the condition holds (if it is up or draining).",
)
def _use_server(ctx: Ctx, args: Args) -> None:
    from weir.proxy.keywords import parse_cond

    if not ctx.expect(args, 3, None, "a server name and a condition"):
        return
    ok, cond = parse_cond(ctx, args[1:])
    if ok and cond is not None:
        ctx.px.use_server_rules.append((ctx.where, args[0], cond))


def _persist_rule(name: str, doc: str) -> None:
    def handler(ctx: Ctx, args: Args) -> None:
        from weir.proxy.keywords import parse_cond

        if not args:
            ctx.error("expects 'if' or 'unless' followed by a condition")
            return
        ok, cond = parse_cond(ctx, args)
        if ok and cond is not None:
            getattr(ctx.px, name.replace("-", "_")).append(cond)

    keyword(name, "fbl", "{if | unless} <condition>", doc)(handler)


_persist_rule(
    "force-persist", "Keep cookie persistence to a server that is down or in maintenance."
)
_persist_rule("ignore-persist", "Balance the request as if it carried no persistence cookie.")
