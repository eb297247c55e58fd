"""`weir demo`: the introduction's L7 architecture, running on this machine's loopback.

Six web servers in three groups (ms1, ms2, def), two per group on 127.0.0.1 and 127.0.0.2
(standing in for the walk-through's two hosts), and weir in front on 127.0.0.1:9001 routing
by path prefix. Runs in the foreground until Ctrl-C, then stops everything.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from weir.demo.backends import start_demo_servers

SERVERS = [
    ("ms1.srv1", "127.0.0.1", 8080),
    ("ms1.srv2", "127.0.0.2", 8080),
    ("ms2.srv1", "127.0.0.1", 8081),
    ("ms2.srv2", "127.0.0.2", 8081),
    ("def.srv1", "127.0.0.1", 8082),
    ("def.srv2", "127.0.0.2", 8082),
]

TRY = """\
weir demo is running. Try:
  curl http://127.0.0.1:9001/ms1/demo.html     # ms1 group (ms1.srv1 / ms1.srv2 in turn)
  curl http://127.0.0.1:9001/ms2/demo.html     # ms2 group
  curl http://127.0.0.1:9001/def/demo.html     # anything else: the def group
  curl -i http://127.0.0.1:9001/ms1/demo.html  # Set-Cookie: HA_STICKY_ms1=... (persistence)
  http://127.0.0.1:1080/stats                  # the stats page (user admin, password admin)
Health checks, as in the walk-through: make ms1.srv1 fail its check, watch it go DOWN
(L7STS/404) on the stats page, then bring it back:
  mv {root}/ms1.srv1/healthCheck.html {root}/ms1.srv1/healthCheck.html.bak
  mv {root}/ms1.srv1/healthCheck.html.bak {root}/ms1.srv1/healthCheck.html
weir's configuration: {cfg}
Press Ctrl-C to stop.
"""


def demo_config() -> str:
    return resources.files("weir.demo").joinpath("demo.cfg").read_text()


def run_demo(argv: Sequence[str]) -> int:
    if argv:
        print("usage: weir demo   (takes no argument)", file=sys.stderr)
        return 1
    try:
        return asyncio.run(_demo())
    except KeyboardInterrupt:
        return 0


async def _demo() -> int:
    loop = asyncio.get_running_loop()
    with tempfile.TemporaryDirectory(prefix="weir-demo-") as tmp:
        root = Path(tmp) / "www"
        try:
            servers = await start_demo_servers(SERVERS, root)
        except OSError as e:
            print(f"weir demo: cannot start the demo web servers: {e}", file=sys.stderr)
            return 1
        cfg = Path(tmp) / "demo.cfg"
        cfg.write_text(demo_config())
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "weir", "-db", "-f", str(cfg)
        )
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        exited = asyncio.ensure_future(proc.wait())
        stopped = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({exited}, timeout=0.5)
        if not done:
            print(TRY.format(cfg=cfg, root=root), flush=True)
        await asyncio.wait({exited, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(exited, 5)
            except TimeoutError:
                proc.kill()
                await exited
        stopped.cancel()
        for s in servers:
            s.close()
        return 0 if stop.is_set() else (proc.returncode or 1)
