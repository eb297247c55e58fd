"""HAProxy's peers protocol: stick-table replication between nodes, between the workers
of one node, and to the next process on reload."""

from weir.peers.engine import RUNNING, start_handover, start_mesh, start_peers

__all__ = ["RUNNING", "start_handover", "start_mesh", "start_peers"]
