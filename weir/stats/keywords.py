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

from weir.config.model import Cap, Proxy, StatsConf
from weir.config.parser import Ctx
from weir.config.registry import REGISTRY, Args, Keyword, keyword
from weir.config.units import parse_time

DEFAULT_URI = "/haproxy?stats"
DEFAULT_REALM = "HAProxy Statistics"


def _declared_here(stats: StatsConf, px: Proxy) -> bool:
    """True when a `stats` line of this very section already set `stats.where`.

    A section never spans files and its lines follow its header, so a `where` in the same
    file after the header is ours; anything else came with the defaults section copy.
    """
    w = stats.where
    return w is not None and w.file == px.where.file and w.line > px.where.line


def _stats(ctx: Ctx) -> StatsConf:
    """The section's own StatsConf, detached from the inherited one on first use."""
    px = ctx.px
    stats = px.stats
    if not _declared_here(stats, px):
        if px.cap is not Cap.DEFAULTS:
            stats = px.stats = StatsConf()
        stats.where = ctx.where
    stats.enabled = True
    return stats


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


# The keywords registered above, for tests that must register and withdraw them on their
# own (the registry is process-wide).
KEYWORDS: tuple[Keyword, ...] = tuple(k for k in REGISTRY.all() if k.handler.__module__ == __name__)
