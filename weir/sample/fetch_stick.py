"""Stick-table fetches (`sc_*`, `src_*`, `table_*`), defined with the tables in
weir.persist.stick; imported here so that the sample engine loads them."""

from __future__ import annotations

import weir.persist.stick  # noqa: F401  (registers the fetches)
