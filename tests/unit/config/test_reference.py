"""docs/config-reference.md is generated from the registry and must be current."""

from __future__ import annotations

from pathlib import Path

from weir.config.reference import render

ROOT = Path(__file__).resolve().parents[3]


def test_reference_is_current() -> None:
    checked_in = (ROOT / "docs" / "config-reference.md").read_text()
    assert checked_in == render(), (
        "docs/config-reference.md is stale: run "
        "'python -m weir.config.reference > docs/config-reference.md'"
    )


def test_every_keyword_has_a_description() -> None:
    from weir.config.registry import BIND_OPTIONS, REGISTRY, SERVER_OPTIONS

    render()
    assert all(k.doc for k in REGISTRY.all())
    assert all(o.doc for o in [*BIND_OPTIONS.all(), *SERVER_OPTIONS.all()])
