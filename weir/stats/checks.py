"""After-parsing checks of the `stats` settings."""

from __future__ import annotations

from weir.config.diagnostics import Diagnostics
from weir.config.model import Config, Mode
from weir.stats.conf import settings


def check_stats(cfg: Config, diags: Diagnostics) -> None:
    """`stats` in a proxy that is not in mode http does nothing: HAProxy warns and drops
    it, and `make_stats` gives such a proxy no service. The same goes for `http-request`
    rules (here, `use-service prometheus-exporter`)."""
    for px in cfg.proxies:
        if px.disabled or px.mode is Mode.HTTP:
            continue
        if px.stats.enabled:
            diags.warning(
                f"'stats' statement ignored for {px.cap} '{px.name}' as it requires HTTP mode",
                px.stats.where or px.where,
            )
        services = settings(px).services
        if services:
            where = next((c.where for c in services if c is not None), px.where)
            diags.warning(
                f"'http-request' rules ignored for {px.cap} '{px.name}' as they require HTTP mode",
                where,
            )
