"""The one exception of weir's HTTP/1 code."""

from __future__ import annotations

__all__ = ["H1Error"]


class H1Error(Exception):
    """A message weir refuses. `status` is what weir answers with: 4xx for a client
    request (400 in most cases, as HAProxy 2.6 does), 502 for a server response.
    `reason` is a short text for logs, never sent to the peer."""

    __slots__ = ("reason", "status")

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
