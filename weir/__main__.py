"""`python -m weir` runs the command line."""

from __future__ import annotations

import sys

from weir.cli import main

sys.exit(main())
