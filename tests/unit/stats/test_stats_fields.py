"""The stats field table and the CSV report: HAProxy 2.6's order, one row per object."""

from __future__ import annotations

import csv
import io

import pytest
from stats_runtime import intro_runtime

from weir.backend.server import Server, SrvState
from weir.stats.csv import HEADER, render_csv
from weir.stats.fields import FIELDS, INDEX, NAMES, Clock, Filter, collect, server_status
from weir.stats.html import human_time, num
from weir.stats.rate import RateCounter

# HAProxy 2.6's CSV header (management guide 9.1, plus the aggregated-status gauges of
# later 2.6 releases), then the '-' that closes the fixed fields.
HAPROXY_26_HEADER = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,"
    "wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,"
    "throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,"
    "check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,"
    "req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,"
    "lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,"
    "agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,"
    "agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,"
    "intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,"
    "qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,"
    "need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,\n"
)


def _clock() -> Clock:
    import time

    return Clock.now(time.time() - 100, time.monotonic() - 100)


def _rows() -> dict[tuple[str, str], dict[str, str]]:
    text = render_csv(collect(intro_runtime(), _clock()))
    lines = text.splitlines()
    names = lines[0][2:].split(",")
    out = {}
    for rec in csv.reader(io.StringIO("\n".join(lines[1:]))):
        assert len(rec) == len(names), "every row has exactly the header's columns"
        row = dict(zip(names, rec, strict=True))
        out[row["pxname"], row["svname"]] = row
    return out


def test_header_is_haproxy_26_csv_order() -> None:
    assert HEADER == HAPROXY_26_HEADER
    assert NAMES[:3] == ("pxname", "svname", "qcur")
    assert INDEX["uweight"] == 99  # the management guide numbers the fields from 0


def test_every_field_says_which_rows_carry_it() -> None:
    assert len(set(NAMES)) == len(NAMES)
    for f in FIELDS:
        assert f.kinds, f.name
        assert set(f.kinds) <= set("LFBS"), f.name
        assert f.doc


def test_rows_only_fill_fields_of_their_kind() -> None:
    kinds = {"FRONTEND": "F", "BACKEND": "B"}
    for ps in collect(intro_runtime(), _clock()):
        rows = [r for r in (ps.frontend, ps.backend, *ps.servers) if r is not None]
        for row in rows:
            kind = kinds.get(str(row["svname"]), "S")
            for name, value in row.items():
                assert name in INDEX, f"unknown field {name}"
                if value is not None:
                    assert kind in FIELDS[INDEX[name]].kinds, (row["svname"], name)


def test_one_row_per_frontend_server_and_backend_in_config_order() -> None:
    text = render_csv(collect(intro_runtime(), _clock()))
    keys = [tuple(line.split(",")[:2]) for line in text.splitlines()[1:]]
    assert keys == [
        ("stats", "FRONTEND"),
        ("stats", "BACKEND"),
        ("web", "FRONTEND"),
        ("app", "web1"),
        ("app", "web2"),
        ("app", "web3"),
        ("app", "web4"),
        ("app", "web5"),
        ("app", "web6"),
        ("app", "BACKEND"),
    ]
    assert all(line.endswith(",-,") for line in text.splitlines())


def test_frontend_values() -> None:
    fe = _rows()["web", "FRONTEND"]
    assert (fe["scur"], fe["smax"], fe["slim"], fe["stot"]) == ("4", "17", "2000", "1234609")
    assert (fe["bin"], fe["bout"], fe["dreq"], fe["ereq"]) == ("9876543", "123456789", "2", "5")
    assert (fe["status"], fe["type"], fe["iid"], fe["mode"]) == ("OPEN", "0", "2", "http")
    assert fe["req_tot"] == "1300000"
    # server and backend fields stay empty on a frontend, as HAProxy leaves them
    assert fe["qcur"] == fe["econ"] == fe["weight"] == fe["check_status"] == ""


def test_server_values() -> None:
    rows = _rows()
    web1 = rows["app", "web1"]
    assert (web1["status"], web1["check_status"], web1["check_code"]) == ("UP", "L7OK", "200")
    assert (web1["check_duration"], web1["check_desc"]) == ("1", "Layer7 check passed")
    assert (web1["check_rise"], web1["check_fall"], web1["check_health"]) == ("2", "3", "4")
    assert (web1["scur"], web1["smax"], web1["stot"], web1["sid"]) == ("3", "12", "1234567", "1")
    assert (web1["act"], web1["bck"], web1["type"], web1["slim"]) == ("1", "0", "2", "")
    assert abs(int(web1["lastchg"]) - (20 * 3600 + 28 * 60)) <= 2
    assert rows["app", "web2"]["status"] == "no check"
    assert rows["app", "web2"]["chkfail"] == ""  # no check, no check counters
    assert (rows["app", "web3"]["act"], rows["app", "web3"]["bck"]) == ("0", "1")
    assert rows["app", "web4"]["status"] == "DOWN"
    assert rows["app", "web4"]["check_code"] == ""  # a layer-4 failure has no code
    assert rows["app", "web5"]["status"] == "MAINT"
    assert rows["app", "web6"]["status"] == "UP 1/3"


def test_backend_values() -> None:
    rows = _rows()
    app = rows["app", "BACKEND"]
    # web1, web2 and web6 are usable actives; web3 is the usable backup
    assert (app["status"], app["weight"], app["act"], app["bck"]) == ("UP", "3", "3", "1")
    assert (app["scur"], app["stot"], app["type"], app["sid"]) == ("4", "1234609", "1", "0")
    assert app["slim"] == "200"  # fullconn: a tenth of the maxconn of 'web', which uses it
    assert app["agg_server_status"] == "0"
    stats = rows["stats", "BACKEND"]
    assert stats["status"] == "UP"  # no server at all is UP, like HAProxy's stats listen
    assert stats["downtime"] == ""


def test_backend_down_when_no_server_is_usable() -> None:
    rt = intro_runtime()
    for srv in rt.backends["app"].servers:
        srv.state = SrvState.DOWN
    [app] = [ps for ps in collect(rt, _clock()) if ps.name == "app"]
    assert app.backend is not None
    assert (app.backend["status"], app.backend["weight"], app.backend["act"]) == ("DOWN", 0, 0)


def test_filters_hide_down_and_maint_servers_and_scope_proxies() -> None:
    rt = intro_runtime()
    [app] = [ps for ps in collect(rt, _clock(), Filter(hide_down=True)) if ps.name == "app"]
    assert [r["svname"] for r in app.servers] == ["web1", "web2", "web3", "web6"]
    assert app.backend is not None
    assert app.backend["status"] == "UP (4/6)"
    [app] = [ps for ps in collect(rt, _clock(), Filter(hide_maint=True)) if ps.name == "app"]
    assert "web5" not in [r["svname"] for r in app.servers]
    assert "web4" in [r["svname"] for r in app.servers]
    assert [ps.name for ps in collect(rt, _clock(), Filter(scope="AP"))] == ["app"]


def test_csv_quotes_only_ambiguous_text() -> None:
    from weir.stats.csv import csv_line

    line = csv_line({"pxname": 'a,"b"', "svname": "plain", "scur": 3})
    assert line.startswith('"a,""b""",plain,,,3,')


@pytest.mark.parametrize(
    ("state", "checked", "health", "expected"),
    [
        (SrvState.UP, True, 4, "UP"),
        (SrvState.UP, True, 3, "UP 2/3"),
        (SrvState.UP, False, 4, "no check"),
        (SrvState.DOWN, True, 0, "DOWN"),
        (SrvState.DOWN, True, 1, "DOWN 1/2"),
        (SrvState.DOWN, False, 0, "DOWN"),
        (SrvState.MAINT, True, 4, "MAINT"),
        (SrvState.DRAIN, True, 4, "DRAIN"),
    ],
)
def test_server_status(state: SrvState, checked: bool, health: int, expected: str) -> None:
    srv = Server("s", "127.0.0.1", 80, puid=1)
    srv.state = state
    assert server_status(srv, checked, health, 2, 3) == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (90, "1m30s"),
        (73680, "20h28m"),
        (3600 + 5, "1h5s"),
        (86400 * 5 + 3 * 3600 + 7, "5d3h"),
        (86400, "1d"),
        (-1, "?"),
    ],
)
def test_human_time(seconds: int, text: str) -> None:
    assert human_time(seconds) == text


def test_numbers_are_grouped_by_thousands() -> None:
    assert num(999) == "999"
    assert num(1234567) == '<span class="k">1</span><span class="k">234</span>567'
    assert num(None) == ""


def test_rate_counter_slides_over_one_second() -> None:
    r = RateCounter()
    for _ in range(10):
        r.hit(now=100.2)
    assert r.read(100.9) == 10
    assert r.read(101.5) == 5  # half of the previous second still counts
    r.hit(now=101.5)
    assert r.read(101.5) == 6
    assert r.read(103.0) == 0
    assert r.max == 10
