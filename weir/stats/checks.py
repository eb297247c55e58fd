"""After-parsing checks of the `stats` settings."""

from __future__ import annotations

from weir.config.diagnostics import Diagnostics
from weir.config.model import Config, Mode


def check_stats(cfg: Config, diags: Diagnostics) -> None:
    """`stats` in a proxy that is not in mode http does nothing: HAProxy warns and drops
    it, and `make_stats` gives such a proxy no service. (`http-request use-service` is
    warned about with the other HTTP directives, in weir.config.checks.)"""
    for px in cfg.proxies:
        if px.disabled or px.mode is Mode.HTTP:
            continue
        if px.stats.enabled:
            diags.warning(
                f"'stats' statement ignored for {px.cap} '{px.name}' as it requires HTTP mode",
                px.stats.where or px.where,
            )
