"""The peers protocol's wire format (weir.peers.codec): integers, handshake, framing,
table definitions, updates and the server-key dictionary."""

from __future__ import annotations

import pytest

from weir.peers import codec


@pytest.mark.parametrize(
    ("value", "size"),
    [(0, 1), (239, 1), (240, 2), (2287, 2), (2288, 3), (264431, 3), (264432, 4),
     (33818863, 4), (33818864, 5), (4328786159, 5), (2**63, 10)],
)  # fmt: skip
def test_integers_take_the_documented_sizes_and_round_trip(value: int, size: int) -> None:
    raw = codec.enc_int(value)
    assert len(raw) == size
    assert codec.dec_int(raw + b"tail", 0, len(raw) + 4) == (value, size)


def test_integer_known_encoding_and_truncation() -> None:
    assert codec.enc_int(300) == bytes((0xFC, 0x03))  # low 4 bits in the first byte
    with pytest.raises(codec.IncompleteError):
        codec.dec_int(bytes((0xFC,)), 0, 1)


def test_hello_and_its_errors() -> None:
    raw = codec.hello("them", "us", 42)
    assert raw == b"HAProxyS 2.1\nthem\nus 42 1\n"
    h, used = codec.parse_hello(raw + b"\x00\x00")
    assert (h.version, h.remote, h.local, used) == ("2.1", "them", "us", len(raw))
    with pytest.raises(codec.IncompleteError):
        codec.parse_hello(raw[:-3])
    with pytest.raises(codec.MalformedError) as e:
        codec.parse_hello(b"HAProxyS 3.0\nthem\nus 1 1\n")
    assert e.value.args[0] == codec.ST_ERR_VERSION
    with pytest.raises(codec.MalformedError) as e:
        codec.parse_hello(b"HTTP/1.1 200\nx\ny\n")
    assert e.value.args[0] == codec.ST_ERR_PROTO


def test_framing_splits_whole_messages_only() -> None:
    stream = (
        codec.control(codec.CTRL_HEARTBEAT)
        + codec.switch(3)
        + codec.ack(3, 99)
        + codec.frame(codec.CLS_TABLE, codec.T_UPDATE, b"x" * 300)
    )
    msgs, used = codec.split_messages(stream[:-1])
    assert [(m.cls, m.typ) for m in msgs] == [
        (codec.CLS_CONTROL, codec.CTRL_HEARTBEAT),
        (codec.CLS_TABLE, codec.T_SWITCH),
        (codec.CLS_TABLE, codec.T_ACK),
    ]
    assert codec.parse_ack(msgs[2].payload) == (3, 99)
    msgs, used = codec.split_messages(stream)
    assert used == len(stream)
    assert len(msgs[3].payload) == 300


def _table() -> codec.TableDef:
    ids = [codec.DATA_ID[n] for n in ("server_id", "gpc0", "conn_rate", "http_req_cnt")]
    return codec.TableDef(
        5, "st", codec.KEY_IPV4, 4, ids, 60000, {codec.DATA_ID["conn_rate"]: (10000,)}
    )


def test_table_definition_round_trips() -> None:
    t = _table()
    (msg,), _ = codec.split_messages(codec.define(t))
    assert codec.parse_define(msg.payload) == t


def test_updates_round_trip_plain_and_timed_and_incremental() -> None:
    t = _table()
    values = {0: -1, 2: 42, 5: (100, 3, 1), 9: 11}
    for u in (
        codec.Update(7, None, b"\x0a\x00\x00\x01", values),
        codec.Update(None, 30000, b"\x0a\x00\x00\x02", values),
    ):
        (msg,), _ = codec.split_messages(codec.update(t, u))
        assert codec.parse_update(t, msg.typ, msg.payload) == u


def test_string_keys_and_the_server_key_dictionary() -> None:
    sk = codec.DATA_ID["server_key"]
    t = codec.TableDef(1, "s", codec.KEY_STR, 32, [sk], 0)
    tx, rx = codec.DictTx(), codec.DictRx()
    first = codec.update(t, codec.Update(1, None, b"alice", {sk: "10.0.0.1:80"}), tx)
    again = codec.update(t, codec.Update(2, None, b"bob", {sk: "10.0.0.1:80"}), tx)
    assert len(again) < len(first)  # the second time, the id alone
    for raw, key in ((first, b"alice"), (again, b"bob")):
        (msg,), _ = codec.split_messages(raw)
        u = codec.parse_update(t, msg.typ, msg.payload, rx)
        assert (u.key, u.values[sk]) == (key, "10.0.0.1:80")


def test_truncated_update_is_malformed() -> None:
    t = _table()
    (msg,), _ = codec.split_messages(codec.update(t, codec.Update(1, None, b"\1\2\3\4", {})))
    with pytest.raises(codec.MalformedError):
        codec.parse_update(t, msg.typ, msg.payload[:-2])
