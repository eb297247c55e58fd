"""Whole-configuration checks that need every section parsed: references, modes, names.

Errors are what HAProxy 2.6 refuses (an unknown backend, a tcp backend behind an http
frontend); warnings are what it lets through but what will hurt (missing timeouts, a
frontend without `bind`, a cookie in a tcp backend), plus a few of weir's own where a
config is legal but almost certainly not what was meant.
"""

from __future__ import annotations

from typing import Any

from weir.config import catalog
from weir.config.diagnostics import Diagnostics, Where
from weir.config.model import Config, Mode, Proxy


def check_config(cfg: Config, diags: Diagnostics) -> None:
    _check_defaults_users(cfg, diags)
    from weir.http.errorpages import resolve as resolve_error_pages

    reported: set[Where] = set()
    for px in cfg.proxies:
        resolve_error_pages(cfg, px, diags, reported)
    for px in cfg.proxies:
        if px.disabled:
            continue
        if px.cap.is_frontend:
            _check_frontend(cfg, px, diags)
        if px.cap.is_backend:
            _check_backend(px, diags)
        _check_rule_acls(cfg, px, diags)
        _check_timeouts(px, diags)
        _check_http_directives(cfg, px, diags)
    from weir.check import check_config as check_health_checks
    from weir.log import check_logging
    from weir.peers.conf import check_peers
    from weir.stats import check_stats

    check_peers(cfg, diags)
    from weir.dns import check_resolvers

    check_resolvers(cfg, diags)
    check_health_checks(cfg, diags)
    check_logging(cfg, diags)
    check_stats(cfg, diags)
    from weir.api.conf import api_conf

    has_cli = bool(api_conf(cfg).stats_sockets)  # the runtime API is a listener too
    if not any(not px.disabled for px in cfg.proxies) and not has_cli and not diags.has_errors():
        diags.alert(
            "no proxy is configured: there is nothing to run "
            "(add a 'frontend', 'backend' or 'listen' section)"
        )


def _check_defaults_users(cfg: Config, diags: Diagnostics) -> None:
    """A defaults section with rules serves frontends or backends, not both (HAProxy
    2.6: its rules would otherwise run twice on one request, or in the wrong place)."""
    with_rules = {
        name: d
        for name, d in cfg.defaults.items()
        if d.http_request_rules
        or d.http_response_rules
        or d.http_after_response_rules
        or d.tcp_request_connection_rules
        or d.tcp_request_content_rules
    }
    seen: dict[str, Proxy] = {}
    for px in cfg.proxies:
        name = px.defaults_name
        d = with_rules.get(name) if name is not None else None
        if name is None or d is None:
            continue
        other = seen.setdefault(name, px)
        mixed = px.cap.is_frontend and px.cap.is_backend
        if mixed or other.cap.is_frontend != px.cap.is_frontend:
            diags.alert(
                "frontends and backends cannot inherit from the same defaults section if it "
                f"defines TCP/HTTP rules (defaults section at {d.where})",
                px.where,
            )


def _check_frontend(cfg: Config, px: Proxy, diags: Diagnostics) -> None:
    from weir.tcp.rules import switches_to_http

    for b in px.binds:
        if b.ssl is not None and b.ssl.enabled and not b.ssl.certs:
            diags.alert(
                f"{px.cap} '{px.name}' : 'ssl' on this bind needs a certificate "
                "('crt' or 'crt-list')",
                b.where,
            )
    if not px.binds:
        diags.warning(
            f"{px.cap} '{px.name}' has no 'bind' line, so it receives no traffic "
            "(declare it as a 'backend' if that was meant)",
            px.where,
        )
    targets: list[tuple[str, Where, str]] = [
        (r.backend, r.where, "use_backend") for r in px.switch_rules if "%" not in r.backend
    ]
    if px.default_backend is not None and px.cap.value == "frontend":
        targets.append(
            (px.default_backend, px.default_backend_where or px.where, "default_backend")
        )
    elif (
        px.cap.value == "listen"
        and px.mode is Mode.TCP
        and px.servers
        and not px.switch_rules
        and switches_to_http(px)
    ):
        diags.warning(
            f"{px.cap} '{px.name}' : 'switch-mode http' in a tcp proxy whose only "
            "servers are its own: sessions upgraded to HTTP cannot reach tcp servers, "
            "they are closed",
            px.where,
        )
    if px.default_backend is not None and px.cap.value == "listen":
        diags.warning(
            f"listen '{px.name}' : 'default_backend' is ignored in a 'listen' "
            "section, whose own servers serve what no rule switches",
            px.default_backend_where or px.where,
        )
    acl_names = {a.name for a in px.acls}
    for rule in px.switch_rules:
        if rule.cond is not None:
            _check_cond_acls(px, rule.cond.words, acl_names, rule.where, diags)
    for cond in px.monitor_fail:
        _check_cond_acls(px, cond.words, acl_names, cond.where, diags)
    for name, where, what in targets:
        be = cfg.backends.get(name)
        if be is None:
            hint = catalog.suggestions(name, list(cfg.backends))
            more = f"; did you mean '{hint[0]}'?" if hint else ""
            diags.alert(
                f"{px.cap} '{px.name}' : '{what}' names backend '{name}', "
                f"which does not exist{more}",
                where,
            )
            continue
        # A mode tcp frontend may use a backend in mode http: its sessions upgrade to HTTP
        # there (as with `switch-mode http`); the other way round cannot work.
        if be.mode is not px.mode and not (px.mode is Mode.TCP and be.mode is Mode.HTTP):
            diags.alert(
                f"{px.mode} {px.cap} '{px.name}' ({px.where}) cannot use {be.mode} "
                f"backend '{be.name}' ({be.where}) in '{what}' (see 'mode')",
                where,
            )
        if be.disabled:
            diags.warning(
                f"{px.cap} '{px.name}' : '{what}' names backend '{name}', which is disabled", where
            )


def _check_rule_acls(cfg: Config, px: Proxy, diags: Diagnostics) -> None:
    """The ACL names in every HTTP rule's condition are declared (frontends, backends),
    and the userlists that `http_auth` names exist."""
    from weir.auth.userlist import unknown_userlists

    servers = {srv.name for srv in px.servers}
    for where, name, cond in px.use_server_rules:
        if name not in servers:
            diags.alert(f"{px.cap} '{px.name}' : 'use-server' names unknown server '{name}'", where)
        _check_cond_acls(px, cond.words, {a.name for a in px.acls}, where, diags)
    for cond in (*px.force_persist, *px.ignore_persist):
        _check_cond_acls(px, cond.words, {a.name for a in px.acls}, cond.where, diags)

    for a in px.acls:
        for name in unknown_userlists(cfg, a.words):
            diags.alert(f"ACL '{a.name}' : no userlist named '{name}'", a.where)
    acl_names = {a.name for a in px.acls}
    for rules in (
        px.http_request_rules,
        px.http_response_rules,
        px.http_after_response_rules,
        px.redirect_rules,
        px.tcp_request_connection_rules,
        px.tcp_request_content_rules,
    ):
        for rule in rules:
            if rule.cond is not None:
                for name in unknown_userlists(cfg, rule.cond.words):
                    diags.alert(f"condition : no userlist named '{name}'", rule.where)
                scope = rule.cond.scope  # a rule from a named defaults section: its ACLs
                names = acl_names if scope is None else {a.name for a in scope.acls}
                before = len(diags.errors)
                _check_cond_acls(px, rule.cond.words, names, rule.where, diags)
                if len(diags.errors) == before:
                    _check_anonymous(rule.cond.words, rule.cond.unless, names, rule, diags)


def _check_anonymous(
    words: list[str], unless: bool, names: set[str], rule: Any, diags: Diagnostics
) -> None:
    """Compile the condition once, so that an anonymous ACL (`{ ... }`) that does not
    compile is a load error at its line rather than a failure at start-up."""
    from weir.sample.acl import AclError, compile_cond

    placeholders: dict[str, list[Any]] = {n: [_never] for n in names}
    try:
        compile_cond(words, unless, placeholders)
    except AclError as e:
        diags.alert(f"condition: {e}", rule.where)


def _never(s: Any) -> bool:
    return False


def _check_cond_acls(
    px: Proxy, words: list[str], acl_names: set[str], where: Where, diags: Diagnostics
) -> None:
    depth = 0
    for w in words:
        if w in ("{", "!{"):
            depth += 1
        elif w == "}":
            depth -= 1
        elif depth == 0 and w not in ("or", "||", "!"):
            name = w[1:] if w.startswith("!") else w
            if name not in acl_names and not _is_builtin_acl(name):
                hint = catalog.suggestions(name, sorted(acl_names))
                more = f"; did you mean '{hint[0]}'?" if hint else ""
                diags.alert(
                    f"{px.cap} '{px.name}' : condition uses ACL '{name}', which is "
                    f"not declared{more}",
                    where,
                )


def _is_builtin_acl(name: str) -> bool:
    from weir.sample.acl import PREDEFINED_ACLS

    return name in PREDEFINED_ACLS


def _check_http_directives(cfg: Config, px: Proxy, diags: Diagnostics) -> None:
    """HTTP directives in a proxy whose sessions never become HTTP do nothing: warned
    about, as HAProxy does. A mode tcp frontend's sessions become HTTP with `switch-mode
    http`, or in a backend in mode http (its HTTP rules then run on them, as in HAProxy,
    which warns all the same; `option forwardfor` needs `switch-mode http`)."""
    from weir.stats.conf import settings
    from weir.tcp.rules import switches_to_http

    if px.mode is Mode.HTTP or switches_to_http(px):
        return
    names = [r.backend for r in px.switch_rules] if px.cap.is_frontend else []
    if px.cap.value == "frontend" and px.default_backend is not None:
        names.append(px.default_backend)
    upgrades = any(
        "%" in n or (n in cfg.backends and cfg.backends[n].mode is Mode.HTTP) for n in names
    )
    found = [
        ("'http-request' rules", px.http_request_rules or settings(px).services),
        ("'http-response' rules", px.http_response_rules),
        ("'http-after-response' rules", px.http_after_response_rules),
        ("'redirect' rules", px.redirect_rules),
        ("'compression' settings", px.compression is not None),
    ]
    for what, there in found:
        if there and not upgrades:
            diags.warning(
                f"{what} ignored for {px.cap} '{px.name}' as they require HTTP mode", px.where
            )
    if px.forwardfor:
        diags.warning(
            f"'option forwardfor' ignored for {px.cap} '{px.name}' as it requires HTTP mode"
            + (" (or 'switch-mode http')" if upgrades else ""),
            px.where,
        )


def _check_backend(px: Proxy, diags: Diagnostics) -> None:
    if px.mode is Mode.HTTP:
        for r in px.tcp_response_content_rules:
            # As HAProxy: an HTTP backend's tcp-response rules run on the response head,
            # where the server's raw bytes are not there to read.
            if r.cond is not None and any("payload" in w for w in r.cond.words):
                diags.warning(
                    f"{px.cap} '{px.name}' : L6 sample fetches (res.payload…) see no bytes "
                    "in 'tcp-response content' rules of an HTTP proxy",
                    r.where,
                )
    if px.balance is not None and px.balance.needs_http and px.mode is not Mode.HTTP:
        diags.warning(
            f"backend '{px.name}' : 'balance {px.balance.algo}' hashes HTTP data "
            "and needs 'mode http'; falling back to round robin",
            px.where,
        )
    if px.persist_rdp_cookie is not None and px.mode is Mode.HTTP:
        diags.warning(
            f"backend '{px.name}' : 'persist rdp-cookie' reads RDP connections and has no "
            "effect in mode http",
            px.where,
        )
    if px.cookie is not None and px.mode is not Mode.HTTP:
        diags.warning(
            f"backend '{px.name}' : 'cookie' has no effect without 'mode http'", px.cookie.where
        )
    if px.httpchk is not None and px.servers and not any(s.check.enabled for s in px.servers):
        diags.warning(
            f"backend '{px.name}' : 'option httpchk' is set but no server has "
            "'check', so no health check will run",
            px.where,
        )
    if px.balance is not None and px.balance.algo == "first":
        for s in px.servers:
            if s.maxconn == 0:
                diags.warning(
                    f"backend '{px.name}' : 'balance first' needs 'maxconn' on "
                    f"server '{s.name}', or it takes every connection",
                    s.where,
                )


def _check_timeouts(px: Proxy, diags: Diagnostics) -> None:
    t = px.timeouts
    missing = []
    if px.cap.is_frontend and not t.client:
        missing.append("client")
    if px.cap.is_backend and not t.connect:
        missing.append("connect")
    if px.cap.is_backend and not t.server:
        missing.append("server")
    if missing:
        diags.warning(
            f"missing timeouts for {px.cap} '{px.name}'",
            px.where,
            "Without them, a stalled peer holds a connection forever. Set a non-zero",
            "value for each of: " + ", ".join(f"'timeout {m}'" for m in missing) + ".",
        )
