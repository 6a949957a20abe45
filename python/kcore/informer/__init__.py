"""kcore.informer: to come (see the project's issues)."""
