"""A peers session whose reading half fails ends as a whole, and says why: the other node
then sees the connection close and connects again, where a session that kept writing
heartbeats after its reading stopped would look alive while every update sent to it is
lost."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers.ports import free_port
from weir.config.diagnostics import Where
from weir.peers import codec, engine
from weir.peers.conf import PeerConf, PeersConf


def test_a_fault_while_reading_ends_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: engine.Session, m: codec.Message) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(engine.Session, "_handle", broken)
    port = free_port()
    here = Where("t.cfg", 1)
    conf = PeersConf("mesh", here, local="lb1")
    conf.peers = {
        "lb1": PeerConf("lb1", "127.0.0.1", port, here),
        "lb2": PeerConf("lb2", "127.0.0.1", free_port(), here),  # never up
    }
    said: list[tuple[str, str]] = []

    async def scenario() -> bytes:
        loop = asyncio.get_running_loop()
        rt = engine.PeersRuntime(
            conf, loop, lambda level, text: said.append((level, text)), reloaded=False
        )
        await rt.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(codec.hello("lb1", "lb2", 1))
            status = await asyncio.wait_for(reader.readline(), 5)
            assert status == b"%d\n" % codec.ST_OK
            writer.write(codec.control(codec.CTRL_HEARTBEAT))
            rest = b""
            for _ in range(100):  # until weir closes (bounded: 5 s at most)
                data = await asyncio.wait_for(reader.read(4096), 5)
                if not data:
                    break
                rest += data
            else:
                raise AssertionError("the session stayed open")
            writer.close()
            return rest
        finally:
            rt.close()

    asyncio.run(asyncio.wait_for(scenario(), 20))
    assert any(
        level == "WARNING" and "'lb2' ended on an internal error: RuntimeError('boom')" in text
        for level, text in said
    ), said
