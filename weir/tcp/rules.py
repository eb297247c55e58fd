"""`tcp-request` rules: accept or reject a connection when it arrives (`connection`), or
once its first bytes have been inspected (`content`, within `inspect-delay`).

    frontend tls-router
        mode tcp
        bind :443
        tcp-request inspect-delay 5s
        tcp-request content accept if { req_ssl_hello_type 1 }
        use_backend site-a if { req_ssl_sni -i a.example.com }
        default_backend site-b

Content inspection buffers what the client sends (up to tune.bufsize) in `stream.payload`
and evaluates the content rules each time more arrives: the first `accept` or `reject`
whose condition holds decides. When none does, inspection goes on until the delay
expires, the buffer is full or the client stops sending; then the connection is accepted
(HAProxy's default). `use_backend` rules are evaluated after the inspection, so they can
route on what it saw (SNI routing without decrypting).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from weir.config.diagnostics import Where
from weir.config.model import CondDef
from weir.config.parser import Ctx, named_defaults_only
from weir.config.registry import Args, keyword
from weir.config.units import parse_int, parse_size, parse_time
from weir.stream import Stream

ACCEPT, REJECT, CLOSE = 1, 2, 3  # CLOSE: `tcp-response content close`
# `tcp-request content switch-mode http`: a mode tcp session goes on as an HTTP one; in a
# session that is HTTP already, the rule stops the evaluation as `accept` does.
SWITCH = 4


@dataclass(slots=True)
class TcpRuleDef:
    where: Where
    verdict: int  # ACCEPT, REJECT, or 0 for an effect (tracking) after which rules go on
    cond: CondDef | None
    effect: Callable[[Stream], None] | None = None

    def __deepcopy__(self, memo: dict[int, object]) -> TcpRuleDef:
        return self  # as RuleDef's: never changed once parsed


Predicate = Callable[[Stream], bool]
Effect = Callable[[Stream], None]
# (condition or None, verdict, effect or None)
Compiled = tuple[tuple[Predicate | None, int, Effect | None], ...]


def _rule(ctx: Ctx, args: Args, target: list[TcpRuleDef], kind: str) -> None:
    if not named_defaults_only(ctx, kind):
        return
    if not args:
        ctx.error("expects an action ('accept' or 'reject')")
        return
    action, rest = args[0], list(args[1:])
    cut = next((i for i, w in enumerate(rest) if w in ("if", "unless")), len(rest))
    action_args, rest = rest[:cut], rest[cut:]
    effect = None
    if action.startswith("track-sc") and action[8:] in ("0", "1", "2"):
        from weir.config.model import Mode
        from weir.persist.stick import compile_track
        from weir.sample.core import L4, L4_CONTENT, REQ

        # In an HTTP proxy, content rules run on each request: HTTP fetches are usable.
        place = L4 if kind == "tcp-request connection" else L4_CONTENT
        if place == L4_CONTENT and ctx.px.mode is Mode.HTTP:
            place = REQ
        effect = compile_track(ctx, int(action[8:]), action_args, place)
        if effect is None:
            return
    elif action.startswith(("set-var(", "unset-var(")) and action.endswith(")"):
        from weir.config.model import Mode
        from weir.sample.core import L4, L4_CONTENT, REQ

        # In an HTTP proxy, content rules run on each request: HTTP fetches are usable.
        where = L4 if kind == "tcp-request connection" else L4_CONTENT
        if where == L4_CONTENT and ctx.px.mode is Mode.HTTP:
            where = REQ
        effect = _var_effect(ctx, action, action_args, where)
        if effect is None:
            return
    elif action == "expect-proxy" and kind == "tcp-request connection":
        if action_args != ["layer4"]:
            got = f" (got '{action_args[0]}')" if action_args else ""
            ctx.error(f"'expect-proxy' only supports 'layer4'{got}")
            return
        effect = _expect_proxy
    elif action == "switch-mode" and kind == "tcp-request content":
        if not _switch_mode(ctx, action_args):
            return
    elif action == "silent-drop":
        if action_args:
            ctx.error(f"unexpected '{action_args[0]}' after '{action}'")
            return
        effect = _silent_drop
    elif action not in ("accept", "reject"):
        more = {
            "tcp-request content": ", 'switch-mode http'",
            "tcp-request connection": ", 'expect-proxy layer4'",
        }.get(kind, "")
        ctx.error(
            f"'{kind} {action}' is HAProxy's or unknown; weir supports 'accept', 'reject', "
            f"'silent-drop', 'track-sc0/1/2', 'set-var(<name>)', 'unset-var(<name>)'{more} here"
        )
        return
    elif action_args:
        ctx.error(f"unexpected '{action_args[0]}' after '{action}'")
        return
    cond = None
    if rest:
        if len(rest) < 2:
            ctx.error(f"expects 'if' or 'unless' followed by a condition after '{action}'")
            return
        cond = CondDef(ctx.where, rest[0] == "unless", rest[1:])
    # Effects alone (tracking, variables…) decide nothing: the evaluation goes on.
    verdicts = {"accept": ACCEPT, "reject": REJECT, "silent-drop": REJECT, "switch-mode": SWITCH}
    verdict = verdicts.get(action, 0)
    target.append(TcpRuleDef(ctx.where, verdict, cond, effect))


def _silent_drop(s: Stream) -> None:
    """`silent-drop`: a `reject` whose connection disappears without the client being
    told (see weir.net.listener.drop_silently); the session closing it looks here."""
    s.drop = True


def _expect_proxy(s: Stream) -> None:
    """`expect-proxy layer4`: the connection starts with a PROXY protocol header, as with
    `accept-proxy` on its bind line; the rules after it go on (they see the connection's
    own addresses, as the ones before)."""
    s.proxy_expected = True


def _switch_mode(ctx: Ctx, args: list[str]) -> bool:
    """`switch-mode http [proto h1]`: checked as HAProxy 2.6 does, in a proxy that has a
    frontend (a defaults section passes it on to one)."""
    if not args:
        ctx.error("'switch-mode' expects a mode as argument ('http')")
        return False
    if ctx.px.cap.value == "backend":
        ctx.error(
            f"'switch-mode' not allowed because {ctx.px.cap} '{ctx.px.name}' has no "
            "frontend capability"
        )
        return False
    if args[0] != "http":
        ctx.error(f"'switch-mode' expects a valid mode (got '{args[0]}'); 'http' is the one")
        return False
    rest = args[1:]
    if rest[:1] == ["proto"]:
        if len(rest) < 2:
            ctx.error("'switch-mode http': 'proto' expects a protocol as argument")
            return False
        if rest[1] == "h2":
            ctx.error(
                "'switch-mode http proto h2': weir speaks HTTP/1.x only; use 'proto h1' or "
                "leave 'proto' out"
            )
            return False
        if rest[1] != "h1":
            ctx.error(f"'switch-mode http': 'proto' expects a valid MUX protocol (got '{rest[1]}')")
            return False
        rest = rest[2:]
    if rest:
        ctx.error(f"unexpected '{rest[0]}' after 'switch-mode http'")
        return False
    return True


def switches_to_http(px: object) -> bool:
    """Whether a proxy's `tcp-request content` rules may upgrade its sessions to HTTP
    (HTTP directives then apply to the upgraded sessions, without a warning)."""
    rules = getattr(px, "tcp_request_content_rules", ())
    return any(r.verdict == SWITCH for r in rules)


def _var_effect(
    ctx: Ctx, action: str, args: list[str], where: int
) -> Callable[[Stream], None] | None:
    """`set-var(<name>) <expr>` / `unset-var(<name>)` as an effect on the stream, its
    expression compiled for the sample place `where`."""
    from weir.sample.core import SampleError, compile_expr
    from weir.sample.vars import check_var_name, set_var, unset_var

    setting = action.startswith("set-var(")
    try:
        name = check_var_name(action[action.index("(") + 1 : -1].strip())
    except SampleError as e:
        ctx.error(str(e))
        return None
    if not setting:
        if args:
            ctx.error(f"unexpected '{args[0]}' after '{action}'")
            return None
        return lambda s: unset_var(s, name)
    if len(args) != 1:
        ctx.error(f"'{action}' expects one sample expression")
        return None
    try:
        get = compile_expr(args[0], where).get
    except SampleError as e:
        ctx.error(str(e))
        return None

    def set_(s: Stream) -> None:
        value = get(s)
        if value is not None:  # an absent sample leaves the variable as it was
            set_var(s, name, value)

    return set_


@keyword(
    "tcp-request connection",
    "dfl",
    "accept|reject|silent-drop|track-sc<N> <expr> [table <t>]|set-var(<name>) <expr>|"
    "unset-var(<name>)|expect-proxy layer4 [{if | unless} <condition>]",
    "Accept, reject or track a connection as soon as it arrives (addresses only), or "
    "expect a PROXY protocol header from it ('expect-proxy layer4').",
)
def _connection(ctx: Ctx, args: Args) -> None:
    _rule(ctx, args, ctx.px.tcp_request_connection_rules, "tcp-request connection")


@keyword(
    "tcp-request content",
    "dfbl",
    "accept|reject|silent-drop|track-sc<N> <expr> [table <t>]|set-var(<name>) <expr>|"
    "unset-var(<name>)|switch-mode http [proto h1] [{if | unless} <condition>]",
    "Accept, reject or track a connection from its first bytes (see 'inspect-delay'), or "
    "go on with it as HTTP ('switch-mode http').",
)
def _content(ctx: Ctx, args: Args) -> None:
    _rule(ctx, args, ctx.px.tcp_request_content_rules, "tcp-request content")


@keyword(
    "tcp-request inspect-delay",
    "dfbl",
    "<time>",
    "How long to wait for the client's first bytes before the content rules decide.",
)
def _inspect_delay(ctx: Ctx, args: Args) -> None:
    if not named_defaults_only(ctx, "tcp-request inspect-delay"):
        return
    if not ctx.expect(args, 1, 1, "a time such as 5s"):
        return
    try:
        ctx.px.tcp_inspect_delay = parse_time(args[0])
    except ValueError as e:
        ctx.error(str(e))


@keyword(
    "tcp-response content",
    "dbl",
    "accept|reject|close|silent-drop|set-var(<name>) <expr>|unset-var(<name>)|"
    "set-log-level <level> [{if | unless} <condition>]",
    "Decide on the server's first bytes (see 'tcp-response inspect-delay'); res.len, "
    "res.payload and res.payload_lv read them.",
)
def _response_content(ctx: Ctx, args: Args) -> None:
    if not named_defaults_only(ctx, "tcp-response content"):
        return
    if not args:
        ctx.error("expects an action ('accept', 'reject' or 'close')")
        return
    from weir.sample.core import RES

    action, rest = args[0], list(args[1:])
    cut = next((i for i, w in enumerate(rest) if w in ("if", "unless")), len(rest))
    action_args, rest = rest[:cut], rest[cut:]
    effect = None
    if action.startswith(("set-var(", "unset-var(")) and action.endswith(")"):
        effect = _var_effect(ctx, action, action_args, RES)
        if effect is None:
            return
    elif action == "set-log-level":
        effect = _log_level_effect(ctx, action_args)
        if effect is None:
            return
    elif action == "silent-drop":
        if action_args:
            ctx.error(f"unexpected '{action_args[0]}' after '{action}'")
            return
        effect = _silent_drop
    elif action not in ("accept", "reject", "close"):
        ctx.error(
            f"'tcp-response content {action}' is HAProxy's or unknown; weir supports "
            "'accept', 'reject', 'close', 'silent-drop', 'set-var(<name>)', "
            "'unset-var(<name>)' and 'set-log-level' here"
        )
        return
    elif action_args:
        ctx.error(f"unexpected '{action_args[0]}' after '{action}'")
        return
    cond = None
    if rest:
        if len(rest) < 2:
            ctx.error(f"expects 'if' or 'unless' followed by a condition after '{action}'")
            return
        cond = CondDef(ctx.where, rest[0] == "unless", rest[1:])
    verdicts = {"accept": ACCEPT, "reject": REJECT, "silent-drop": REJECT, "close": CLOSE}
    verdict = verdicts.get(action, 0)
    ctx.px.tcp_response_content_rules.append(TcpRuleDef(ctx.where, verdict, cond, effect))


def _log_level_effect(ctx: Ctx, args: list[str]) -> Callable[[Stream], None] | None:
    """`set-log-level <level>`: the session is logged at that level (`silent`: not at all)."""
    from weir.log import LEVELS

    if len(args) != 1 or (args[0] != "silent" and args[0] not in LEVELS):
        ctx.error(f"'set-log-level' expects one of {', '.join((*LEVELS, 'silent'))}")
        return None
    level = -1 if args[0] == "silent" else LEVELS.index(args[0])

    def set_level(s: Stream) -> None:
        s.log_level = level

    return set_level


@keyword(
    "tcp-response inspect-delay",
    "dbl",
    "<time>",
    "How long to wait for the server's first bytes before the response rules decide.",
)
def _response_inspect_delay(ctx: Ctx, args: Args) -> None:
    if not named_defaults_only(ctx, "tcp-response inspect-delay"):
        return
    if not ctx.expect(args, 1, 1, "a time such as 5s"):
        return
    try:
        ctx.px.tcp_response_inspect_delay = parse_time(args[0])
    except ValueError as e:
        ctx.error(str(e))


def compile_tcp_rules(
    defs: Sequence[TcpRuleDef], acls: dict[str, list[Predicate]]
) -> Compiled | None:
    from weir.sample.acl import compile_cond, cond_acls

    if not defs:
        return None
    return tuple(
        (
            None
            if d.cond is None
            else compile_cond(d.cond.words, d.cond.unless, cond_acls(d.cond, acls)),
            d.verdict,
            d.effect,
        )
        for d in defs
    )


def decide(rules: Compiled, stream: Stream) -> int:
    """The verdict (ACCEPT, REJECT, CLOSE, SWITCH) of the first deciding rule whose
    condition holds, else 0 (undecided). A rule's effect applies first; one without a
    verdict (tracking, variables) lets the evaluation go on."""
    for pred, verdict, effect in rules:
        if pred is None or pred(stream):
            if effect is not None:
                effect(stream)
                if not verdict:
                    continue
            return verdict
    return 0


# ---- splicing (weir/tcp/splice.py) ------------------------------------------------------------


def _splice_option(kind: str) -> None:
    def handler(ctx: Ctx, args: Args) -> None:
        if not ctx.expect(args, 0, 0, ""):
            return
        px = ctx.px
        px.splice = px.splice - {kind} if ctx.negated else px.splice | {kind}

    keyword(
        f"option splice-{kind}",
        "dfbl",
        "",
        {
            "auto": "Relay with kernel splicing once a session's transfers are large (mode tcp).",
            "request": "Relay with kernel splicing from the start (mode tcp; both directions).",
            "response": "Relay with kernel splicing from the start (mode tcp; both directions).",
        }[kind],
        negatable=True,
    )(handler)


for _kind in ("auto", "request", "response"):
    _splice_option(_kind)


@keyword("maxpipes", "g", "<number>", "Most kernel pipes for splicing (default: maxconn / 4).")
def _maxpipes(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a number"):
        try:
            ctx.cfg.global_.maxpipes = parse_int(args[0], what="maxpipes")
        except ValueError as e:
            ctx.error(str(e))


@keyword("nosplice", "g", "", "Never relay with kernel splicing, whatever the proxies say.")
def _nosplice(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 0, 0, ""):
        ctx.cfg.global_.nosplice = True


@keyword("tune.pipesize", "g", "<size>", "The size of each splicing pipe (default: the kernel's).")
def _pipesize(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a size"):
        try:
            ctx.cfg.global_.tune_pipesize = parse_size(args[0])
        except ValueError as e:
            ctx.error(str(e))
