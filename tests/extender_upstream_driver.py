"""kube-scheduler's extender wire types decoded and re-encoded by Go's encoding/json
(tests/extender_upstream, its own Go module), to compare kcore.scheduler.extender_wire with."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Tuple

from tests.go_driver_build import build_go_driver

GO_MODULE = Path(__file__).parent / "extender_upstream"


def go_round_trips(cases: List[Tuple[str, Any]]) -> List[Dict[str, Any]]:
    """For each (Go type name, JSON value): ``{"value": Go's re-encoding}`` or ``{"error": ...}``."""
    binary = build_go_driver(GO_MODULE, "the extender wire driver")
    lines = "".join(json.dumps({"type": kind, "value": value}) + "\n" for kind, value in cases)
    done = subprocess.run([str(binary)], input=lines, capture_output=True, text=True, timeout=60, check=True)
    return [json.loads(line) for line in done.stdout.splitlines()]
