"""Keywords of cookie persistence: `cookie` in backends and `cookie VALUE` on servers."""

from __future__ import annotations

from weir.config.model import CookieConf, ServerConf
from weir.config.parser import Ctx
from weir.config.registry import SERVER_OPTIONS, Args, keyword
from weir.config.units import parse_time

_FLAGS = {"indirect", "nocache", "httponly", "secure", "postonly", "preserve", "dynamic"}
_MODES = {"insert", "rewrite", "prefix"}
_MAX_SECONDS = 2147483647


@keyword(
    "cookie",
    "dbl",
    "<name> [insert|rewrite|prefix] [indirect] [nocache] [postonly] [preserve] [httponly] "
    "[secure] [domain <d>]* [maxidle <idle>] [maxlife <life>] [dynamic] [attr <a>]*",
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
        if word in ("domain", "attr", "maxidle", "maxlife"):
            if i + 1 >= len(args) or not args[i + 1]:
                ctx.error(f"'{word}' expects a value")
                return
            value = args[i + 1]
            if word in ("maxidle", "maxlife"):
                seconds = _seconds(ctx, word, value)
                if seconds is None:
                    return
                setattr(conf, word, seconds)
            elif word == "domain":
                if not _domain_ok(ctx, value):
                    return
                conf.domains.append(value)
            else:
                bad = next((c for c in value if c == ";" or ord(c) < 32 or ord(c) == 127), None)
                if bad is not None:
                    ctx.error(f"character '%x{ord(bad):02X}' is not permitted in attribute value")
                    return
                conf.attrs.append(value)
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
            ctx.error(
                f"unknown cookie option '{word}' (expects rewrite, insert, prefix, indirect, "
                "nocache, postonly, preserve, httponly, secure, domain, maxidle, maxlife, "
                "dynamic or attr)"
            )
            return
        i += 1
    if conf.mode == "rewrite" and conf.indirect:
        ctx.error("cookie 'rewrite' and 'indirect' modes are incompatible")
        return
    if conf.preserve and conf.mode != "insert" and not conf.indirect:
        ctx.error("cookie 'preserve' requires at least 'insert' or 'indirect'")
        return
    conf.mode = conf.mode or "passive"
    ctx.px.cookie = conf


def _seconds(ctx: Ctx, word: str, text: str) -> int | None:
    """`maxidle`/`maxlife`: a time in seconds by default, at least one second."""
    try:
        ms = parse_time(text, default_unit="s")
    except ValueError as e:
        ctx.error(f"'{word}': {e}")
        return None
    if 0 < ms < 1000:
        ctx.error(
            f"timer underflow in argument <{text}> to <{word}>, minimum non-null value is 1 s"
        )
        return None
    if ms // 1000 > _MAX_SECONDS:
        ctx.error(f"timer overflow in argument <{text}> to <{word}>, maximum value is 2147483647 s")
        return None
    return ms // 1000


def _domain_ok(ctx: Ctx, domain: str) -> bool:
    if "." not in domain:
        ctx.warn(
            f"domain '{domain}' contains no embedded dot, this configuration may not work "
            "properly (see RFC6265#5.2.3)"
        )
    bad = next((c for c in domain if not ((c.isascii() and c.isalnum()) or c in ".-_")), None)
    if bad is not None:
        ctx.error(f"character '{bad}' is not permitted in domain name '{domain}'")
        return False
    return True


@keyword(
    "dynamic-cookie-key",
    "dbl",
    "<secret_key>",
    "The secret that dynamic persistence cookies are computed from (with each server's "
    "address and port).",
)
def _dynamic_cookie_key(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 1, "<secret_key>"):
        return
    ctx.px.dynamic_cookie_key = args[0]


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
