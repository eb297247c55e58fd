"""The stats settings of a proxy section beyond the model's `StatsConf`.

`StatsSettings` is a `StatsConf` with the settings the model has no field for yet
(`stats admin`, `stats show-legends`, `stats show-node`, `stats show-desc`, `stats scope`,
and `http-request use-service prometheus-exporter`). The `stats` keyword handlers put one
in `Proxy.stats`; everything that reads a plain `StatsConf` keeps working, and
`settings(px)` reads the extra fields back (defaults for a plain `StatsConf`).

`section` is the `where` of the proxy section that made this object: a section inherits a
copy of its defaults section's settings, and tells its own from the copy by this mark.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from weir.config.diagnostics import Where
from weir.config.model import CondDef, Proxy, StatsConf


@dataclass(slots=True)
class StatsSettings(StatsConf):
    admin: list[CondDef] = field(default_factory=list)  # `stats admin if|unless ...`
    show_legends: bool = False
    show_node: str | None = None  # "" : the global `node` name
    show_desc: str | None = None  # "" : the global `description`
    scopes: list[str] = field(default_factory=list)  # `stats scope`; "." is this proxy
    # `http-request use-service prometheus-exporter [if|unless ...]`; None: no condition
    services: list[CondDef | None] = field(default_factory=list)
    section: Where | None = None


_DEFAULT = StatsSettings()


def settings(px: Proxy) -> StatsSettings:
    """The proxy's stats settings with the extra fields (defaults when it has none)."""
    st = px.stats
    return st if isinstance(st, StatsSettings) else _DEFAULT


def own_settings(px: Proxy) -> StatsSettings:
    """The section's own StatsSettings, made from what it inherited on first use (the
    inherited page settings are kept; `where` stays the inherited one, so that the first
    `stats` keyword of the section still starts over from the built-in settings)."""
    st = px.stats
    if isinstance(st, StatsSettings) and st.section == px.where:
        return st
    new = StatsSettings(**{f.name: getattr(st, f.name) for f in fields(StatsConf)})
    if isinstance(st, StatsSettings):
        new.admin = list(st.admin)
        new.show_legends, new.show_node, new.show_desc = (
            st.show_legends,
            st.show_node,
            st.show_desc,
        )
        new.scopes = list(st.scopes)
    new.section = px.where
    px.stats = new
    return new
