"""HAProxy's peers protocol: stick-table replication between nodes, and the hand-over of
stick tables to the next process on reload."""

from weir.peers.engine import RUNNING, start_handover, start_peers

__all__ = ["RUNNING", "start_handover", "start_peers"]
