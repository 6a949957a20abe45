"""The leader election plan, stepped with a fake clock: each test plays the API server's part (an
in-memory Lease with resourceVersions and conflicts) and checks what the candidate writes and
when it leads. The rules are client-go v0.37.2's tools/leaderelection; the end-to-end tests
prove them on a real server and against client-go's own LeaderElector."""

from __future__ import annotations

import copy
import gc
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

import pytest
from prometheus_client import CollectorRegistry

from kcore import Config
from kcore.clients import Clientset
from kcore.controller import LeaderElectionCore, LeaderElectionRecord, LeaderElector
from kcore.controller.leader_election import (
    Command,
    CreateLease,
    GetLease,
    LeaderElectionCollector,
    NewLeader,
    Sleep,
    StartedLeading,
    StoppedLeading,
    UpdateLease,
)
from kcore.controller.lease_lock import format_micro_time
from kcore.errors import AlreadyExists, Conflict, NotFound, TransportError

EPOCH = datetime(2026, 12, 2, 1, 0, 0, tzinfo=timezone.utc)


def status(code: int, reason: str) -> dict[str, Any]:
    return {"kind": "Status", "code": code, "reason": reason, "message": reason}


class Clock:
    """The candidate's monotonic clock and its wall clock (``skew`` seconds off the true time)."""

    def __init__(self, skew: float = 0.0) -> None:
        self.now = 0.0
        self.skew = skew

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return EPOCH + timedelta(seconds=self.now + self.skew)


class Server:
    """One Lease, kept as the API server keeps it: resourceVersions, Conflict on a stale update.
    ``down``: every request hangs for its whole timeout, then fails (a cut-off network)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lease: Optional[dict[str, Any]] = None
        self.rv = 0
        self.down = False
        self.writes: list[tuple[float, dict[str, Any]]] = []

    def store(self, lease: dict[str, Any]) -> dict[str, Any]:
        self.rv += 1
        self.lease = copy.deepcopy(lease)
        self.lease["metadata"]["resourceVersion"] = str(self.rv)
        self.writes.append((self.clock.now, copy.deepcopy(self.lease["spec"])))
        return copy.deepcopy(self.lease)

    def hold(
        self, holder: str, duration: int = 15, renew: str = "2026-12-02T01:00:00.000000Z", transitions: int = 3
    ) -> None:
        """Another candidate writes the Lease."""
        base = self.lease or {"metadata": {"name": "lock", "namespace": "ns"}}
        self.store(
            {
                **base,
                "spec": {
                    "holderIdentity": holder,
                    "leaseDurationSeconds": duration,
                    "acquireTime": renew,
                    "renewTime": renew,
                    "leaseTransitions": transitions,
                },
            }
        )

    def answer(self, command: Command) -> Any:
        assert isinstance(command, (GetLease, CreateLease, UpdateLease))
        assert command.timeout > 0
        if self.down:
            self.clock.now += command.timeout
            raise TransportError("timed out")
        if isinstance(command, GetLease):
            if self.lease is None:
                raise NotFound(status(404, "NotFound"))
            return copy.deepcopy(self.lease)
        if isinstance(command, CreateLease):
            if self.lease is not None:
                raise AlreadyExists(status(409, "AlreadyExists"))
            return self.store(command.lease)
        assert self.lease is not None
        if command.lease["metadata"].get("resourceVersion") != self.lease["metadata"]["resourceVersion"]:
            raise Conflict(status(409, "Conflict"))
        return self.store(command.lease)


class Run:
    """A candidate's plan, driven one command at a time against ``server``."""

    def __init__(self, core: LeaderElectionCore, server: Server, clock: Clock) -> None:
        self.core = core
        self.server = server
        self.clock = clock
        self.plan = core.run()
        self.log: list[tuple[float, Command]] = []
        self.finished = False
        self._next: Optional[Command] = next(self.plan)

    def step(self) -> Command:
        command = self._next
        assert command is not None, "the plan has finished"
        self.log.append((self.clock.now, command))
        answer: Any = None
        error: Optional[BaseException] = None
        if isinstance(command, Sleep):
            assert command.seconds > 0
            self.clock.now += command.seconds
        elif isinstance(command, (GetLease, CreateLease, UpdateLease)):
            try:
                answer = self.server.answer(command)
            except Exception as exc:
                error = exc
        try:
            self._next = self.plan.throw(error) if error is not None else self.plan.send(answer)
        except StopIteration:
            self._next, self.finished = None, True
        return command

    def until(self, done: Callable[[Command], bool], limit: int = 1000) -> Command:
        for _ in range(limit):
            command = self.step()
            if done(command):
                return command
        raise AssertionError(f"not reached in {limit} steps; last: {self.log[-5:]}")

    def until_leading(self) -> None:
        self.until(lambda c: isinstance(c, StartedLeading))

    def commands(self, kind: type) -> list[tuple[float, Command]]:
        return [(t, c) for t, c in self.log if isinstance(c, kind)]


def new_leaders(run: Run) -> list[str]:
    return [c.identity for _, c in run.log if isinstance(c, NewLeader)]


def candidate(identity: str, clock: Clock, **options: Any) -> LeaderElectionCore:
    return LeaderElectionCore(
        namespace="ns",
        name="lock",
        identity=identity,
        clock=clock.monotonic,
        wall=clock.wall,
        rng=options.pop("rng", lambda: 0.5),
        **options,
    )


def leader(identity: str, **options: Any) -> tuple[Clock, Server, Run]:
    """A candidate that has just created the Lease and leads."""
    clock = Clock()
    server = Server(clock)
    run = Run(candidate(identity, clock, **options), server, clock)
    run.until_leading()
    return clock, server, run


# -- acquiring ---------------------------------------------------------------------------------


def test_the_first_candidate_creates_the_lease_with_every_field_as_client_go_writes_it() -> None:
    _clock, server, run = leader("a")
    assert [type(c) for _, c in run.log] == [GetLease, CreateLease, NewLeader, StartedLeading]
    assert server.lease is not None
    assert server.lease["metadata"] == {"name": "lock", "namespace": "ns", "resourceVersion": "1"}
    assert server.lease["spec"] == {
        "holderIdentity": "a",
        "leaseDurationSeconds": 15,
        "acquireTime": "2026-12-02T01:00:00.000000Z",
        "renewTime": "2026-12-02T01:00:00.000000Z",
        "leaseTransitions": 0,
    }


def test_times_are_written_as_microtime_with_six_fractional_digits_in_utc() -> None:
    moment = datetime(2026, 12, 2, 2, 3, 4, 120, tzinfo=timezone(timedelta(hours=1)))
    assert format_micro_time(moment) == "2026-12-02T01:03:04.000120Z"


def test_lease_duration_is_written_in_whole_seconds() -> None:
    clock = Clock()
    server = Server(clock)
    Run(candidate("a", clock, lease_duration=2.9, renew_deadline=1.5, retry_period=0.5), server, clock).until_leading()
    assert server.lease is not None and server.lease["spec"]["leaseDurationSeconds"] == 2


def test_a_held_lease_is_taken_only_once_its_duration_has_passed_since_it_was_seen_changing() -> None:
    clock = Clock()
    server = Server(clock)
    server.hold("a", duration=15)
    run = Run(candidate("b", clock), server, clock)
    run.until(lambda c: isinstance(c, NewLeader))
    assert run.core.leader == "a" and not run.core.is_leader
    run.until_leading()
    taken_at = run.commands(UpdateLease)[0][0]
    assert taken_at > 15.0  # first seen at 0: valid until 15 by the local clock
    assert taken_at <= 15.0 + 2.2 * 2.0
    assert server.lease is not None
    spec = server.lease["spec"]
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 4
    assert spec["acquireTime"] == spec["renewTime"] == format_micro_time(EPOCH + timedelta(seconds=taken_at))


def test_remote_timestamps_are_never_compared_with_the_local_clock() -> None:
    """A renewTime decades old (or in the future) says nothing: only when the record last changed
    by the candidate's own clock counts."""
    for renew in ("1970-01-01T00:00:00.000000Z", "2999-01-01T00:00:00.000000Z"):
        clock = Clock(skew=-3600.0)
        server = Server(clock)
        server.hold("a", duration=10, renew=renew)
        run = Run(candidate("b", clock), server, clock)
        run.until_leading()
        assert 10.0 < run.commands(UpdateLease)[0][0] <= 10.0 + 4.4


def test_a_leader_that_keeps_renewing_is_never_displaced() -> None:
    clock = Clock()
    server = Server(clock)
    run = Run(candidate("b", clock), server, clock)
    server.hold("a", duration=15)
    renewals = 0
    for _ in range(200):
        command = run.step()
        if isinstance(command, Sleep) and clock.now - server.writes[-1][0] >= 5:
            server.hold("a", duration=15, renew=format_micro_time(clock.wall()))  # a renews every 5 s
            renewals += 1
    assert renewals > 10
    assert not run.core.leading and run.commands(UpdateLease) == []


def test_renewals_within_one_second_look_unchanged_as_in_client_gos_record_bytes() -> None:
    """client-go compares the record's JSON, whose times keep whole seconds: a renewal in the same
    second does not restart the lease's clock."""
    same_second = LeaderElectionRecord(
        holder_identity="a", lease_duration_seconds=15, renew_time=EPOCH + timedelta(microseconds=100)
    )
    later = LeaderElectionRecord(
        holder_identity="a", lease_duration_seconds=15, renew_time=EPOCH + timedelta(microseconds=900_000)
    )
    next_second = LeaderElectionRecord(
        holder_identity="a", lease_duration_seconds=15, renew_time=EPOCH + timedelta(seconds=1)
    )
    assert same_second.observed_bytes() == later.observed_bytes()
    assert same_second.observed_bytes() != next_second.observed_bytes()


def test_acquire_retries_wait_the_retry_period_jittered_by_1_2() -> None:
    for draw, expected in ((0.0, 2.0), (0.5, 3.2), (0.999, 2.0 * (1 + 1.2 * 0.999))):
        clock = Clock()
        server = Server(clock)
        server.hold("a")
        run = Run(candidate("b", clock, rng=lambda: draw), server, clock)
        run.until(lambda c: isinstance(c, Sleep))
        sleep = run.log[-1][1]
        assert isinstance(sleep, Sleep) and sleep.seconds == pytest.approx(expected)


def test_default_durations_are_client_gos() -> None:
    core = LeaderElectionCore(namespace="ns", name="lock", identity="a")
    assert (core.lease_duration, core.renew_deadline, core.retry_period) == (15.0, 10.0, 2.0)
    assert not core.release_on_cancel
    draws = iter([0.0, 1.0])
    core = LeaderElectionCore(namespace="ns", name="lock", identity="a", rng=lambda: next(draws))
    assert (core.jittered_retry(), core.jittered_retry()) == (2.0, pytest.approx(4.4))


def test_a_released_lease_is_acquired_at_once() -> None:
    clock = Clock()
    server = Server(clock)
    server.hold("", duration=1)
    run = Run(candidate("b", clock), server, clock)
    run.until_leading()
    assert run.commands(Sleep) == []
    assert server.lease is not None and server.lease["spec"]["leaseTransitions"] == 4


# -- renewing ----------------------------------------------------------------------------------


def test_a_leader_renews_every_retry_period_keeping_acquire_time_and_transitions() -> None:
    _clock, server, run = leader("a")
    for _ in range(5):
        run.until(lambda c: isinstance(c, UpdateLease))
    times = [t for t, _ in run.commands(UpdateLease)]
    assert times == [0.0, 2.0, 4.0, 6.0, 8.0]  # the renew loop begins at once, as client-go's
    specs = [spec for _, spec in server.writes]
    assert {s["acquireTime"] for s in specs} == {"2026-12-02T01:00:00.000000Z"}
    assert [s["renewTime"] for s in specs[1:]] == [format_micro_time(EPOCH + timedelta(seconds=t)) for t in times]
    assert {s["leaseTransitions"] for s in specs} == {0}
    # the leader writes from the Lease it last wrote: no GET while renewals succeed
    assert len(run.commands(GetLease)) == 1


def test_a_leader_whose_optimistic_update_conflicts_reads_the_lease_and_renews() -> None:
    _clock, server, run = leader("a")
    assert server.lease is not None
    server.store(copy.deepcopy(server.lease))  # someone wrote the same record: a new resourceVersion
    run.until(lambda c: isinstance(c, UpdateLease))
    run.until(lambda c: isinstance(c, UpdateLease))
    assert run.core.leading
    assert server.lease["spec"]["holderIdentity"] == "a" and server.lease["spec"]["leaseTransitions"] == 0


def test_a_leader_that_sees_another_holder_stops_leading() -> None:
    _clock, server, run = leader("a")
    server.hold("b", duration=15)
    stop = run.until(lambda c: isinstance(c, StoppedLeading))
    assert isinstance(stop, StoppedLeading) and not run.core.leading
    assert new_leaders(run) == ["a", "b"]
    assert server.lease is not None and server.lease["spec"]["holderIdentity"] == "b"


def test_a_renewal_round_retries_every_retry_period_until_the_renew_deadline() -> None:
    clock, server, run = leader("a")
    run.until(lambda c: isinstance(c, Sleep))
    round_start = clock.now
    server.hold("b", duration=15)  # every try now fails at once (held by another)
    run.until(lambda c: isinstance(c, StoppedLeading))
    tries = [t - round_start for t, _ in run.commands(GetLease) if t >= round_start]
    assert tries == [0.0, 2.0, 4.0, 6.0, 8.0]


def test_a_leader_cut_off_from_the_server_stops_leading_before_its_lease_expires_for_others() -> None:
    clock, server, run = leader("a")
    run.until(lambda c: isinstance(c, UpdateLease))
    last_write = server.writes[-1][0]
    server.down = True  # each request hangs until its timeout
    run.until(lambda c: isinstance(c, StoppedLeading))
    stopped = clock.now
    # another candidate saw the last write no earlier than it happened: it waits lease_duration
    assert stopped < last_write + 15.0
    assert stopped <= last_write + 2.0 + 10.0  # retry period, then the renew deadline
    assert not run.core.leading


def test_each_request_of_a_renewal_round_is_bounded_by_what_remains_of_the_deadline() -> None:
    clock, server, run = leader("a")
    run.until(lambda c: isinstance(c, Sleep))
    server.down = True
    start = clock.now
    run.until(lambda c: isinstance(c, StoppedLeading))
    requests = [c for t, c in run.log if t >= start and isinstance(c, (GetLease, UpdateLease))]
    assert requests and sum(c.timeout for c in requests) == pytest.approx(10.0)


def test_a_stop_while_leading_ends_the_plan_without_a_failed_renewal() -> None:
    _clock, server, run = leader("a")
    run.until(lambda c: isinstance(c, Sleep))
    run.core.stop()
    run.until(lambda c: isinstance(c, StoppedLeading))
    assert run.finished
    assert server.lease is not None and server.lease["spec"]["holderIdentity"] == "a"  # no release asked


def test_a_stopped_candidate_that_never_led_ends_without_writing() -> None:
    clock = Clock()
    server = Server(clock)
    server.hold("a")
    run = Run(candidate("b", clock), server, clock)
    run.until(lambda c: isinstance(c, Sleep))
    run.core.stop()
    while not run.finished:
        run.step()
    assert not any(isinstance(c, (StartedLeading, StoppedLeading, UpdateLease)) for _, c in run.log)


# -- releasing ---------------------------------------------------------------------------------


def test_release_on_cancel_writes_an_empty_holder_and_a_one_second_lease_keeping_transitions() -> None:
    clock = Clock()
    server = Server(clock)
    server.hold("old", duration=15, transitions=7)
    clock.now = 100.0
    run = Run(candidate("a", clock, release_on_cancel=True), server, clock)
    run.until_leading()
    run.until(lambda c: isinstance(c, Sleep))
    run.core.stop()
    while not run.finished:
        run.step()
    assert server.lease is not None
    released = format_micro_time(clock.wall())
    assert server.lease["spec"] == {
        "holderIdentity": "",
        "leaseDurationSeconds": 1,
        "acquireTime": released,
        "renewTime": released,
        "leaseTransitions": 8,
    }
    assert [type(c) for _, c in run.log[-3:]] == [StoppedLeading, GetLease, UpdateLease]


def test_release_is_retried_on_conflict() -> None:
    _clock, server, run = leader("a", release_on_cancel=True)
    run.until(lambda c: isinstance(c, Sleep))
    run.core.stop()
    run.until(lambda c: isinstance(c, GetLease))
    assert server.lease is not None
    server.store(copy.deepcopy(server.lease))  # a write between the release's GET and its UPDATE
    while not run.finished:
        run.step()
    assert [type(c) for _, c in run.log[-4:]] == [GetLease, UpdateLease, GetLease, UpdateLease]
    assert server.lease["spec"]["holderIdentity"] == ""


def test_a_leader_that_lost_the_lease_does_not_release_it() -> None:
    _clock, server, run = leader("a", release_on_cancel=True)
    server.hold("b", duration=15)
    while not run.finished:
        run.step()
    assert server.lease is not None and server.lease["spec"]["holderIdentity"] == "b"


def test_a_leader_cut_off_until_another_took_over_does_not_clear_the_new_leaders_lease() -> None:
    _clock, server, run = leader("a", release_on_cancel=True)
    run.until(lambda c: isinstance(c, Sleep))
    server.down = True
    run.until(lambda c: isinstance(c, StoppedLeading))
    server.down = False
    server.hold("b", duration=15)  # b took over while a was cut off
    while not run.finished:
        run.step()
    assert server.lease is not None and server.lease["spec"]["holderIdentity"] == "b"
    assert isinstance(run.log[-1][1], GetLease)


# -- reporting ---------------------------------------------------------------------------------


def test_on_new_leader_is_reported_on_every_observed_holder_change_and_only_then() -> None:
    clock = Clock()
    server = Server(clock)
    server.hold("a", duration=15)
    run = Run(candidate("c", clock), server, clock)
    for holder in ("a", "a", "b", "b", "a"):
        server.hold(holder, duration=15, renew=format_micro_time(clock.wall()))
        run.until(lambda c: isinstance(c, Sleep))
    assert new_leaders(run) == ["a", "b", "a"]


def test_the_master_status_gauge_is_one_while_leading() -> None:
    clock = Clock()
    server = Server(clock)
    registry = CollectorRegistry()
    collector = LeaderElectionCollector()
    registry.register(collector)
    core = candidate("a", clock)
    collector.track(core)

    def status() -> Optional[float]:
        return registry.get_sample_value("leader_election_master_status", {"name": "lock"})

    run = Run(core, server, clock)
    assert status() == 0.0
    run.until_leading()
    assert status() == 1.0
    server.hold("b")
    run.until(lambda c: isinstance(c, StoppedLeading))
    assert status() == 0.0


def test_each_elector_reports_its_master_status_in_the_registry_it_is_given() -> None:
    registry = CollectorRegistry()
    elector = LeaderElector(
        Clientset(Config(server="https://127.0.0.1:1")),
        namespace="ns",
        name="my-lock",
        identity="a",
        on_started_leading=lambda stop: None,
        on_stopped_leading=lambda: None,
        registry=registry,
    )
    assert registry.get_sample_value("leader_election_master_status", {"name": "my-lock"}) == 0.0
    del elector  # tracked weakly: an elector gone is no longer reported
    gc.collect()
    assert registry.get_sample_value("leader_election_master_status", {"name": "my-lock"}) is None


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("durations", "message"),
    [
        ((10.0, 10.0, 2.0), "lease_duration .* must be greater than renew_deadline"),
        ((15.0, 2.4, 2.0), r"renew_deadline .* must be greater than retry_period × 1.2"),
        ((-1.0, -2.0, -3.0), "lease_duration must be greater than zero"),
        ((3.0, 2.0, 0.0), "retry_period must be greater than zero"),
    ],
)
def test_durations_must_satisfy_lease_duration_over_renew_deadline_over_1_2_retry_periods(
    durations: tuple[float, float, float], message: str
) -> None:
    lease_duration, renew_deadline, retry_period = durations
    with pytest.raises(ValueError, match=message):
        LeaderElectionCore(
            namespace="ns",
            name="lock",
            identity="a",
            lease_duration=lease_duration,
            renew_deadline=renew_deadline,
            retry_period=retry_period,
        )


def test_the_identity_and_the_lease_name_must_not_be_empty() -> None:
    with pytest.raises(ValueError, match="identity must not be empty"):
        LeaderElectionCore(namespace="ns", name="lock", identity="")
    with pytest.raises(ValueError, match="namespace and a name"):
        LeaderElectionCore(namespace="ns", name="", identity="a")


def test_on_started_leading_and_on_stopped_leading_are_required() -> None:
    clientset = Clientset(Config(server="https://127.0.0.1:1"))
    with pytest.raises(ValueError, match="on_started_leading is required"):
        LeaderElector(clientset, namespace="ns", name="lock", identity="a", on_stopped_leading=lambda: None)
    with pytest.raises(ValueError, match="on_stopped_leading is required"):
        LeaderElector(clientset, namespace="ns", name="lock", identity="a", on_started_leading=lambda stop: None)
