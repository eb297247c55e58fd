"""Logging checks that need the whole configuration: what HAProxy 2.6 refuses or warns about.

`check_logging(cfg, diags)` runs with the other whole-configuration checks
(weir.config.checks.check_config). Log formats are compiled here, once a proxy's mode is
known (some variables need `mode http`); an error is reported at the line that set the
format, as HAProxy reports it.
"""

from __future__ import annotations

from weir.config.diagnostics import Diagnostics, Where
from weir.config.model import Config, Mode, Proxy
from weir.log.keywords import current_format
from weir.log.lfparse import LogFormatError
from weir.log.logformat import compile_format
from weir.log.logger import format_env, traffic_format


def _compile(
    px: Proxy,
    text: str,
    what: str,
    where: Where,
    diags: Diagnostics,
    *,
    uid: bool = False,
) -> None:
    env = format_env(px)
    env.uid = uid
    try:
        compile_format(text, env, mandatory=not uid)
    except LogFormatError as e:
        diags.alert(f"{px.cap} '{px.name}': cannot use this '{what}': {e}", where)


def check_logging(cfg: Config, diags: Diagnostics) -> None:
    for px in cfg.proxies:
        if px.disabled or not px.cap.is_frontend:
            continue
        fmt = traffic_format(px)
        where = px.logformat_where or px.where
        if px.log_format is not None and fmt is not None:
            _compile(px, fmt, "log-format", where, diags)
        if px.log_format_sd is not None:
            _compile(px, px.log_format_sd, "log-format-sd", px.log_format_sd_where or where, diags)
        if px.unique_id_format is not None:
            _compile(
                px,
                px.unique_id_format,
                "unique-id-format",
                px.unique_id_format_where or px.where,
                diags,
                uid=True,
            )
        if px.httplog and px.mode is not Mode.HTTP:
            what = current_format(px)
            fallback = "option tcplog json" if px.log_json else "option tcplog"
            diags.warning(
                f"'{what}' needs 'mode http': {px.cap} '{px.name}' uses '{fallback}' instead",
                where,
            )
        if fmt is not None and not px.logs:
            diags.warning(
                f"{px.cap} '{px.name}' has a log format but no log target, so it logs "
                "nothing (add 'log global' or a 'log' line)",
                where,
            )
        if px.mode is not Mode.HTTP and (
            px.capture_request_headers or px.capture_response_headers or px.capture_cookie
        ):
            diags.warning(
                f"{px.cap} '{px.name}' is not in 'mode http': its 'capture' lines capture nothing",
                px.capture_where or px.where,
            )
        if px.unique_id_header is not None and px.unique_id_format is None:
            diags.warning(
                f"{px.cap} '{px.name}' has 'unique-id-header' but no 'unique-id-format': "
                "no header is added",
                px.where,
            )
