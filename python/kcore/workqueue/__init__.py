"""kcore.workqueue: to come (see the project's issues)."""
