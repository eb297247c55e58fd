"""Configuration diagnostics: every problem found in one pass, each with its place.

A `Diagnostics` collector is handed through the whole load (lexer, section parser,
semantic checks). Nothing raises on a user's mistake: the mistake is recorded with its
file:line and the load goes on, so that `weir -c` reports every error at once.
Messages print in HAProxy's style so that tools and eyes used to HAProxy read them::

    [ALERT]    (1234) : config : parsing [haproxy.cfg:12] : unknown keyword 'balanse' ...
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TextIO


class Level(IntEnum):
    """Severity, ordered like syslog's (lower is more severe)."""

    ALERT = 1
    WARNING = 4
    NOTICE = 5
    DIAG = 6


@dataclass(frozen=True, slots=True)
class Where:
    """A place in the configuration: file name and 1-based line number."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    level: Level
    message: str
    where: Where | None = None
    detail: tuple[str, ...] = ()

    def format(self, pid: int | None = None) -> str:
        pid = os.getpid() if pid is None else pid
        tag = f"[{self.level.name}]"
        head = f"{tag:<10} ({pid}) : config : "
        if self.where is not None:
            head += f"parsing [{self.where}] : "
        lines = [head + self.message]
        lines.extend(f"   | {d}" for d in self.detail)
        return "\n".join(lines)


@dataclass(slots=True)
class Diagnostics:
    """Collects diagnostics in the order they are found."""

    items: list[Diagnostic] = field(default_factory=list)

    def alert(self, message: str, where: Where | None = None, *detail: str) -> None:
        self.items.append(Diagnostic(Level.ALERT, message, where, detail))

    def warning(self, message: str, where: Where | None = None, *detail: str) -> None:
        self.items.append(Diagnostic(Level.WARNING, message, where, detail))

    def notice(self, message: str, where: Where | None = None, *detail: str) -> None:
        self.items.append(Diagnostic(Level.NOTICE, message, where, detail))

    def diag(self, message: str, where: Where | None = None, *detail: str) -> None:
        self.items.append(Diagnostic(Level.DIAG, message, where, detail))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.level is Level.ALERT]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.level is Level.WARNING]

    def has_errors(self) -> bool:
        return any(d.level is Level.ALERT for d in self.items)

    def print(self, out: TextIO, *, quiet: bool = False, show_diag: bool = False) -> None:
        """Write the diagnostics; `quiet` keeps only alerts, DIAG needs `show_diag`."""
        for d in self.items:
            if quiet and d.level is not Level.ALERT:
                continue
            if d.level is Level.DIAG and not show_diag:
                continue
            print(d.format(), file=out)


class ConfigError(Exception):
    """Raised only when loading cannot go on at all (e.g. an unreadable file)."""
