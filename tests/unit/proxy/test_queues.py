"""Server and backend queues of the runtime Backend, without sockets."""

from __future__ import annotations

from pathlib import Path

from weir.backend.server import Server, SrvState
from weir.config.diagnostics import Diagnostics
from weir.config.loader import load
from weir.proxy.runtime import Backend, build

CONFIG = """\
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
backend be
    server a 127.0.0.1:1 maxconn 1
    server b 127.0.0.1:2 maxconn 1
"""


def _backend(tmp_path: Path) -> Backend:
    path = tmp_path / "q.cfg"
    path.write_text(CONFIG)
    diags = Diagnostics()
    cfg = load([str(path)], diags, env={})
    assert not diags.has_errors()
    return build(cfg).backends["be"]


def test_a_server_queue_is_served_first_when_its_server_frees(tmp_path: Path) -> None:
    be = _backend(tmp_path)
    a, b = be.servers
    be.take(a)
    be.take(b)
    got: list[Server] = []
    be.queue.append(lambda s: got.append(s) or True)  # waits for any server
    be.wait_for(a, lambda s: got.append(s) or True)  # waits for `a` (persistence)
    be.release(a)
    assert got == [a]  # `a`'s own waiter took its slot, the backend's waiter still waits
    assert len(be.queue) == 1


def test_requests_queued_on_a_server_that_goes_down_are_requeued(tmp_path: Path) -> None:
    be = _backend(tmp_path)
    a, b = be.servers
    be.take(a)
    got: list[Server] = []
    be.wait_for(a, lambda s: got.append(s) or True)
    a.state = SrvState.DOWN
    be.balancer.server_down(a)
    be.release(a)  # the in-flight request on `a` ends: its waiter goes elsewhere
    assert got == [b]
    assert not be.srv_queues[a]


def test_maxqueue_refuses_a_waiter_once_the_server_queue_is_full(tmp_path: Path) -> None:
    path = tmp_path / "m.cfg"
    path.write_text(CONFIG.replace("maxconn 1\n    server b", "maxconn 1 maxqueue 1\n    server b"))
    diags = Diagnostics()
    be = build(load([str(path)], diags, env={})).backends["be"]
    a, _ = be.servers
    be.take(a)
    assert be.wait_for(a, lambda s: True) == 1
    assert be.wait_for(a, lambda s: True) == 0  # full queue: the caller goes elsewhere
