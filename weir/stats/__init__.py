"""The statistics page: one ordered table of stats fields feeding the HTML page and CSV.

Surface:
- `make_stats(px, runtime) -> StatsService | None`: the service of a proxy section with
  `stats` enabled in mode http; the HTTP session asks `service.matches(method, target)`
  and answers `service.handle(method, target, authorization)`.
- `RateCounter`: the per-second rate counter the runtime attaches to its counters
  (`sess_rate`, `req_rate`, `conn_rate`) for the "Session rate" columns.
- `FIELDS` / `NAMES`: the stats fields in HAProxy 2.6's CSV order.
- `check_stats(cfg, diags)`: the after-parsing warning for `stats` outside mode http.

Keywords register from `weir.stats.keywords`.
"""

from __future__ import annotations

from weir.stats.checks import check_stats
from weir.stats.fields import FIELDS, NAMES, Field
from weir.stats.rate import RateCounter
from weir.stats.service import StatsService, make_stats

__all__ = ["FIELDS", "NAMES", "Field", "RateCounter", "StatsService", "check_stats", "make_stats"]
