"""The runtime API's commands: one registry row per command, and the dispatcher.

A command registers its words, the usage line `help` shows, a one-line description, the
access level it needs and its handler::

    @command("show backend", "show backend", "list the backends", Level.USER)
    def _show_backend(req: Request, args: list[str]) -> str: ...

The handler gets the request (the API's state and the connection's) and every word of the
line (its own words included, so `args[2]` is the first argument of a two-word command),
and returns the whole answer. The connection adds the empty line (or the prompt) that ends
an answer. HAProxy's conventions kept here:
- a line is cut into words at spaces and tabs; a backslash escapes the next character;
- the command is found by its longest run of matching words; an unknown one gets a list of
  the closest commands (`Unknown command, but maybe ...`), an empty line the whole list;
- a command above the connection's level answers `Permission denied`;
- `help` lists every command at every level (levels are checked when a command runs), with
  `help`, `prompt` and `quit` always last.

Commands HAProxy has but weir does not implement register too (`supported=False`): they
answer that weir does not support them yet and stay out of `help`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from weir.api.conf import Level

if TYPE_CHECKING:
    from weir.api.state import Api

Handler = Callable[["Request", list[str]], str]

_SESSION = frozenset({("help",), ("prompt",), ("quit",)})
USAGE_WIDTH = 40
MAX_MATCHES = 5
PERMISSION_DENIED = "Permission denied\n"
_ALWAYS = (
    ("help [<command>]", "list matching or all commands"),
    ("prompt", "toggle interactive mode with prompt"),
    ("quit", "disconnect"),
)


@dataclass(slots=True)
class Session:
    """One API connection's own state."""

    level: Level
    prompt: bool = False
    origin: str = "unix:1"  # as `show sess` prints the client
    started: float = 0.0
    calls: int = 0
    quit: bool = False
    timeout: float | None = None  # seconds; None: the socket's `stats timeout`
    forwarded: bool = False  # a command another worker received first (not sent on again)


@dataclass(slots=True)
class Request:
    """What a command handler sees."""

    api: Api
    session: Session
    payload: str | None = None

    def allowed(self, level: Level) -> bool:
        return self.session.level >= level


@dataclass(frozen=True, slots=True)
class Command:
    words: tuple[str, ...]
    usage: str
    doc: str
    level: Level
    handler: Handler
    supported: bool = True

    @property
    def help_line(self) -> str:
        return _line(self.usage, self.doc)


@dataclass(slots=True)
class Registry:
    commands: dict[tuple[str, ...], Command] = field(default_factory=dict)

    def add(self, cmd: Command) -> None:
        if cmd.words in self.commands:
            raise RuntimeError(f"runtime API command '{' '.join(cmd.words)}' registered twice")
        self.commands[cmd.words] = cmd

    def find(self, args: list[str]) -> Command | None:
        """The command whose words start `args`, the longest first."""
        for n in range(min(len(args), 4), 0, -1):
            cmd = self.commands.get(tuple(args[:n]))
            if cmd is not None:
                return cmd
        return None

    def listed(self) -> list[Command]:
        """What `help` lists (`help`, `prompt` and `quit` come last, apart)."""
        return [c for c in self.commands.values() if c.supported and c.words not in _SESSION]


REGISTRY = Registry()


def command(
    name: str, usage: str, doc: str, level: Level, *, supported: bool = True
) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of command `name`."""

    def register(fn: Handler) -> Handler:
        REGISTRY.add(Command(tuple(name.split()), usage, doc, level, fn, supported))
        return fn

    return register


def unsupported(name: str, usage: str, why: str = "", level: Level = Level.USER) -> None:
    """Register a HAProxy command weir does not implement: it answers so, clearly, with
    `why` when given."""
    answer = f"'{name}' is a HAProxy command that weir does not support yet"
    answer += f" ({why}).\n" if why else ".\n"

    def handler(req: Request, args: list[str]) -> str:
        return answer

    REGISTRY.add(Command(tuple(name.split()), usage, why, level, handler, supported=False))


def _line(usage: str, doc: str) -> str:
    return f"  {usage:<{USAGE_WIDTH}}: {doc}\n"


# -- parsing a line ----------------------------------------------------------------------


def split_words(line: str) -> list[str]:
    """Words of one command line: spaces and tabs separate, a backslash escapes the next
    character (and is removed)."""
    words: list[str] = []
    cur: list[str] = []
    started = False
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c in " \t":
            if started:
                words.append("".join(cur))
                cur, started = [], False
        elif c == "\\" and i + 1 < n:
            cur.append(line[i + 1])
            started = True
            i += 1
        else:
            cur.append(c)
            started = True
        i += 1
    if started:
        words.append("".join(cur))
    return words


# -- running one command ---------------------------------------------------------------


# With several workers (`nbthread` > 1), the commands that change what every worker must
# agree on are also run by the other workers (weir.peers.engine.WorkerMesh): server
# states and weights, checks, maps and ACLs, listeners, limits, certificates, dynamic
# servers. Stick tables replicate by themselves, except for `clear table`.
FORWARDED = frozenset(
    {
        ("disable", "server"), ("enable", "server"), ("set", "server"), ("set", "weight"),
        ("disable", "health"), ("enable", "health"), ("disable", "agent"),
        ("enable", "agent"), ("add", "map"), ("del", "map"), ("set", "map"),
        ("clear", "map"), ("add", "acl"), ("del", "acl"), ("clear", "acl"),
        ("clear", "table"), ("disable", "frontend"), ("enable", "frontend"),
        ("shutdown", "frontend"), ("set", "maxconn"), ("set", "rate-limit"),
        ("set", "dynamic-cookie-key"), ("enable", "dynamic-cookie"),
        ("disable", "dynamic-cookie"), ("set", "ssl"), ("commit", "ssl"), ("abort", "ssl"),
        ("add", "server"), ("del", "server"),
    }
)  # fmt: skip
FORWARD: list[Callable[[str, str | None], None]] = []  # set by the workers' sessions


def run(req: Request, line: str) -> str:
    """The answer to one command line (without the line that ends every answer)."""
    args = split_words(line)
    req.session.calls += 1
    cmd = REGISTRY.find(args)
    if cmd is None:
        return usage_message(args)
    if req.session.level < cmd.level:
        return PERMISSION_DENIED
    answer = cmd.handler(req, args)
    if FORWARD and not req.session.forwarded and tuple(cmd.words[:2]) in FORWARDED:
        for forward in FORWARD:
            forward(line, req.payload)
    return answer


def usage_message(args: list[str], *, is_help: bool = False) -> str:
    """`help [words]`, or the answer to an unknown command: the closest commands."""
    if is_help:
        head = "The following commands are valid at this level:\n"
    elif not args:
        head = "Unknown command. Please enter one of the following commands only:\n"
    else:
        head = "Unknown command, but maybe one of the following ones is a better match:\n"
    commands = REGISTRY.listed()
    # How many leading words some command matches exactly.
    length = 0
    for cmd in commands:
        n = 0
        while n < len(cmd.words) and n < len(args) and cmd.words[n] == args[n]:
            n += 1
        length = max(length, n)
    chosen: list[Command] = []
    if length < len(args):
        chosen = _closest(commands, args, length)
    if not chosen:
        chosen = [c for c in commands if c.words[:length] == tuple(args[:length])]
    chosen.sort(key=lambda c: c.usage)
    return head + "".join(c.help_line for c in chosen) + "".join(_line(u, d) for u, d in _ALWAYS)


def _closest(commands: list[Command], args: list[str], length: int) -> list[Command]:
    """Commands matching the first `length` words whose following words look most like
    the rest of `args`."""
    rest = " ".join(args[length:])
    scored: list[tuple[float, Command]] = []
    for cmd in commands:
        if cmd.words[:length] != tuple(args[:length]) or len(cmd.words) <= length:
            continue
        theirs = " ".join(cmd.words[length:])
        ratio = difflib.SequenceMatcher(None, rest, theirs).ratio()
        if ratio >= 0.5:
            scored.append((ratio, cmd))
    scored.sort(key=lambda rc: -rc[0])
    if not scored:
        return []
    best = scored[0][0]
    return [c for r, c in scored[:MAX_MATCHES] if r >= best * 0.75]
