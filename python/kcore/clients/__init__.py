"""kcore.clients: to come (see the project's issues)."""
