"""Proxy keywords of health checks: the check options, `http-check`, `tcp-check`,
`timeout check`. Server options and the global ones are in `weir.check.srvkeywords`.

What a section's lines mean follows HAProxy 2.6, which keeps each section's rules apart:

* The last `option <kind>` of a section (or, without one, of its defaults) chooses the
  check: `httpchk`, `tcp-check`, or a protocol (`redis-check`, `mysql-check`,
  `pgsql-check`, `smtpchk`, `ldap-check`, `ssl-hello-chk`).
* `tcp-check` lines of a section replace those of its defaults; the defaults' lines are
  used by a section that declares none, as long as the defaults chose `tcp-check` too.
* `http-check` lines belong to the section that says `option httpchk`; they may come
  before or after it. A section that only inherits `option httpchk` cannot add its own
  (HAProxy would then send no request at all): weir refuses that, naming the fix.
* Lines of the family the chosen option does not use are ignored with a warning.

Every line is parsed here, so mistakes are reported at their line; the whole-section
problems (order of `http-check` lines, ignored lines) are reported by `check_config`.
"""

from __future__ import annotations

from collections.abc import Callable

import weir.check.srvkeywords  # noqa: F401  (server and global options register there)
from weir.check.assemble import own
from weir.check.httpchk import parse_http_send, parse_httpchk
from weir.check.rules import TCP_CHECK_ACTIONS, Connect, parse_connect, parse_expect
from weir.config.model import CheckRuleConf
from weir.config.parser import Ctx
from weir.config.registry import Args, keyword
from weir.config.units import parse_time

PROTOCOL_OPTIONS = (
    "redis-check",
    "mysql-check",
    "pgsql-check",
    "smtpchk",
    "ldap-check",
    "ssl-hello-chk",
)


def _choose(ctx: Ctx, kind: str, args: Args) -> None:
    """Record `option <kind> <args>` as the section's check."""
    ck = ctx.px.checks
    previous = ck.option
    ck.option = kind
    ck.option_args = list(args)
    ck.option_where = ctx.where
    px = ctx.px
    if kind == "httpchk":
        ck.http_rules = [r for r in ck.http_rules if own(px, r.where)]
    else:
        px.httpchk = None
    if kind == "tcp-check" and previous != "tcp-check":
        ck.tcp_rules = [r for r in ck.tcp_rules if own(px, r.where)]


@keyword(
    "option httpchk",
    "dbl",
    "[<method>] [<uri>] [<version>]",
    "Check servers with an HTTP request (default 'OPTIONS / HTTP/1.0'); 2xx and 3xx pass.",
)
def _option_httpchk(ctx: Ctx, args: Args) -> None:
    try:
        conf, warnings = parse_httpchk(list(args))
    except ValueError as e:
        ctx.error(str(e))
        return
    for w in warnings:
        ctx.warn(w)
    conf.where = ctx.where
    ctx.px.httpchk = conf
    _choose(ctx, "httpchk", args)


@keyword(
    "option tcp-check",
    "dbl",
    "",
    "Check servers with the 'tcp-check' rules of this section (or of its defaults).",
)
def _option_tcp_check(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 0, 0, ""):
        _choose(ctx, "tcp-check", args)


def _no_argument_option(name: str, doc: str) -> None:
    def handler(ctx: Ctx, args: Args) -> None:
        if ctx.expect(args, 0, 0, ""):
            _choose(ctx, name, args)

    keyword(f"option {name}", "dbl", "", doc)(handler)


_no_argument_option("redis-check", "Check servers with a Redis PING; +PONG passes.")
_no_argument_option("ldap-check", "Check servers with an anonymous LDAPv3 bind; success passes.")
_no_argument_option(
    "ssl-hello-chk", "Check servers with an SSLv3 hello; any SSL answer passes (L6OK)."
)


@keyword(
    "option smtpchk",
    "dbl",
    "[EHLO|HELO <domain>]",
    "Check servers with SMTP: a 2xx greeting, then a 2xx answer to HELO (default "
    "'HELO localhost').",
)
def _option_smtpchk(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 0, 2, "[EHLO|HELO <domain>]"):
        _choose(ctx, "smtpchk", args)


@keyword(
    "option pgsql-check",
    "dbl",
    "user <username>",
    "Check servers with a PostgreSQL start-up message for this user.",
)
def _option_pgsql_check(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 2, 2, "'user <username>' as argument"):
        return
    if args[0] != "user" or not args[1]:
        ctx.error("only supports optional values: 'user'")
        return
    _choose(ctx, "pgsql-check", args)


@keyword(
    "option mysql-check",
    "dbl",
    "[user <username> [post-41|pre-41]]",
    "Check servers with the MySQL handshake; with a user, log in (no password) and quit.",
)
def _option_mysql_check(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 0, 3, "[user <username> [post-41|pre-41]]"):
        return
    if args:
        if args[0] != "user":
            ctx.error(f"only supports optional values: 'user' (got '{args[0]}')")
            return
        if len(args) < 2 or not args[1]:
            ctx.error("'user' expects <username> as argument")
            return
        if len(args) == 3 and args[2] not in ("post-41", "pre-41"):
            ctx.error(f"keyword 'user' only supports 'post-41' and 'pre-41' (got '{args[2]}')")
            return
    _choose(ctx, "mysql-check", args)


# ---- http-check --------------------------------------------------------------------------


def _http_rule(action: str, usage: str, doc: str, parse: Callable[[list[str]], object]) -> None:
    def handler(ctx: Ctx, args: Args) -> None:
        words = [action, *args]
        try:
            parse(words)
        except ValueError as e:
            ctx.error(str(e))
            return
        rules = ctx.px.checks.http_rules
        if action == "connect":
            _first_step_is_connect(ctx, rules)
        rules.append(CheckRuleConf(ctx.where, words))

    keyword(f"http-check {action}", "dbl", usage, doc)(handler)


def _first_step_is_connect(ctx: Ctx, rules: list[CheckRuleConf]) -> None:
    mine = [r for r in rules if own(ctx.px, r.where) and r.words[0] != "comment"]
    if mine and mine[0].words[0] != "connect":
        ctx.error(
            "first step MUST also be a 'connect', optionally preceded by a 'comment', "
            "when there is a 'connect' step in the rules"
        )


_http_rule(
    "expect",
    "[!] status|rstatus|string|rstring|hdr|fhdr <pattern> [options…]",
    "What an HTTP check must find in the response (rules are checked in order).",
    lambda words: parse_expect(words, http=True),
)
_http_rule(
    "send",
    "[meth <m>] [uri <u>] [ver <v>] [hdr <name> <value>]… [body <text>] [comment <text>]",
    "The request an HTTP check sends (merged with the one of 'option httpchk').",
    parse_http_send,
)
_http_rule(
    "connect",
    "[default] [port <port>] [addr <ip>[:<port>]] [send-proxy] [linger] [comment <text>]",
    "Open a new connection for the following HTTP check rules.",
    lambda words: parse_connect(words, "http-check"),
)
_http_rule(
    "comment",
    "<text>",
    "A comment shown in the detail of a failure of the following rules.",
    TCP_CHECK_ACTIONS["comment"],
)


@keyword(
    "http-check disable-on-404",
    "dbl",
    "",
    "A 404 from a server that is up makes it refuse new traffic but keep its connections.",
)
def _disable_on_404(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 0, 0, ""):
        ctx.px.checks.disable_on_404 = True


@keyword(
    "http-check send-state",
    "dbl",
    "",
    "Add an X-Haproxy-Server-State header with the server's state to HTTP checks.",
)
def _send_state(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 0, 0, ""):
        ctx.px.checks.send_state = True


@keyword(
    "option log-health-checks",
    "dbl",
    "",
    "Log every change of a server's check result, not only its UP/DOWN transitions.",
    negatable=True,
)
def _log_health_checks(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 0, 0, ""):
        ctx.px.checks.log_health_checks = not ctx.negated


# ---- tcp-check ---------------------------------------------------------------------------


def _tcp_rule(action: str, usage: str, doc: str) -> None:
    parse = TCP_CHECK_ACTIONS[action]

    def handler(ctx: Ctx, args: Args) -> None:
        words = [action, *args]
        try:
            rule, _ = parse(words)
        except ValueError as e:
            ctx.error(str(e))
            return
        ck = ctx.px.checks
        ck.tcp_rules = [r for r in ck.tcp_rules if own(ctx.px, r.where)]
        if isinstance(rule, Connect):
            _first_step_is_connect(ctx, ck.tcp_rules)
        ck.tcp_rules.append(CheckRuleConf(ctx.where, words))

    keyword(f"tcp-check {action}", "dbl", usage, doc)(handler)


_tcp_rule(
    "connect",
    "[default] [port <port>] [addr <ip>[:<port>]] [send-proxy] [linger] [comment <text>]",
    "Open a (new) connection; rules that do not start with one get one implicitly.",
)
_tcp_rule("send", "<string> [comment <text>]", "Send a string.")
_tcp_rule("send-binary", "<hexstring> [comment <text>]", "Send bytes given in hexadecimal.")
_tcp_rule(
    "expect",
    "[!] string|rstring|binary|rbinary <pattern> [options…]",
    "What the server must send (options: min-recv, comment, ok-status, error-status, "
    "tout-status, on-success, on-error).",
)
_tcp_rule("comment", "<text>", "A comment shown in the detail of a failure of the next rules.")


@keyword(
    "timeout check",
    "dbl",
    "<time>",
    "Longest wait for a check's response once connected; the connection then gets "
    "min('timeout connect', 'inter'). Unset: 'inter' bounds the whole check.",
)
def _timeout_check(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 1, "a time value such as 5s or 5000ms"):
        return
    try:
        ctx.px.timeouts.check = parse_time(args[0])
    except ValueError as e:
        ctx.error(str(e))
