"""The `stats` keywords of proxy sections: the HTTP statistics page and who may see it.

HAProxy 2.6 semantics, kept here because they surprise:
- every `stats` keyword enables the page (`stats enable` only says nothing else);
- the first `stats` keyword of a frontend, backend or listen section drops whatever `stats`
  settings the section inherited from its defaults section and starts again from the
  built-in ones (URI `/haproxy?stats`, no users, no refresh), so `stats uri /x` in a listen
  section does not keep a defaults section's `stats auth` users;
- `stats auth` without a `:` grants the user with an empty password, and a user given
  twice keeps its first password.
"""

from __future__ import annotations

import weir.api.keywords  # noqa: F401  (the runtime API's `stats socket` lines)
from weir.config.model import Cap, CondDef, Proxy, StatsConf
from weir.config.parser import Ctx
from weir.config.registry import REGISTRY, Args, Keyword, keyword
from weir.config.units import parse_time
from weir.sample.acl import AclError, Predicate, compile_acl, compile_cond
from weir.stats.conf import StatsSettings, own_settings

DEFAULT_URI = "/haproxy?stats"
DEFAULT_REALM = "HAProxy Statistics"


def _declared_here(stats: StatsConf, px: Proxy) -> bool:
    """True when a `stats` line of this very section already set `stats.where`.

    A section never spans files and its lines follow its header, so a `where` in the same
    file after the header is ours; anything else came with the defaults section copy.
    """
    w = stats.where
    return w is not None and w.file == px.where.file and w.line > px.where.line


def _stats(ctx: Ctx) -> StatsSettings:
    """The section's own stats settings, detached from the inherited ones on first use
    (the section's `http-request use-service` rules, not `stats` settings, are kept)."""
    px = ctx.px
    stats = px.stats
    if not _declared_here(stats, px):
        if px.cap is not Cap.DEFAULTS:
            own = isinstance(stats, StatsSettings) and stats.section == px.where
            services = list(stats.services) if isinstance(stats, StatsSettings) and own else []
            fresh = StatsSettings(services=services, section=px.where)
            px.stats = fresh
        else:
            fresh = own_settings(px)
        fresh.where = ctx.where
    settings = own_settings(px)
    settings.enabled = True
    return settings


def _extra(ctx: Ctx, args: Args, used: int) -> None:
    # HAProxy reads only the words it needs and says nothing about the rest; a word that
    # does nothing deserves a word from us, but not a refusal of a config HAProxy runs.
    if len(args) > used:
        ctx.warn(
            f"extra argument{'s' if len(args) - used > 1 else ''} '{' '.join(args[used:])}' ignored"
        )


@keyword(
    "stats enable",
    "dfbl",
    "",
    "Serve the statistics page (URI /haproxy?stats unless 'stats uri' says otherwise).",
)
def _enable(ctx: Ctx, args: Args) -> None:
    _stats(ctx)
    _extra(ctx, args, 0)


@keyword(
    "stats uri",
    "dfbl",
    "<prefix>",
    "Serve the statistics page on every request whose path starts with <prefix>.",
)
def _uri(ctx: Ctx, args: Args) -> None:
    if not args:
        ctx.error("expects a URI prefix such as '/stats' or '/haproxy?stats'")
        return
    _stats(ctx).uri = args[0]
    _extra(ctx, args, 1)


@keyword(
    "stats realm",
    "dfbl",
    "<realm>",
    "The realm the browser shows when it asks for the 'stats auth' credentials.",
)
def _realm(ctx: Ctx, args: Args) -> None:
    if not args:
        ctx.error("expects a realm name (escape spaces with '\\')")
        return
    _stats(ctx).realm = args[0]
    _extra(ctx, args, 1)


@keyword(
    "stats auth",
    "dfbl",
    "<user>:<passwd>",
    "Require HTTP Basic authentication with this account (repeat for more accounts).",
)
def _auth(ctx: Ctx, args: Args) -> None:
    if not args:
        ctx.error("expects a '<user>:<password>' account")
        return
    user, colon, password = args[0].partition(":")
    stats = _stats(ctx)
    if not colon:
        ctx.warn(f"account '{user}' has no ':<password>' part, so its password is empty")
    if any(u == user for u, _ in stats.auths):
        ctx.warn(f"user '{user}' is already declared; this line is ignored")
    else:
        stats.auths.append((user, password))
    _extra(ctx, args, 1)


@keyword(
    "stats refresh",
    "dfbl",
    "<delay>",
    "Ask the browser to reload the page every <delay> (seconds unless a unit is given).",
)
def _refresh(ctx: Ctx, args: Args) -> None:
    if not args:
        ctx.error("expects a delay such as '30s' or '1m'")
        return
    try:
        ms = parse_time(args[0], default_unit="s")
    except ValueError as e:
        ctx.error(str(e))
        return
    # HAProxy keeps whole seconds, rounding up, so that '500ms' still means "refresh".
    _stats(ctx).refresh = -(-ms // 1000)
    _extra(ctx, args, 1)


@keyword("stats hide-version", "dfbl", "", "Leave the version out of the statistics page.")
def _hide_version(ctx: Ctx, args: Args) -> None:
    _stats(ctx).hide_version = True
    _extra(ctx, args, 0)


def _condition(ctx: Ctx, words: Args, what: str) -> CondDef | None:
    """`if|unless <condition>` checked against the ACLs declared so far (HAProxy resolves
    ACL names where the rule is written). None, with an error reported, when it is bad."""
    if not words or words[0] not in ("if", "unless") or len(words) < 2:
        ctx.error(f"{what} requires either 'if' or 'unless' followed by a condition")
        return None
    acls: dict[str, list[Predicate]] = {}
    try:
        for a in ctx.px.acls:
            acls.setdefault(a.name, []).append(compile_acl(a.words))
        compile_cond(words[1:], words[0] == "unless", acls)
    except AclError as e:
        ctx.error(f"{what}: {e}")
        return None
    return CondDef(ctx.where, words[0] == "unless", list(words[1:]))


@keyword(
    "stats admin",
    "fbl",
    "{ if | unless } <condition>",
    "Let the requests matching the condition change servers from the stats page.",
)
def _admin(ctx: Ctx, args: Args) -> None:
    cond = _condition(ctx, args, "'stats admin'")
    if cond is not None:
        _stats(ctx).admin.append(cond)


@keyword(
    "stats show-legends",
    "dfbl",
    "",
    "Show addresses, cookies and algorithms (and tooltips) on the statistics page.",
)
def _show_legends(ctx: Ctx, args: Args) -> None:
    _stats(ctx).show_legends = True
    _extra(ctx, args, 0)


@keyword(
    "stats show-node",
    "dfbl",
    "[<name>]",
    "Show the node name (default: the global 'node') on the statistics page.",
)
def _show_node(ctx: Ctx, args: Args) -> None:
    _stats(ctx).show_node = args[0] if args else ""
    _extra(ctx, args, 1)


@keyword(
    "stats show-desc",
    "dfbl",
    "[<description>]",
    "Show a description (default: the global 'description') on the statistics page.",
)
def _show_desc(ctx: Ctx, args: Args) -> None:
    _stats(ctx).show_desc = " ".join(args)


@keyword(
    "stats scope",
    "dfbl",
    "<proxy> | .",
    "Show only these proxies on the statistics page ('.' is this one); repeatable.",
)
def _scope(ctx: Ctx, args: Args) -> None:
    if not args:
        ctx.error("expects a proxy name, or '.' for this proxy")
        return
    _stats(ctx).scopes.append(args[0])
    _extra(ctx, args, 1)


@keyword(
    "http-request use-service",
    "fbl",
    "prometheus-exporter [{ if | unless } <condition>]",
    "Answer matching requests with the Prometheus metrics (the only service weir has).",
)
def _use_service(ctx: Ctx, args: Args) -> None:
    if not args:
        ctx.error("expects a service name ('prometheus-exporter')")
        return
    if args[0] != "prometheus-exporter":
        ctx.error(
            f"service '{args[0]}' is HAProxy's or unknown; the only service weir has is "
            "'prometheus-exporter'"
        )
        return
    cond = None
    if len(args) > 1:
        cond = _condition(ctx, args[1:], "'http-request use-service'")
        if cond is None:
            return
    own_settings(ctx.px).services.append(cond)


# The keywords registered above, for tests that must register and withdraw them on their
# own (the registry is process-wide).
KEYWORDS: tuple[Keyword, ...] = tuple(k for k in REGISTRY.all() if k.handler.__module__ == __name__)
