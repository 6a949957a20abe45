"""kcore.scheduler: to come (see the project's issues)."""
