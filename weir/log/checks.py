"""Logging checks that need the whole configuration: what HAProxy 2.6 warns about.

`check_logging(cfg, diags)` is meant to run with the other whole-configuration checks
(weir.config.checks.check_config).
"""

from __future__ import annotations

from weir.config.diagnostics import Diagnostics
from weir.config.model import Config, Mode


def check_logging(cfg: Config, diags: Diagnostics) -> None:
    for px in cfg.proxies:
        if px.disabled or not px.cap.is_frontend:
            continue
        if not (px.httplog or px.tcplog):
            continue
        where = px.logformat_where or px.where
        if px.httplog and px.mode is not Mode.HTTP:
            what = "option httplog clf" if px.httplog_clf else "option httplog"
            diags.warning(
                f"'{what}' needs 'mode http': {px.cap} '{px.name}' uses 'option tcplog' instead",
                where,
            )
        if not px.logs:
            diags.warning(
                f"{px.cap} '{px.name}' has a log format but no log target, so it logs "
                "nothing (add 'log global' or a 'log' line)",
                where,
            )
