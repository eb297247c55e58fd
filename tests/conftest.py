"""Fixtures shared by every test tier.

- `http_backend(name, **options) -> HttpBackend` and `tcp_backend(name, **options) ->
  TcpEchoBackend`: factories; each call starts one server; all are stopped at teardown.
- `weir(cfg_text, wait_ports=[...], **options) -> ProxyProcess` and the same `haproxy(...)`:
  factories starting the proxy in the foreground; all are stopped at teardown, and the test
  fails if a proxy did not stop cleanly on SIGTERM: status 0 for weir; for HAProxy 0 or
  death by SIGTERM, which is how HAProxy 2.6 stops without a master (pass
  `check_exit=False` for a proxy that is expected to die). `haproxy` skips the test when
  HAProxy is not installed.

When a test fails, the configuration and log of every proxy it started are added to the
failure report.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Generator, Iterable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:  # `tests.helpers` must import under plain `pytest` too
    sys.path.insert(0, _ROOT)

from tests.helpers.backends import HttpBackend, TcpEchoBackend  # noqa: E402
from tests.helpers.procs import (  # noqa: E402
    START_TIMEOUT,
    ArgvFor,
    ProxyProcess,
    haproxy_argv,
    haproxy_available,
    weir_argv,
)

pytest_plugins = ["pytester"]  # tests of these fixtures run an inner pytest

_PROXIES = pytest.StashKey[list[ProxyProcess]]()


class ProxyFactory(Protocol):
    def __call__(
        self,
        cfg_text: str,
        wait_ports: Iterable[int] = (),
        *,
        timeout: float = START_TIMEOUT,
        check_exit: bool = True,
        **options: Any,
    ) -> ProxyProcess: ...


def _proxies(
    request: pytest.FixtureRequest, argv: ArgvFor, name: str
) -> Generator[ProxyFactory, None, None]:
    registry = request.node.stash.setdefault(_PROXIES, [])
    made: list[tuple[ProxyProcess, bool]] = []

    def make(
        cfg_text: str,
        wait_ports: Iterable[int] = (),
        *,
        timeout: float = START_TIMEOUT,
        check_exit: bool = True,
        **options: Any,
    ) -> ProxyProcess:
        options.setdefault("name", name)
        proc = ProxyProcess(cfg_text, argv, wait_ports=wait_ports, **options)
        registry.append(proc)
        made.append((proc, False))
        proc.start(timeout=timeout)  # a failure raises with the log; no exit check then
        made[-1] = (proc, check_exit)
        return proc

    yield make

    problems: list[str] = []
    for proc, check in made:
        status = proc.stop()
        if check and not proc.stopped_cleanly:
            how = " (killed after the stop timeout)" if proc.killed else ""
            problems.append(
                f"{proc.name} exited with status {status} on SIGTERM{how}\n"
                f"--- {proc.name} log ---\n{proc.log}"
            )
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def weir(request: pytest.FixtureRequest) -> Generator[ProxyFactory, None, None]:
    yield from _proxies(request, weir_argv, "weir")


@pytest.fixture
def haproxy(request: pytest.FixtureRequest) -> Generator[ProxyFactory, None, None]:
    if not haproxy_available():
        pytest.skip("HAProxy is not installed")
    yield from _proxies(request, haproxy_argv, "haproxy")


S = TypeVar("S", HttpBackend, TcpEchoBackend)


def _servers(cls: type[S]) -> Generator[Callable[..., S], None, None]:
    made: list[S] = []

    def make(name: str = "srv1", **options: Any) -> S:
        server = cls(name, **options)
        made.append(server)
        return server.start()

    yield make

    for server in made:
        server.stop()
    errors = [f"{s!r}: {e}" for s in made for e in s.errors]
    if errors:
        pytest.fail("backend helper errors:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture
def http_backend() -> Generator[Callable[..., HttpBackend], None, None]:
    yield from _servers(HttpBackend)


@pytest.fixture
def tcp_backend() -> Generator[Callable[..., TcpEchoBackend], None, None]:
    yield from _servers(TcpEchoBackend)


@pytest.fixture
def daemons() -> Generator[list[subprocess.Popen[bytes]], None, None]:
    """Server programs a test starts (tests.helpers.procs.spawn_daemon); each is stopped,
    by its own pid, at teardown."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and report.when in ("setup", "call"):
        for proc in item.stash.get(_PROXIES, []):
            report.sections.append((f"{proc.name} config ({proc.cfg_path})", proc.cfg_text))
            report.sections.append((f"{proc.name} log", proc.log or "(empty)"))
    return report
