from pathlib import Path as _Path

from weir.native import stale as _stale

if _stale_modules := _stale(_Path(__file__).parent.parent):
    raise ImportError(
        f"weir: {', '.join(_stale_modules)} changed since it was compiled; rebuild with "
        "`pip install -e .` (or delete its .so file to run the source)"
    )
