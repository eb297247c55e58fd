"""HAProxy's peers protocol: stick-table replication between nodes."""

from weir.peers.engine import RUNNING, start_peers

__all__ = ["RUNNING", "start_peers"]
