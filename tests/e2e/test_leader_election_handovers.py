"""Leader election across processes: three candidates on one Lease — kcore's LeaderElector, its
asyncio twin and client-go's own (v0.37.2) — each behind a proxy of its own, and leadership
forced from one to another twenty times: the leader SIGKILLed, told to go with SIGTERM (release
on cancel), or cut off from the API server. A log of every candidate's leading interval, on the
one clock the processes share, must never show two leaders at once. A kcore leader's interval
ends when its stop event is set (its work must end); client-go's when OnStoppedLeading runs,
which is when its leading context is cancelled too (after the release, as Run orders it). A
client-go leader is never cut off: with release on cancel it keeps its leading context through
a release that waits up to the renew deadline, past the moment its lease expires for the others
(kcore's elector sets the stop event before it releases).

The bounds each handover is held to follow from the election's rules (lease L, retry period R,
each wait jittered up to 1.2 × R more, so up to 2.2 R): after a SIGKILL the others may have seen
the leader's last renewal up to 2.2 R after it was written, honour it for L from then, and try
again every 2.2 R at most: L + 4.4 R; after a release, one try of theirs: 2.2 R. Both get a
second more for starting processes and scheduling on a busy machine.
"""

from __future__ import annotations

import re
import time
import uuid
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import yaml

from kcore.testenv import ControlPlane
from tests.e2e.leader_election_upstream_driver import Candidate, GoCandidate, KcoreCandidate
from tests.silent_proxy import SilentProxy

# renew_deadline + retry_period < lease_duration: a leader cut off gives up before its lease ends.
LEASE, RENEW, RETRY = 3.0, 1.5, 0.5
HANDOVERS = 20
SLACK = 1.0
WAIT = 30.0


def wall(at: str) -> datetime:
    """An RFC 3339 time from a candidate (Go writes nanoseconds; Python reads microseconds)."""
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", at).replace("Z", "+00:00"))


def now() -> datetime:
    return datetime.now(timezone.utc)


class Slot:
    """One candidate's place: its proxy, its kubeconfig through it, its kind; each (re)start is
    a new process with a new identity, as a replaced pod would have."""

    def __init__(self, kind: str, plane: ControlPlane, folder: Path, stack: ExitStack, lease: str) -> None:
        self.kind, self.lease, self.stack = kind, lease, stack
        self.proxy = stack.enter_context(SilentProxy(plane))
        config = yaml.safe_load(Path(plane.kubeconfig).read_text())
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = self.proxy.url
        self.kubeconfig = folder / f"{kind}.kubeconfig"
        self.kubeconfig.write_text(yaml.safe_dump(config))
        self.generation = 0
        self.candidate: Optional[Candidate] = None
        self.ended: dict[str, datetime] = {}  # identity → when a SIGKILL ended it

    def start(self) -> Candidate:
        self.generation += 1
        identity = f"{self.kind}-{self.generation}"
        timing: dict[str, Any] = dict(
            lease_duration=LEASE, renew_deadline=RENEW, retry_period=RETRY, release_on_cancel=True
        )
        if self.kind == "go":
            candidate: Candidate = GoCandidate(self.kubeconfig, name=self.lease, identity=identity, **timing)
        else:
            candidate = KcoreCandidate(
                self.kubeconfig, name=self.lease, identity=identity, asyncio=self.kind == "kcore-asyncio", **timing
            )
        self.candidate = self.stack.enter_context(candidate)
        return candidate

    def leading(self) -> bool:
        events = [e["event"] for e in self.candidate.events] if self.candidate else []
        return "started" in events and "stopped" not in events and self.candidate.identity not in self.ended


def leader(slots: list[Slot], other_than: Optional[Slot] = None) -> Slot:
    """The slot whose candidate leads (as its callbacks have told so far), once there is one."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        leading = [s for s in slots if s.leading() and s is not other_than]
        if leading:
            return leading[0]
        time.sleep(0.02)
    raise AssertionError(
        f"no leader within {WAIT} s: {[(s.candidate.identity, s.candidate.events) for s in slots if s.candidate]}"
    )


def intervals(candidates: list[Candidate], killed: dict[str, datetime]) -> list[tuple[datetime, datetime, str]]:
    """Each candidate's leading interval: from "started" to "stopped", or to just after its SIGKILL."""
    out = []
    for c in candidates:
        started = next((wall(e["at"]) for e in c.events if e["event"] == "started"), None)
        if started is None:
            continue
        stopped = next((wall(e["at"]) for e in c.events if e["event"] == "stopped"), None)
        end = killed.get(c.identity, stopped)
        assert end is not None, f"{c.identity} led and never stopped: {c.events}"
        out.append((started, end, c.identity))
    return sorted(out)


def test_twenty_forced_handovers_between_kcore_and_client_go_processes_never_make_two_leaders(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    lease = f"handovers-{uuid.uuid4().hex[:8]}"
    everyone: list[Candidate] = []
    killed: dict[str, datetime] = {}
    ways: dict[str, int] = {"kill": 0, "terminate": 0, "partition": 0}
    with ExitStack() as stack:
        slots = [Slot(kind, control_plane, tmp_path, stack, lease) for kind in ("kcore", "kcore-asyncio", "go")]
        for slot in slots:
            everyone.append(slot.start())
        for turn in range(HANDOVERS):
            old = leader(slots)
            assert old.candidate is not None
            for slot in slots:  # every follower knows the leader: a handover has somewhere to go
                if slot is not old:
                    assert slot.candidate is not None
                    slot.candidate.wait_for("new_leader", old.candidate.identity, timeout=WAIT)
            way = ("kill", "terminate", "partition")[turn % 3]
            if way == "partition" and old.kind == "go":
                way = "kill"  # client-go keeps its leader's context through the release (see above)
            ways[way] += 1
            begun = now()
            if way == "kill":
                old.candidate.kill()
                killed[old.candidate.identity] = old.ended[old.candidate.identity] = now()
            elif way == "terminate":
                assert old.candidate.terminate(WAIT) == 0
            else:
                old.proxy.partition()
                stopped = old.candidate.wait_for("stopped", timeout=WAIT)
            new = leader(slots, other_than=old)
            assert new.candidate is not None
            took = (wall(new.candidate.wait_for("started")["at"]) - begun).total_seconds()
            if way == "kill":
                assert took <= LEASE + 4.4 * RETRY + SLACK, (turn, way, took)
            elif way == "terminate":
                assert took <= 2.2 * RETRY + SLACK, (turn, way, took)
            else:  # it stopped leading before the new leader started
                assert wall(stopped["at"]) < wall(new.candidate.wait_for("started")["at"]), (turn, stopped)
                old.candidate.wait_for("exited", timeout=WAIT)
                old.proxy.heal()
            everyone.append(old.start())
        # The followers go first: a leader released before them would hand over once more.
        for slot in sorted(slots, key=Slot.leading):
            assert slot.candidate is not None
            if slot.candidate.process is not None and slot.candidate.process.poll() is None:
                slot.candidate.terminate(WAIT)

    log = intervals(everyone, killed)
    for (_, end, before), (start, _, after) in zip(log, log[1:]):
        assert end < start, f"{before} still led ({end}) when {after} began to ({start})"
    # One leader per handover, and more only if a leader lost its lease by itself (a renewal
    # later than the renew deadline on a loaded machine), which is a handover too.
    assert len(log) >= HANDOVERS + 1, log
    assert {identity.rsplit("-", 1)[0] for _, _, identity in log} == {"kcore", "kcore-asyncio", "go"}
    assert all(ways.values()), ways
