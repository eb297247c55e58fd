"""Version facts that configuration conditions and `weir -vv` report."""

from __future__ import annotations

__version__ = "0.1.0"

# The HAProxy release whose behaviour weir follows where versions differ. Configuration
# conditions such as `.if version_atleast(2.4)` compare against it, since configs written
# for HAProxy test HAProxy's version, not weir's.
HAPROXY_VERSION = "2.6.12"

# Build features, as HAProxy's `feature(NAME)` condition and `-vv` name them. Only what
# weir really has is listed: a config that tests `feature(OPENSSL)` must not be told yes
# before TLS exists.
FEATURES: frozenset[str] = frozenset({"EPOLL", "GETADDRINFO"})
