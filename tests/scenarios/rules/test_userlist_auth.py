"""Userlists and HTTP Basic authentication on real traffic: the 401 challenge, good, bad
and missing credentials, crypt hashes made by openssl, and group ACLs."""

from __future__ import annotations

import subprocess
from typing import Any

from tests.compat.helpers import curl
from tests.helpers.ports import free_port


def _hash(flag: str, password: str) -> str:
    return subprocess.run(
        ["openssl", "passwd", flag, password], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_basic_auth_against_a_userlist(weir: Any, http_backend: Any) -> None:
    be = http_backend("a")
    port = free_port()
    weir(
        f"""\
userlist staff
    group admins
    group readers users carol
    user alice password {_hash("-6", "wonderland")} groups admins
    user bob password {_hash("-5", "builder")}
    user carol password {_hash("-1", "singer")}
    user dave insecure-password plain
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    acl ok http_auth(staff)
    acl admin http_auth_group(staff) admins
    http-request auth realm Staff unless ok
    http-request deny if {{ path_beg /admin }} !admin
    http-request set-header X-User %[http_auth_user]
    default_backend be
backend be
    server a {be.address}
""",
        wait_ports=[port],
    )
    url = f"http://127.0.0.1:{port}"
    r = curl(url + "/")
    assert r.status == 401
    assert r.header("www-authenticate") == 'Basic realm="Staff"'
    assert curl(url + "/", "-u", "alice:wrong").status == 401
    assert curl(url + "/", "-u", "nobody:x").status == 401
    for user, password in (("alice", "wonderland"), ("bob", "builder"), ("carol", "singer"),
                           ("dave", "plain")):  # fmt: skip
        assert curl(url + "/", "-u", f"{user}:{password}").status == 200, user
    assert curl(url + "/admin/x", "-u", "alice:wonderland").status == 200
    assert curl(url + "/admin/x", "-u", "carol:singer").status == 403
    assert [q.header("X-User") for q in be.requests] == ["alice", "bob", "carol", "dave", "alice"]


def test_unknown_hash_scheme_and_unknown_userlist_are_load_errors(tmp_path: Any) -> None:
    import sys

    cfg = tmp_path / "bad.cfg"
    cfg.write_text(
        """\
userlist u
    user x password $2y$10$abcdefghijklmnopqrstuv
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind 127.0.0.1:1
    http-request auth unless { http_auth(nosuch) }
"""
    )
    out = subprocess.run(
        [sys.executable, "-m", "weir", "-c", "-f", str(cfg)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode != 0
    assert "bad.cfg:2" in out.stderr
    assert "unsupported password hash" in out.stderr
    assert "no userlist named 'nosuch'" in out.stderr
