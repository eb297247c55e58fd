"""What the `global` section says about the runtime API: `stats socket`, `stats timeout`,
`stats maxconn`.

The configuration model (`weir.config.model.GlobalConf`) has no fields for these yet, so the
keyword handlers swap the Config's `global_` for an `ApiGlobal`, the same data plus the
API's own fields; every other concern keeps reading and writing `cfg.global_` as before.
`api_conf(cfg)` reads them back (defaults when no API keyword was given).

HAProxy facts kept here:
- a socket without `level` is an `operator` socket;
- the API's internal frontend ("GLOBAL") allows 10 connections at once and closes a
  connection idle for 10 s unless `stats maxconn` / `stats timeout` say otherwise;
- as soon as any `stats socket|timeout|maxconn` line exists, that internal frontend takes
  proxy id 1, so the configured proxies are numbered from 2 (what `iid` shows in stats).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import IntEnum

from weir.config.address import Address
from weir.config.diagnostics import Where
from weir.config.model import Config, GlobalConf

DEFAULT_TIMEOUT_MS = 10_000
DEFAULT_MAXCONN = 10


class Level(IntEnum):
    """Access level of an API connection: each level may run the commands of those below."""

    USER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def word(self) -> str:
        return self.name.lower()


LEVELS = {lvl.word: lvl for lvl in Level}


@dataclass(slots=True)
class SocketConf:
    """One `stats socket` line."""

    where: Where
    address: Address
    text: str  # the address as written, for messages
    level: Level = Level.OPERATOR
    mode: int | None = None  # permissions of a UNIX socket file
    uid: int | None = None
    gid: int | None = None
    expose_fd: bool = False  # `expose-fd listeners`: `_getsocks` hands the listeners over


@dataclass(slots=True)
class ApiGlobal(GlobalConf):
    stats_sockets: list[SocketConf] = field(default_factory=list)
    stats_timeout_ms: int = DEFAULT_TIMEOUT_MS
    stats_maxconn: int = DEFAULT_MAXCONN
    cli_frontend: bool = False  # any `stats socket|timeout|maxconn` line


_EMPTY = ApiGlobal()


def api_global(cfg: Config) -> ApiGlobal:
    """The Config's global settings as an ApiGlobal, converting them on first use."""
    g = cfg.global_
    if isinstance(g, ApiGlobal):
        return g
    new = ApiGlobal(**{f.name: getattr(g, f.name) for f in fields(GlobalConf)})
    cfg.global_ = new
    return new


def api_conf(cfg: Config) -> ApiGlobal:
    """The API settings of `cfg` (without converting it): defaults when none were given."""
    g = cfg.global_
    return g if isinstance(g, ApiGlobal) else _EMPTY


def first_proxy_id(cfg: Config) -> int:
    """The `iid` of the first configured proxy: 2 when the API's frontend exists, else 1."""
    return 2 if api_conf(cfg).cli_frontend else 1
