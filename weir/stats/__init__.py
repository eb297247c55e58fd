"""Statistics: one ordered table of stats fields feeding the HTML page, CSV, typed and
JSON forms, and the Prometheus exporter.

Surface:
- `make_stats(px, runtime) -> StatsService | None`: the service of a proxy section with
  `stats` enabled or a `use-service prometheus-exporter` rule, in mode http; the HTTP
  session asks `service.matches(method, target, stream)` and answers
  `service.handle(method, target, authorization, close=..., stream=..., body=...)`.
- `PrometheusService` (the exporter, `service.prometheus`), `info_values` / `INFO` (the
  process-wide figures of `show info` and `haproxy_process_*`).
- `RateCounter`: the per-second rate counter the runtime attaches to its counters
  (`sess_rate`, `req_rate`, `conn_rate`) for the "Session rate" columns.
- `FIELDS` / `NAMES`: the stats fields in HAProxy 2.6's CSV order.
- `check_stats(cfg, diags)`: the after-parsing warning for `stats` outside mode http.

Keywords register from `weir.stats.keywords`.
"""

from __future__ import annotations

from weir.stats.checks import check_stats
from weir.stats.fields import FIELDS, NAMES, Field
from weir.stats.info import INFO, info_values
from weir.stats.prometheus import PrometheusService
from weir.stats.rate import RateCounter
from weir.stats.service import StatsService, make_stats

__all__ = [
    "FIELDS",
    "INFO",
    "NAMES",
    "Field",
    "PrometheusService",
    "RateCounter",
    "StatsService",
    "check_stats",
    "info_values",
    "make_stats",
]
