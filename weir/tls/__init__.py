"""TLS: termination on binds, TLS to servers, and the facts rules and logs read."""
