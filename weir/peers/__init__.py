"""HAProxy's peers protocol: stick-table replication between nodes."""
