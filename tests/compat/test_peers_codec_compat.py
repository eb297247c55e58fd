"""weir's peers wire format against HAProxy 2.6 itself, on loopback: HAProxy pushes a
table entry to a peer speaking weir's codec, and accepts entries pushed with it (what it
stored is read back through its own runtime API)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers.ports import free_port
from weir.peers import codec

CFG = """\
global
    localpeer hapx
    stats socket {sock} level admin
peers mesh
    peer hapx 127.0.0.1:{ha_port}
    peer weir 127.0.0.1:{weir_port}
backend st
    stick-table type ip size 1k expire 1m peers mesh \
        store server_id,gpc0,conn_rate(10s),http_req_cnt
"""


def _cli(sock: Path, line: str) -> str:
    return subprocess.run(
        ["socat", "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
        input=(line + "\n").encode(),
        capture_output=True,
        timeout=10,
        check=True,
    ).stdout.decode()


def _start(haproxy: Callable[..., Any], tmp_path: Path) -> tuple[Path, int, socket.socket]:
    sock = tmp_path / "ha.sock"
    ha_port, weir_port = free_port(), free_port()
    listener = socket.create_server(("127.0.0.1", weir_port))
    listener.settimeout(10)
    haproxy(CFG.format(sock=sock, ha_port=ha_port, weir_port=weir_port), wait_ports=[ha_port])
    return sock, ha_port, listener


def _messages(conn: socket.socket, buf: bytearray, seconds: float) -> list[codec.Message]:
    got: list[codec.Message] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            data = conn.recv(65536)
        except TimeoutError:
            continue
        if not data:
            break
        buf += data
        msgs, used = codec.split_messages(buf)
        del buf[:used]
        got += msgs
        if any(m.cls == codec.CLS_TABLE and m.typ == codec.T_UPDATE for m in got):
            break
    return got


def test_haproxy_pushes_an_entry_weir_decodes(haproxy: Callable[..., Any], tmp_path: Path) -> None:
    sock, _, listener = _start(haproxy, tmp_path)
    with listener:
        conn, _ = listener.accept()
    with conn:
        conn.settimeout(0.5)
        buf = bytearray()
        deadline = time.monotonic() + 10
        while True:
            assert time.monotonic() < deadline, bytes(buf)
            try:
                buf += conn.recv(4096)
                hello, used = codec.parse_hello(bytes(buf))
                break
            except (codec.IncompleteError, TimeoutError):
                continue
        assert (hello.remote, hello.local) == ("weir", "hapx")
        del buf[:used]
        conn.sendall(codec.status(codec.ST_OK))
        # A new HAProxy asks its peers for the whole table: there is nothing to teach.
        conn.sendall(codec.control(codec.CTRL_RESYNC_FINISHED))
        _cli(sock, "set table st key 10.0.0.1 data.server_id 3 data.gpc0 5 data.http_req_cnt 7")
        msgs = _messages(conn, buf, 10)
    defs = [codec.parse_define(m.payload) for m in msgs if m.typ == codec.T_DEFINE]
    assert [(d.name, d.key_type, d.key_len, d.expire_ms) for d in defs] == [
        ("st", codec.KEY_IPV4, 4, 60000)
    ]
    ids = {name: codec.DATA_ID[name] for name in ("server_id", "gpc0", "conn_rate", "http_req_cnt")}
    assert defs[0].data == sorted(ids.values())
    assert defs[0].params[ids["conn_rate"]] == (10000,)
    (upd,) = [m for m in msgs if m.typ == codec.T_UPDATE]
    u = codec.parse_update(defs[0], upd.typ, upd.payload)
    assert u.key == bytes((10, 0, 0, 1))
    assert (u.values[ids["server_id"]], u.values[ids["gpc0"]]) == (3, 5)
    assert u.values[ids["http_req_cnt"]] == 7


def test_haproxy_stores_entries_weir_encodes(haproxy: Callable[..., Any], tmp_path: Path) -> None:
    sock, ha_port, listener = _start(haproxy, tmp_path)
    listener.close()
    ids = [codec.DATA_ID[n] for n in ("server_id", "gpc0", "conn_rate", "http_req_cnt")]
    table = codec.TableDef(7, "st", codec.KEY_IPV4, 4, ids, 60000, {ids[2]: (10000,)})
    with socket.create_connection(("127.0.0.1", ha_port), timeout=5) as conn:
        conn.sendall(codec.hello("hapx", "weir", 1234))
        assert conn.recv(4).startswith(b"200\n")
        conn.sendall(codec.define(table))
        first = dict(zip(ids, (2, 42, (100, 3, 1), 11), strict=True))
        second = dict(zip(ids, (1, 1, None, 2), strict=True))
        conn.sendall(
            codec.update(table, codec.Update(1, None, bytes((10, 9, 8, 7)), first))
            + codec.update(table, codec.Update(None, 30000, bytes((10, 9, 8, 6)), second))
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            shown = _cli(sock, "show table st")
            if "used:2" in shown:
                break
            time.sleep(0.1)
    lines = {
        line.split("key=")[1].split()[0]: line for line in shown.splitlines() if "key=" in line
    }
    assert "server_id=2 gpc0=42 conn_rate(10000)=3 http_req_cnt=11" in lines["10.9.8.7"]
    assert "server_id=1 gpc0=1 conn_rate(10000)=0 http_req_cnt=2" in lines["10.9.8.6"]
    expire = int(lines["10.9.8.6"].split("exp=")[1].split()[0])
    assert 20000 < expire <= 30000  # the timed update's lifetime, not the table's minute
