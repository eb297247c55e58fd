"""Imports every module that registers configuration keywords, in one place."""

from __future__ import annotations

import weir.auth.userlist
import weir.backend.keywords
import weir.backend.serverstate
import weir.check.keywords
import weir.dns.conf
import weir.dns.template
import weir.http.compress
import weir.http.errorpages
import weir.http.keywords
import weir.http.rules
import weir.log.keywords
import weir.net.keywords
import weir.net.pool
import weir.peers.conf
import weir.persist.keywords
import weir.persist.sc_actions
import weir.persist.stick
import weir.persist.sticking
import weir.process.keywords
import weir.proxy.keywords
import weir.stats.keywords
import weir.tcp.rules
import weir.tls.keywords  # noqa: F401
