"""Sample expressions with converters evaluated by HAProxy 2.6 and by weir: each is put in
an `http-request return ... lf-string` answer and fetched with one request per proxy."""

from __future__ import annotations

import http.client
from pathlib import Path
from typing import Any

from tests.helpers.ports import free_port

EXPRESSIONS = [
    "str(Hello),lower",
    "str(Hello),upper",
    "str(hello),base64",
    "str(aGVsbG8=),b64dec",
    "str(hello),hex",
    "str(a%20b+c),url_dec",
    "str(a%20b+c),url_dec(1)",
    "str(abc),length",
    "str(/a/b/c/d),field(2,/)",
    "str(/a/b/c/d),field(-1,/)",
    "str(/a/b/c/d),field(2,/,2)",
    "str(a..b.c),word(2,.)",
    "str(xxabcxx),ltrim(x)",
    "str(xxabcxx),rtrim(x)",
    "str(a-b-c),regsub(-,_)",
    "str(a-b-c),regsub(-,_,g)",
    "str(abc),djb2",
    "str(abc),sdbm",
    "str(abc),wt6",
    "str(abc),crc32",
    "str(abc),djb2(1)",
    "int(7),add(5),mul(3),sub(1)",
    "int(17),div(5)",
    "int(17),mod(5)",
    "int(12),and(10)",
    "int(12),or(3)",
    "int(12),xor(5)",
    "int(3),neg",
    "str(abcdef),bytes(2,3)",
    "req.hdr(host),lower,map(MAP,none)",
    "str(www.img.example.com),map_dom(MAP,none)",
    "str(/static/css/x.css),map_beg(MAP,none)",
    "str(10.1.2.3),ipmask(16)",
    "path,lower",
    "method",
    "req.ver",
    "query",
    "base32",
    "url_param(Q)",
    "urlp(nope)",
    "req.hdr(x-json),json",
    "req.hdr_val(x-num)",
    "req.cook_cnt",
    # variables as arguments (set below: txn.n is 5, txn.s is "mid")
    "str(a),concat(<,txn.s,>)",
    "str(a),concat(<,txn.unset,>)",
    "str(a),concat(-,txn.n)",
    "str(x),concat(,txn.n,)",
    "int(7),add(txn.n)",
    "int(7),div(txn.n)",
    "int(7),mul(txn.s)",
    "int(7),sub(txn.unset)",
]

MAP = """\
# key value
www.example.com site
api.example.com api
img.example.com img
/static/ static
/static/css/ css
"""


def _config(port: int, map_path: Path) -> str:
    rules = "\n".join(
        f'    http-request return status 200 content-type text/plain lf-string "%[{e}]" '
        f"if {{ path /{i} }}".replace("MAP", str(map_path))
        for i, e in enumerate(EXPRESSIONS)
    )
    return f"""\
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    http-request set-var(txn.n) int(5)
    http-request set-var(txn.s) str(mid)
{rules}
"""


def _answers(port: int) -> list[str]:
    out = []
    for i in range(len(EXPRESSIONS)):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request(
                "GET",
                f"/{i}?Q=1",
                headers={
                    "Host": "API.Example.com",
                    "X-Num": "42",
                    "Cookie": "a=1; b=2",
                    "X-Json": 'say "hi" \\ bye',
                },
            )
            out.append(conn.getresponse().read().decode("latin-1"))
        finally:
            conn.close()
    return out


def test_converters_give_haproxys_values(haproxy: Any, weir: Any, tmp_path: Path) -> None:
    map_path = tmp_path / "hosts.map"
    map_path.write_text(MAP)
    hport, wport = free_port(), free_port()
    haproxy(_config(hport, map_path), wait_ports=[hport])
    weir(_config(wport, map_path), wait_ports=[wport])
    theirs, ours = _answers(hport), _answers(wport)
    diff = [(e, t, o) for e, t, o in zip(EXPRESSIONS, theirs, ours, strict=True) if t != o]
    assert not diff, "\n".join(f"{e}: haproxy {t!r}, weir {o!r}" for e, t, o in diff)
