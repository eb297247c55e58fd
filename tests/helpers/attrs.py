"""Attribute names of slotted classes, compiled or not."""

from __future__ import annotations


def attributes(cls: type) -> tuple[str, ...]:
    """The instance attributes a class declares: its `__slots__`, or where mypyc compiled
    it (and dropped `__slots__`), the list mypyc keeps."""
    slots = cls.__dict__.get("__slots__")
    return tuple(slots if slots is not None else cls.__mypyc_attrs__)  # type: ignore[attr-defined]
