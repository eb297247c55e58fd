"""Run the same configuration and traffic through HAProxy 2.6 and weir, and a curl wrapper.

    haproxy_result, weir_result = run_both(cfg, traffic, wait_ports=[port])
    assert weir_result == haproxy_result

The two proxies run one after the other on the same ports, HAProxy first. `traffic` gets
the running ProxyProcess (its `name` says which one) and returns whatever the test wants to
compare. Backends are shared by both runs: clear their records at the start of `traffic`
(`backend.clear()`) when the comparison involves them.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple, TypeVar

import pytest

from tests.helpers.ports import wait_closed
from tests.helpers.procs import (
    START_TIMEOUT,
    Program,
    ProxyProcess,
    haproxy_available,
    program_argv,
)

T = TypeVar("T")

CURL_MAX_TIME = 10.0


def run_one(
    program: Program,
    cfg_text: str,
    traffic: Callable[[ProxyProcess], T],
    wait_ports: Iterable[int],
    *,
    timeout: float = START_TIMEOUT,
) -> T:
    """Start `program` ("haproxy" or "weir") on `cfg_text`, apply `traffic`, stop it and
    check that it stopped cleanly (see ProxyProcess.stopped_cleanly). The proxy's log is
    printed (and so shown by pytest) if anything fails. Skips the test when the program is
    HAProxy and it is absent."""
    if program == "haproxy" and not haproxy_available():
        pytest.skip("HAProxy is not installed")
    ports = list(wait_ports)
    proc = ProxyProcess(cfg_text, program_argv(program), name=program, wait_ports=ports)
    ok = False
    try:
        proc.start(timeout=timeout)
        result = traffic(proc)
        ok = True
    finally:
        status = proc.stop()
        if not ok:
            print(f"--- {program} log ---\n{proc.log}", file=sys.stderr)
        for port in ports:  # the next proxy binds the same ports
            wait_closed(port, timeout=5.0)
    if not proc.stopped_cleanly:
        raise AssertionError(
            f"{program} exited with status {status} on SIGTERM\n--- {program} log ---\n{proc.log}"
        )
    return result


def run_both(
    cfg_text: str,
    traffic: Callable[[ProxyProcess], T],
    wait_ports: Iterable[int],
    *,
    timeout: float = START_TIMEOUT,
) -> tuple[T, T]:
    """(HAProxy's result, weir's result) for the same config and traffic. Skips the test
    when HAProxy is absent."""
    ports = list(wait_ports)
    reference = run_one("haproxy", cfg_text, traffic, ports, timeout=timeout)
    ours = run_one("weir", cfg_text, traffic, ports, timeout=timeout)
    return reference, ours


class CurlResult(NamedTuple):
    """What curl got. On a transport failure (no HTTP response at all), `status` is minus
    curl's exit code (-7 connection refused, -28 timeout, -52 empty reply, -56 receive
    error...), `headers` is empty and `body` holds curl's error message."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def curl_exit(self) -> int:
        return -self.status if self.status < 0 else 0

    def header(self, name: str) -> str | None:
        """The first value of response header `name` (case-insensitive), or None."""
        key = name.lower()
        return next((v for n, v in self.headers if n.lower() == key), None)

    def header_values(self, name: str) -> list[str]:
        key = name.lower()
        return [v for n, v in self.headers if n.lower() == key]


def _last_head(raw: bytes) -> tuple[int, list[tuple[str, str]]]:
    """Status and headers of the last response head curl dumped (after any 1xx or
    redirects, which come first, each ended by an empty line)."""
    blocks = [b for b in raw.replace(b"\r\n", b"\n").split(b"\n\n") if b.strip()]
    if not blocks:
        return 0, []
    lines = blocks[-1].decode("latin-1").split("\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip(), value.strip()))
    return status, headers


def curl(url: str, *args: str, max_time: float = CURL_MAX_TIME) -> CurlResult:
    """Run the real curl binary: `curl -sS --max-time T ARGS... URL`, never through a proxy
    from the environment. Returns (status, headers, body) of the final response."""
    with tempfile.TemporaryDirectory(prefix="curl-") as d:
        head_file = Path(d) / "head"
        body_file = Path(d) / "body"
        cmd = [
            "curl",
            "-sS",
            "-g",
            "--noproxy",
            "*",
            "--max-time",
            f"{max_time:g}",
            "-D",
            str(head_file),
            "-o",
            str(body_file),
            *args,
            url,
        ]
        done = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=max_time + 5.0,
            check=False,
        )
        head = head_file.read_bytes() if head_file.exists() else b""
        body = body_file.read_bytes() if body_file.exists() else b""
    status, headers = _last_head(head)
    if done.returncode != 0 and status == 0:
        return CurlResult(-done.returncode, [], done.stderr)
    return CurlResult(status, headers, body)


__all__ = ["CurlResult", "curl", "run_both", "run_one"]
