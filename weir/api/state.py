"""What the runtime API's commands work on: the runtime, its Control, and the API's own
connections (for `show sess`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from weir.api.actions import Control
from weir.api.conf import first_proxy_id
from weir.stats.fields import Clock

if TYPE_CHECKING:
    from weir.api.commands import Session
    from weir.proxy.runtime import Backend, Frontend, Runtime


class Api:
    """Shared by every connection of one process's API."""

    __slots__ = ("control", "listeners", "rt", "sessions", "started")

    def __init__(
        self,
        control: Control,
        *,
        started: tuple[float, float] | None = None,
        listeners: int = 0,
    ) -> None:
        from weir.stats.service import STARTED

        self.control = control
        self.rt: Runtime = control.rt
        self.started = started or STARTED
        self.listeners = listeners  # listening sockets, for `show info`
        self.sessions: list[Session] = []

    @property
    def hard_maxconn(self) -> int:
        return self.control.hard_maxconn

    def clock(self) -> Clock:
        return Clock.now(*self.started)

    def iid(self, name: str) -> int:
        """The proxy id of the proxy named `name`; 0 when there is none."""
        for i, px in enumerate(self.rt.config.proxies, first_proxy_id(self.rt.config)):
            if px.name == name and not px.disabled:
                return i
        return 0

    def backend(self, name: str) -> Backend | None:
        return self.control.backend(name)

    def frontend(self, name: str) -> Frontend | None:
        return self.control.frontend(name)
