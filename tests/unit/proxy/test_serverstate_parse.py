"""Reading `show servers state` output back (weir.backend.serverstate)."""

from __future__ import annotations

from weir.backend.serverstate import SavedServer, parse_state_file

TEXT = """\
1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight
3 app 1 s1 127.0.0.1 2 1 1 1 12 1 0 0 0 0 0 0 - 80 - 0 0 - - 0
3 app 2 s2 127.0.0.1 0 0 3 10 12 8 2 0 6 0 0 0 - 80 - 0 0 - - 0
3 app 3 short 127.0.0.1 2
3 app 4 bad 127.0.0.1 x 0 1 1
"""


def test_parse_keeps_server_lines_by_backend_and_name() -> None:
    got = parse_state_file(TEXT)
    assert got == {
        ("app", "s1"): SavedServer(op_state=2, admin_state=1, uweight=1, iweight=1),
        ("app", "s2"): SavedServer(op_state=0, admin_state=0, uweight=3, iweight=10),
    }


def test_other_versions_are_ignored() -> None:
    assert parse_state_file("2\n3 app 1 s1 127.0.0.1 2 1 1 1\n") == {}
    assert parse_state_file("") == {}
