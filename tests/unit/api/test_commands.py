"""The runtime API's commands, run in-process against a runtime built from a config.

Expected answers are HAProxy 2.6's, captured from `haproxy -db` with a stats socket.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import BASE

from weir.api import Level, control_for, run_command
from weir.api.commands import REGISTRY, split_words
from weir.backend.server import SrvState
from weir.proxy.runtime import Runtime

RuntimeOf = Callable[..., Runtime]


def _servers(rt: Runtime, backend: str = "be1") -> dict[str, object]:
    return {s.name: s for s in rt.backends[backend].servers}


def _csv_rows(text: str) -> dict[tuple[str, str], dict[str, str]]:
    lines = text.splitlines()
    names = lines[0][2:].split(",")
    out = {}
    for line in lines[1:]:
        values = line.split(",")
        row = dict(zip(names, values, strict=False))
        out[row["pxname"], row["svname"]] = row
    return out


# -- parsing and dispatch ----------------------------------------------------------------


def test_words_split_on_blanks_and_backslash_escapes() -> None:
    assert split_words("  set  server\tbe/s1 ") == ["set", "server", "be/s1"]
    assert split_words(r"a\ b c\\d") == ["a b", r"c\d"]
    assert split_words("") == []


def test_help_lists_commands_aligned_and_ends_with_help_prompt_quit(
    runtime_of: RuntimeOf,
) -> None:
    text = run_command(runtime_of(), "help")
    lines = text.splitlines()
    assert lines[0] == "The following commands are valid at this level:"
    assert lines[-3:] == [
        "  help [<command>]                        : list matching or all commands",
        "  prompt                                  : toggle interactive mode with prompt",
        "  quit                                    : disconnect",
    ]
    # usage padded to 40 columns, then ": "
    assert "  show stat [desc|json|no-maint|typed|up]*: " in text
    assert "  get weight <bk>/<srv>                   : " in text
    body = lines[1:-3]
    assert body == sorted(body)
    # commands weir does not implement are not advertised
    assert "prepare map" not in text


def test_help_with_words_narrows_the_list(runtime_of: RuntimeOf) -> None:
    text = run_command(runtime_of(), "help show")
    body = text.splitlines()[1:-3]
    assert body
    assert all(line.startswith("  show ") for line in body)


def test_unknown_command_suggests_close_ones(runtime_of: RuntimeOf) -> None:
    text = run_command(runtime_of(), "show stta")
    assert text.startswith(
        "Unknown command, but maybe one of the following ones is a better match:\n"
    )
    assert "  show stat [desc|json|no-maint|typed|up]*" in text
    empty = run_command(runtime_of(), "")
    assert empty.startswith("Unknown command. Please enter one of the following commands only:\n")


@pytest.mark.parametrize(
    ("line", "level", "denied"),
    [
        ("disable server be1/s2", Level.OPERATOR, True),
        ("set weight be1/s2 5", Level.USER, True),
        ("show sess", Level.USER, True),
        ("show errors", Level.USER, True),
        ("clear counters", Level.USER, True),
        ("clear counters all", Level.OPERATOR, True),
        ("clear counters", Level.OPERATOR, False),
        ("show stat", Level.USER, False),
        ("get weight be1/s2", Level.USER, False),
        ("show servers state", Level.USER, False),
    ],
)
def test_levels(runtime_of: RuntimeOf, line: str, level: Level, denied: bool) -> None:
    answer = run_command(runtime_of(), line, level)
    assert (answer == "Permission denied\n") is denied


def test_show_cli_level_and_lowering(runtime_of: RuntimeOf) -> None:
    rt = runtime_of()
    assert run_command(rt, "show cli level", Level.OPERATOR) == "operator\n"
    assert run_command(rt, "operator", Level.USER) == "Permission denied\n"


def test_every_command_has_a_level_and_usage() -> None:
    import weir.api.server  # noqa: F401  (registers the commands)

    for cmd in REGISTRY.commands.values():
        assert isinstance(cmd.level, Level)
        assert cmd.usage.split()[0] == cmd.words[0]


# -- show --------------------------------------------------------------------------------


def test_show_stat_csv_with_cli_proxy_ids(runtime_of: RuntimeOf) -> None:
    text = run_command(runtime_of(), "show stat")
    assert text.startswith("# pxname,svname,qcur,")
    assert text.endswith("\n")
    rows = _csv_rows(text)
    assert list(rows) == [
        ("fe1", "FRONTEND"),
        ("be1", "s1"),
        ("be1", "s2"),
        ("be1", "s3"),
        ("be1", "BACKEND"),
        ("tcp1", "FRONTEND"),
        ("tcp1", "t1"),
        ("tcp1", "BACKEND"),
    ]
    # With a stats socket HAProxy numbers the configured proxies from 2.
    assert rows["fe1", "FRONTEND"]["iid"] == "2"
    assert rows["be1", "s2"]["iid"] == "3"
    # operator/admin levels see addresses and algorithms; user does not
    assert rows["be1", "s2"]["addr"] == "127.0.0.1:18082"
    assert rows["be1", "BACKEND"]["algo"] == "roundrobin"
    user_rows = _csv_rows(run_command(runtime_of(), "show stat", Level.USER))
    assert user_rows["be1", "s2"]["addr"] == ""


def test_show_stat_bound_to_proxy_type_and_server(runtime_of: RuntimeOf) -> None:
    rt = runtime_of()
    rows = _csv_rows(run_command(rt, "show stat -1 4 -1"))
    assert all(sv not in ("FRONTEND", "BACKEND") for _, sv in rows)
    rows = _csv_rows(run_command(rt, "show stat be1 6 2"))
    assert list(rows) == [("be1", "s2"), ("be1", "BACKEND")]
    rows = _csv_rows(run_command(rt, "show stat 3 4 -1"))
    assert list(rows) == [("be1", "s1"), ("be1", "s2"), ("be1", "s3")]
    assert run_command(rt, "show stat nope 1 1") == "No such proxy.\n"
    rows = _csv_rows(run_command(rt, "show stat no-maint"))
    assert ("be1", "s3") not in rows


def test_show_stat_typed_lines(runtime_of: RuntimeOf) -> None:
    text = run_command(runtime_of(), "show stat typed")
    lines = text.splitlines()
    assert lines[0] == "F.2.0.0.pxname.1:KNS:str:fe1"
    assert "F.2.0.4.scur.1:MGP:u32:0" in lines
    assert "F.2.0.17.status.1:SGP:str:OPEN" in lines
    assert "S.3.2.18.weight.1:MaP:u32:20" in lines
    assert "B.3.0.33.rate.1:MGP:u32:0" in lines  # backends tag rate as a gauge
    desc = run_command(runtime_of(), "show stat typed desc").splitlines()[0]
    assert desc.startswith('F.2.0.0.pxname.1:KNS:str:fe1:"')


def test_show_stat_json_structure(runtime_of: RuntimeOf) -> None:
    import json

    text = run_command(runtime_of(), "show stat json")
    data = json.loads(text)
    assert len(data) == 8  # one array per row
    first = data[0][0]
    assert first == {
        "objType": "Frontend",
        "proxyId": 2,
        "id": 0,
        "field": {"pos": 0, "name": "pxname"},
        "processNum": 1,
        "tags": {"origin": "Key", "nature": "Name", "scope": "Service"},
        "value": {"type": "str", "value": "fe1"},
    }
    server = next(f for f in data[2] if f["field"]["name"] == "weight")
    assert server["objType"] == "Server"
    assert server["value"] == {"type": "u32", "value": 20}


def test_show_info_formats(runtime_of: RuntimeOf) -> None:
    import json

    rt = runtime_of()
    text = run_command(rt, "show info")
    lines = text.splitlines()
    assert lines[0] == "Name: HAProxy"
    assert lines[1].startswith("Version: 2.6")
    assert "Nbproc: 1" in lines
    assert any(line.startswith("Uptime: 0d 0h") for line in lines)
    assert lines[-1] == "Tainted: 0"
    assert "ZlibMemUsage" not in text  # a build without zlib has no such line
    typed = run_command(rt, "show info typed").splitlines()
    assert typed[0] == "0.Name.1:POS:str:HAProxy"
    assert typed[3].startswith("3.Nbthread.1:CGS:u32:")
    assert any(line.startswith("47.Tasks.1:MGP:u32:") for line in typed)
    data = json.loads(run_command(rt, "show info json"))
    assert data[0]["field"] == {"pos": 0, "name": "Name"}
    assert data[0]["tags"] == {"origin": "Product", "nature": "Output", "scope": "Service"}


def test_show_servers_state(runtime_of: RuntimeOf) -> None:
    text = run_command(runtime_of(), "show servers state")
    lines = text.splitlines()
    assert lines[0] == "1"
    assert lines[1].startswith("# be_id be_name srv_id srv_name srv_addr srv_op_state ")
    assert lines[1].endswith("srv_agent_addr srv_agent_port")
    fields = {line.split()[3]: line.split() for line in lines[2:]}
    assert set(fields) == {"s1", "s2", "s3", "t1"}
    s2 = fields["s2"]
    assert s2[:9] == ["3", "be1", "2", "s2", "127.0.0.1", "2", "0", "20", "20"]
    assert s2[18] == "18082"  # srv_port
    s3 = fields["s3"]  # disabled in the configuration: forced and config maintenance
    assert (s3[5], s3[6], s3[13]) == ("0", "5", "8")
    assert len(s2) == 25
    only = run_command(runtime_of(), "show servers state tcp1").splitlines()
    assert [line.split()[1] for line in only[2:]] == ["tcp1"]
    assert run_command(runtime_of(), "show servers state nope") == "Can't find backend.\n"


def test_show_backend_sess_errors(runtime_of: RuntimeOf) -> None:
    rt = runtime_of()
    assert run_command(rt, "show backend") == "# name\nbe1\ntcp1\n"
    assert run_command(rt, "show sess") == ""  # no API connection, no traffic
    errors = run_command(rt, "show errors")
    assert errors.startswith("Total events captured on [")
    assert errors.endswith("] : 0\n")


# -- servers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("disable server be1", "Require 'backend/server'.\n"),
        ("disable server", "Require 'backend/server'.\n"),
        ("disable server nope/s2", "No such backend.\n"),
        ("disable server be1/nope", "No such server.\n"),
        (
            "set server be1/s2 state foo",
            "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n",
        ),
        (
            "set server be1/s2 weight 300",
            "Absolute weight can only be between 0 and 256 inclusive.\n",
        ),
        ("set server be1/s2 weight x", "Empty weight string empty or preceded by garbage"),
        ("set server be1/s2 weight 5x", "Trailing garbage in weight string"),
        ("set server be1/s2 weight", "Require <weight> or <weight%>.\n"),
        ("set server be1/s2 weight -5%", "Relative weight must be positive.\n"),
        ("set weight be1/s2", "Require <weight> or <weight%>.\n"),
        ("get weight be1", "Require 'backend/server'.\n"),
        (
            "set server be1/s2 addr",
            "set server <b>/<s> addr requires an address and optionally a port.\n",
        ),
        ("set server be1/s2 addr foo", "Invalid addr 'foo' by 'stats socket command'\n"),
        ("set maxconn server be1/s2", "Require <maxconn>.\n"),
        ("set maxconn server be1/s2 x", "maxconn string empty or preceded by garbage"),
        ("set maxconn frontend nope 5", "No such frontend.\n"),
        ("set maxconn frontend be1 5", "No such frontend.\n"),
        ("set maxconn frontend fe1", "Integer value expected.\n"),
        ("set maxconn global", "Expects an integer value.\n"),
        ("set maxconn global 100000000", "Value out of range.\n"),
        ("disable frontend", "A frontend name is expected.\n"),
        (
            "enable health be1/s2",
            "Health check was not configured on this server, cannot enable.\n",
        ),
        ("disable health be1", "Require 'backend/server'.\n"),
    ],
)
def test_error_answers_are_haproxys(runtime_of: RuntimeOf, line: str, answer: str) -> None:
    assert run_command(runtime_of(), line) == answer


def test_set_server_usage(runtime_of: RuntimeOf) -> None:
    assert run_command(runtime_of(), "set server be1/s2").startswith(
        "usage: set server <backend>/<server> addr | agent | agent-addr"
    )


def test_weights_absolute_relative_and_get(runtime_of: RuntimeOf) -> None:
    rt = runtime_of()
    assert run_command(rt, "get weight be1/s2") == "20 (initial 20)\n"
    assert run_command(rt, "set server be1/s2 weight 50%") == ""
    assert run_command(rt, "get weight be1/s2") == "10 (initial 20)\n"
    assert run_command(rt, "set weight be1/s2 10%") == ""
    assert run_command(rt, "get weight be1/s2") == "2 (initial 20)\n"
    assert run_command(rt, "set weight be1/#2 7") == ""  # `#id` names a server too
    s2 = rt.backends["be1"].servers[1]
    assert (s2.uweight, s2.eweight) == (7, 7)


def test_weight_zero_takes_the_server_out_of_balancing(runtime_of: RuntimeOf) -> None:
    rt = runtime_of()
    be = rt.backends["be1"]
    run_command(rt, "set weight be1/s1 0")
    picks = {be.pick().name for _ in range(20)}  # type: ignore[union-attr]
    assert picks == {"s2"}


def test_static_algorithm_only_takes_full_or_zero_weights(runtime_of: RuntimeOf) -> None:
    rt = runtime_of(BASE.replace("balance roundrobin", "balance static-rr"))
    assert run_command(rt, "set weight be1/s2 5") == (
        "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n"
    )
    assert run_command(rt, "set weight be1/s2 0%") == ""
    assert run_command(rt, "set weight be1/s2 100%") == ""


def test_state_changes_go_through_the_balancer(
    runtime_of: RuntimeOf, capsys: pytest.CaptureFixture[str]
) -> None:
    rt = runtime_of()
    be = rt.backends["be1"]
    s1, s2 = be.servers[0], be.servers[1]
    assert run_command(rt, "set server be1/s2 state maint") == ""
    assert s2.state is SrvState.MAINT
    assert {be.pick().name for _ in range(10)} == {"s1"}  # type: ignore[union-attr]
    err = capsys.readouterr().err
    assert "Server be1/s2 is going DOWN for maintenance. 1 active and 0 backup servers left." in err
    assert run_command(rt, "set server be1/s2 state drain") == ""
    assert s2.state is SrvState.DRAIN
    assert {be.pick().name for _ in range(10)} == {"s1"}  # type: ignore[union-attr]
    assert run_command(rt, "enable server be1/s2") == ""
    assert s2.state is SrvState.UP
    assert "Server be1/s2 is UP/READY (leaving forced drain)." in capsys.readouterr().err
    assert {be.pick().name for _ in range(30)} == {"s1", "s2"}  # type: ignore[union-attr]
    # all active servers in maintenance: the backup takes over
    run_command(rt, "disable server be1/s1; ")
    run_command(rt, "disable server be1/s1")
    run_command(rt, "disable server be1/s2")
    assert s1.state is SrvState.MAINT
    assert be.pick() is None  # s3 (backup) is itself disabled
    assert "backend 'be1' has no server available!" in capsys.readouterr().err
    run_command(rt, "set server be1/s3 state ready")
    assert be.pick() is be.servers[2]
    stat = _csv_rows(run_command(rt, "show stat"))
    assert stat["be1", "s1"]["status"] == "MAINT"
    assert stat["be1", "s3"]["status"] == "no check"


def test_address_change(runtime_of: RuntimeOf) -> None:
    rt = runtime_of()
    s2 = rt.backends["be1"].servers[1]
    line = "set server be1/s2 addr 127.0.0.2"
    assert run_command(rt, line) == (
        "IP changed from '127.0.0.1' to '127.0.0.2' by 'stats socket command'\n"
    )
    assert run_command(rt, line) == "no need to change the addr by 'stats socket command'\n"
    assert run_command(rt, "set server be1/s2 addr 127.0.0.3 port 18085") == (
        "IP changed from '127.0.0.2' to '127.0.0.3', port changed from '18082' to '18085' "
        "by 'stats socket command'\n"
    )
    assert s2.addr == ("127.0.0.3", 18085)
    assert run_command(rt, "set server be1/s2 addr 127.0.0.3 port 18085") == (
        "no need to change the addr, no need to change the port by 'stats socket command'\n"
    )
    assert run_command(rt, "set server be1/s2 addr 127.0.0.3 port abc") == (
        "no need to change the addr, problem converting port 'abc' to an int "
        "by 'stats socket command'\n"
    )
    assert run_command(rt, "set server be1/s2 addr ::1") == (
        "IP changed from '127.0.0.3' to '::1' by 'stats socket command'\n"
    )
    rows = _csv_rows(run_command(rt, "show stat"))
    assert rows["be1", "s2"]["addr"] == "[::1]:18085"


def test_maxconn_changes(runtime_of: RuntimeOf) -> None:
    rt = runtime_of()
    assert run_command(rt, "set maxconn server be1/s2 100") == ""
    assert rt.backends["be1"].servers[1].maxconn == 100
    assert run_command(rt, "set maxconn frontend fe1 77") == ""
    fe = rt.frontends[0]
    assert (fe.maxconn, fe.limiter.limit) == (77, 77)
    assert _csv_rows(run_command(rt, "show stat"))["fe1", "FRONTEND"]["slim"] == "77"
    hard = rt.limiter.limit
    assert run_command(rt, "set maxconn global 50") == ""
    assert rt.limiter.limit == 50
    assert run_command(rt, "set maxconn global 0") == ""  # back to the hard limit
    assert rt.limiter.limit == hard


def test_clear_counters(runtime_of: RuntimeOf) -> None:
    rt = runtime_of()
    fe = rt.frontends[0]
    s1 = rt.backends["be1"].servers[0]
    fe.counters.max_sess, fe.counters.tot_sess = 9, 40
    s1.max_sess, s1.tot_sess = 3, 12
    assert run_command(rt, "clear counters") == ""
    assert (fe.counters.max_sess, fe.counters.tot_sess) == (0, 40)
    assert (s1.max_sess, s1.tot_sess) == (0, 12)
    assert run_command(rt, "clear counters all") == ""
    assert fe.counters.tot_sess == 0
    assert s1.tot_sess == 0


def test_health_disable_shows_not_checked(runtime_of: RuntimeOf) -> None:
    rt = runtime_of()
    s1 = rt.backends["be1"].servers[0]
    s1.check_status = "L4OK"  # as the check scheduler leaves it
    s1.check_health = 4
    assert _csv_rows(run_command(rt, "show stat"))["be1", "s1"]["status"] == "UP"
    assert run_command(rt, "disable health be1/s1") == ""
    assert s1.check_status is None
    row = _csv_rows(run_command(rt, "show stat"))["be1", "s1"]
    assert (row["status"], row["check_status"]) == ("no check", "")
    # without a running scheduler, enabling is accepted and changes nothing more
    assert run_command(rt, "enable health be1/s1") == ""


# -- dynamic servers ------------------------------------------------------------------------


def test_add_enable_use_and_delete_a_server(
    runtime_of: RuntimeOf, capsys: pytest.CaptureFixture[str]
) -> None:
    rt = runtime_of()
    be = rt.backends["be1"]
    assert run_command(rt, "add server be1/s9 127.0.0.1:18089 weight 5") == (
        "New server registered.\n"
    )
    assert "CLI : 'server be1/s9' : New server registered." in capsys.readouterr().err
    s9 = be.servers[-1]
    assert (s9.name, s9.puid, s9.uweight, s9.state) == ("s9", 4, 5, SrvState.MAINT)
    assert be.conf.servers[-1].name == "s9"
    assert "s9" not in {be.pick().name for _ in range(40)}  # type: ignore[union-attr]
    assert run_command(rt, "add server be1/s9 127.0.0.1:1") == (
        "Already exists a server with the same name in backend.\n"
    )
    assert run_command(rt, "get weight be1/s9") == "5 (initial 5)\n"
    run_command(rt, "enable server be1/s9")
    assert "s9" in {be.pick().name for _ in range(40)}  # type: ignore[union-attr]
    assert (
        run_command(rt, "del server be1/s9") == "Only servers in maintenance mode can be deleted."
    )
    run_command(rt, "set server be1/s9 state maint")
    s9.cur_sess = 1
    assert run_command(rt, "del server be1/s9") == (
        "Server still has connections attached to it, cannot remove it."
    )
    s9.cur_sess = 0
    assert run_command(rt, "del server be1/s9") == "Server deleted."
    assert [s.name for s in be.servers] == ["s1", "s2", "s3"]
    assert [s.name for s in be.conf.servers] == ["s1", "s2", "s3"]
    assert run_command(rt, "del server be1/s9") == "No such server."


def test_add_server_refusals(runtime_of: RuntimeOf) -> None:
    rt = runtime_of()
    assert run_command(rt, "add server be1") == "Require 'backend/server'."
    assert run_command(rt, "add server nope/x 127.0.0.1:1") == "No such backend."
    assert run_command(rt, "add server be1/x") == (
        "'server' expects <name> and <addr>[:<port>] as arguments.\n"
    )
    assert run_command(rt, "add server be1/x 127.0.0.1:1 cookie c") == (
        "'cookie' option is not accepted for dynamic server\n"
    )
    assert "unknown server option 'foo'" in run_command(rt, "add server be1/x 127.0.0.1:1 foo")
    assert "IP address" in run_command(rt, "add server be1/x somehost:1")
    static = runtime_of(BASE.replace("balance roundrobin", "balance static-rr"))
    assert run_command(static, "add server be1/x 127.0.0.1:1") == (
        "Backend must use a dynamic load balancing to support dynamic servers."
    )


def test_added_server_ignores_default_server(runtime_of: RuntimeOf) -> None:
    # HAProxy 2.6: "no settings will be reused from an hypothetical 'default-server'"
    text = BASE.replace(
        "    balance roundrobin\n",
        "    balance roundrobin\n    default-server weight 50 maxconn 7\n",
    )
    rt = runtime_of(text)
    run_command(rt, "add server be1/x 127.0.0.1:1")
    x = rt.backends["be1"].servers[-1]
    assert (x.uweight, x.maxconn) == (1, 0)


# -- frontends, sessions, unsupported ----------------------------------------------------------


def test_frontend_pause_needs_the_listeners(runtime_of: RuntimeOf) -> None:
    rt = runtime_of()
    answer = run_command(rt, "disable frontend fe1")
    assert "listening sockets were not handed" in answer
    assert run_command(rt, "enable frontend fe1") == "All sockets are already enabled.\n"


def test_shutdown_sessions_is_refused_clearly_without_tracking(runtime_of: RuntimeOf) -> None:
    rt = runtime_of()
    assert "does not support it yet" in run_command(rt, "shutdown sessions server be1/s1")
    assert run_command(rt, "shutdown sessions server be1") == "Require 'backend/server'.\n"


@pytest.mark.parametrize("line", ["prepare map m", "commit acl @1 a"])
def test_map_transactions_are_not_supported_yet(runtime_of: RuntimeOf, line: str) -> None:
    answer = run_command(runtime_of(), line)
    assert "weir does not support yet" in answer
    assert answer.endswith(".\n")


def test_unknown_maps_and_acls(runtime_of: RuntimeOf) -> None:
    rt = runtime_of()
    assert run_command(rt, "show map /nope").startswith("Unknown map identifier")
    assert run_command(rt, "add acl #9 p").startswith("Unknown ACL identifier")


def test_tables_without_any(runtime_of: RuntimeOf) -> None:
    rt = runtime_of()
    assert run_command(rt, "show table") == ""
    assert run_command(rt, "clear table t") == "Data fetch error : unknown table name.\n"


def test_control_is_shared_per_runtime(runtime_of: RuntimeOf) -> None:
    rt = runtime_of()
    assert control_for(rt) is control_for(rt)
    assert control_for(rt) is not control_for(runtime_of())
