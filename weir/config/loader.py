"""Load configuration files: read, lex, parse, check. All errors collected in one pass."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from weir.config.checks import check_config
from weir.config.diagnostics import Diagnostics
from weir.config.lexer import read_lines
from weir.config.model import Config
from weir.config.parser import Parser


def expand_paths(paths: Sequence[str], diags: Diagnostics) -> list[str]:
    """`-f` arguments → files: a directory contributes its `*.cfg` files in lexical order."""
    files: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files.extend(str(f) for f in sorted(path.glob("*.cfg")) if f.is_file())
        else:
            files.append(p)
    return files


def load(paths: Sequence[str], diags: Diagnostics, env: Mapping[str, str] | None = None) -> Config:
    """Read every file in order into one Config. Check `diags.has_errors()` afterwards."""
    # Every concern registers its keywords when its module is imported; the list of those
    # modules lives in one place so that the registry is complete before the first line.
    import weir.keywords  # noqa: F401

    env = os.environ if env is None else env
    files = expand_paths(paths, diags)
    cfg = Config(files=files)
    parser = Parser(cfg, diags)
    for name in files:
        try:
            text = Path(name).read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as e:
            diags.alert(f"could not open configuration file '{name}' : {e.strerror}")
            continue
        parser.feed(read_lines(text, name, diags, env))
        parser.end_file()
    if not files:
        diags.alert("no configuration file given (use -f FILE or -f DIR)")
    # Semantic checks run even after syntax errors, so that one pass reports everything.
    check_config(cfg, diags)
    return cfg
