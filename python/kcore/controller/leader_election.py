"""Leader election over a coordination.k8s.io/v1 Lease: client-go's tools/leaderelection
LeaderElector (v0.37.2), its rules written once as a sans-IO plan that each twin only drives.

    elector = LeaderElector(clientset, namespace="kube-system", name="my-controller",
                            identity=socket.gethostname(),
                            on_started_leading=lambda stop_event: run_controllers(stop_event),
                            on_stopped_leading=lambda: log.info("no longer leading"))
    elector.run()           # blocks until leadership is lost or elector.stop() is called

The plan (``LeaderElectionCore.run``) is a generator of commands — ``GetLease``, ``CreateLease``,
``UpdateLease``, ``Sleep``, ``NewLeader``, ``StartedLeading``, ``StoppedLeading`` — that gets
each request's answer (or has its exception thrown in). ``LeaderElector`` executes the commands
with blocking calls and threads, ``AsyncLeaderElector`` (``kcore.aio.LeaderElector``) with awaits
and tasks; neither knows a rule of the election.

The rules, as client-go's:
- Acquire: try, then wait ``retry_period`` jittered by 1.2 (uniformly in [retry, 2.2 × retry)),
  until the lease is ours. One try: the leader updates from the Lease it last wrote (optimistic,
  refused on a Conflict); otherwise GET the Lease (CREATE it when missing). When the record
  differs from the last one seen (compared as client-go's record bytes, times to the second), the
  LOCAL monotonic time it was seen is remembered; another holder's lease counts as valid until
  that time + its leaseDurationSeconds. Remote timestamps are never compared with the local
  clock, so clock skew between candidates does not matter. A new holder increments
  leaseTransitions and sets acquireTime; a renewing leader keeps both.
- Renew: every ``retry_period`` after a success; a round retries every ``retry_period`` and fails
  once ``renew_deadline`` has passed since it began (each request's timeout is what remains).
  A failed round ends leading: the stop event is set, then (``release_on_cancel``) the lease is
  released, then ``on_stopped_leading`` runs.
- ``on_new_leader(identity)`` runs on every change of the observed holder ("" once released).
- ``on_stopped_leading`` always runs when ``run`` returns, even if it never led.
- Release (``release_on_cancel``): holderIdentity "" and leaseDurationSeconds 1, leaseTransitions
  kept, acquireTime = renewTime = now, retried on Conflict within ``renew_deadline``; an empty
  holder is acquirable by the others at once.

Where kcore differs, and why: client-go cancels an in-flight request when its context ends; a
blocking request cannot be cancelled, so every request of an acquire try is bounded by
``renew_deadline`` too (a stop() is then answered within that time at worst). And when renewing
fails, the stop event is set before the release is written (client-go cancels the leading
context after), so the guarded work is told to stop before anyone else can acquire. And a
release only clears a Lease that still names this candidate: client-go checks only the record it
last observed, so a leader cut off for longer than the lease can, once back, clear the Lease of
the candidate that took over, letting a third one acquire while that one still leads.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Generator, Iterator, Optional, Union

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric

from kcore._plan import Sleep, advance
from kcore._prometheus import PerRegistry
from kcore.clients.clientset import AsyncClientset, Clientset
from kcore.clients.resource import ResourceRequests
from kcore.clients.rest import AsyncRequest, Request
from kcore.controller.lease_lock import LEASES, LeaderElectionRecord, new_lease, updated_lease
from kcore.errors import Conflict, KcoreError, NotFound

log = logging.getLogger("kcore.controller.leader_election")

JITTER_FACTOR = 1.2
"""client-go's JitterFactor: an acquire try waits retry_period × (1 + 1.2 × random())."""

DEFAULT_LEASE_DURATION = 15.0
DEFAULT_RENEW_DEADLINE = 10.0
DEFAULT_RETRY_PERIOD = 2.0

_FAILURES = (KcoreError, TimeoutError, OSError)
"""What a failed request raises: the try fails, as any error fails client-go's."""


# -- commands ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GetLease:
    """GET the Lease; answered with it (NotFound raised if there is none)."""

    timeout: float


@dataclass(frozen=True)
class CreateLease:
    """CREATE this Lease; answered with the Lease the server stored."""

    lease: dict[str, Any]
    timeout: float


@dataclass(frozen=True)
class UpdateLease:
    """UPDATE (PUT) this Lease; answered with the Lease the server stored."""

    lease: dict[str, Any]
    timeout: float


@dataclass(frozen=True)
class NewLeader:
    """Call on_new_leader(identity) without waiting for it."""

    identity: str


@dataclass(frozen=True)
class StartedLeading:
    """Start on_started_leading(stop_event) without waiting for it."""


@dataclass(frozen=True)
class StoppedLeading:
    """Set the stop event: whatever on_started_leading runs must stop."""


Command = Union[GetLease, CreateLease, UpdateLease, Sleep, NewLeader, StartedLeading, StoppedLeading]
Plan = Generator[Command, Any, None]
Try = Generator[Command, Any, bool]


def validate(
    *, namespace: str, name: str, identity: str, lease_duration: float, renew_deadline: float, retry_period: float
) -> None:
    """client-go's NewLeaderElector checks, in its order, as ValueErrors."""
    if lease_duration <= renew_deadline:
        raise ValueError(
            f"lease_duration ({lease_duration} s) must be greater than renew_deadline ({renew_deadline} s)"
        )
    if renew_deadline <= JITTER_FACTOR * retry_period:
        raise ValueError(
            f"renew_deadline ({renew_deadline} s) must be greater than retry_period × {JITTER_FACTOR} "
            f"({retry_period} s × {JITTER_FACTOR} = {retry_period * JITTER_FACTOR:g} s)"
        )
    for label, value in (
        ("lease_duration", lease_duration),
        ("renew_deadline", renew_deadline),
        ("retry_period", retry_period),
    ):
        if value <= 0:
            raise ValueError(f"{label} must be greater than zero; got {value}")
    if not identity:
        raise ValueError("identity must not be empty: it names this candidate in the Lease")
    if not namespace or not name:
        raise ValueError(f"the Lease needs a namespace and a name; got namespace={namespace!r}, name={name!r}")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class LeaderElectionCore:
    """The election of one candidate: what to ask the server and when, what was observed, and
    whether it leads. ``clock`` is the local monotonic clock (observed times), ``wall`` the time
    written into the Lease, ``rng`` the jitter's random source: a test steps all three."""

    def __init__(
        self,
        *,
        namespace: str,
        name: str,
        identity: str,
        lease_duration: float = DEFAULT_LEASE_DURATION,
        renew_deadline: float = DEFAULT_RENEW_DEADLINE,
        retry_period: float = DEFAULT_RETRY_PERIOD,
        release_on_cancel: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = _utc_now,
        rng: Callable[[], float] = random.random,
    ) -> None:
        validate(
            namespace=namespace,
            name=name,
            identity=identity,
            lease_duration=lease_duration,
            renew_deadline=renew_deadline,
            retry_period=retry_period,
        )
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.release_on_cancel = release_on_cancel
        self._clock = clock
        self._wall = wall
        self._rng = rng
        self.observed = LeaderElectionRecord()
        self._observed_bytes: Optional[tuple[Any, ...]] = None
        self._observed_time = float("-inf")  # Go's zero time: no lease observed is valid
        self._reported_leader = ""
        self._lease: Optional[dict[str, Any]] = None
        self.leading = False
        self.stopping = False

    # -- what it observed --------------------------------------------------------------------

    @property
    def leader(self) -> str:
        """The holder of the last record observed ("" for none)."""
        return self.observed.holder_identity

    @property
    def is_leader(self) -> bool:
        """The last record observed names this candidate (client-go's IsLeader)."""
        return self.observed.holder_identity == self.identity

    def lease_valid(self, now: float) -> bool:
        """The observed lease has not expired by the local clock: observed time + its duration."""
        return self._observed_time + self.observed.lease_duration_seconds > now

    def _observe(self, record: LeaderElectionRecord) -> None:
        self.observed = record
        self._observed_time = self._clock()

    def stop(self) -> None:
        """The plan ends at its next step (a Sleep is cut short by the driver)."""
        self.stopping = True

    # -- the plan ----------------------------------------------------------------------------

    def run(self) -> Plan:
        """The whole election: acquire, lead while renewing, then stop leading (and release)."""
        if not (yield from self._acquire()):
            return
        yield StartedLeading()
        yield from self._renew()
        self.leading = False
        yield StoppedLeading()
        if self.release_on_cancel:
            yield from self._release()

    def jittered_retry(self) -> float:
        """client-go's wait.Jitter(retry_period, 1.2): in [retry_period, 2.2 × retry_period)."""
        return self.retry_period * (1 + JITTER_FACTOR * self._rng())

    def _acquire(self) -> Try:
        log.info("attempting to acquire leader lease %s/%s", self.namespace, self.name)
        while not self.stopping:
            succeeded = yield from self.try_acquire_or_renew(self._clock() + self.renew_deadline)
            yield from self._report_transition()
            if succeeded:
                self.leading = True
                log.info("%s acquired lease %s/%s", self.identity, self.namespace, self.name)
                return True
            yield Sleep(self.jittered_retry())
        return False

    def _renew(self) -> Plan:
        while not self.stopping:
            renewed = yield from self._renew_round()
            yield from self._report_transition()
            if not renewed:
                if not self.stopping:
                    log.info(
                        "%s failed to renew lease %s/%s within %s s",
                        self.identity,
                        self.namespace,
                        self.name,
                        self.renew_deadline,
                    )
                return
            yield Sleep(self.retry_period)

    def _renew_round(self) -> Try:
        """client-go's PollUntilContextTimeout(retry_period, renew_deadline, immediate): a try at
        once, then on each tick (ticks retry_period apart, not sliding) until the deadline."""
        started = self._clock()
        deadline = started + self.renew_deadline
        tick = started
        while not self.stopping:
            if (yield from self.try_acquire_or_renew(deadline)):
                return True
            tick = max(tick + self.retry_period, self._clock())  # the next tick, or now if overdue
            if tick >= deadline:
                return False
            wait = tick - self._clock()
            if wait > 0:
                yield Sleep(wait)
            if self._clock() >= deadline:
                return False
        return False

    def _report_transition(self) -> Plan:
        if self.observed.holder_identity != self._reported_leader:
            self._reported_leader = self.observed.holder_identity
            yield NewLeader(self._reported_leader)

    def _desired(self, now: datetime, acquire_time: Optional[datetime], transitions: int) -> LeaderElectionRecord:
        return LeaderElectionRecord(
            holder_identity=self.identity,
            lease_duration_seconds=int(self.lease_duration),
            acquire_time=acquire_time or now,
            renew_time=now,
            leader_transitions=transitions,
        )

    def try_acquire_or_renew(self, deadline: float) -> Try:
        """One try (client-go's tryAcquireOrRenew); every request ends by ``deadline``."""
        now_local = self._clock()
        now = self._wall()
        if self.is_leader and self.lease_valid(now_local) and self._lease is not None:
            record = self._desired(now, self.observed.acquire_time, self.observed.leader_transitions)
            try:
                self._lease = yield UpdateLease(updated_lease(self._lease, record), deadline - self._clock())
                self._observe(record)
                return True
            except _FAILURES as error:
                log.debug("optimistic renewal of %s/%s failed, reading the lease: %s", self.namespace, self.name, error)
        if self._clock() >= deadline:
            return False
        try:
            lease = yield GetLease(deadline - self._clock())
        except NotFound:
            record = self._desired(now, None, 0)
            try:
                self._lease = yield CreateLease(new_lease(self.namespace, self.name, record), deadline - self._clock())
            except _FAILURES as error:
                log.warning("creating lease %s/%s failed: %s", self.namespace, self.name, error)
                return False
            self._observe(record)
            return True
        except _FAILURES as error:
            log.warning("reading lease %s/%s failed: %s", self.namespace, self.name, error)
            return False
        self._lease = lease
        current = LeaderElectionRecord.from_lease(lease)
        if current.observed_bytes() != self._observed_bytes:
            self._observe(current)
            self._observed_bytes = current.observed_bytes()
        if current.holder_identity and self.lease_valid(now_local) and not self.is_leader:
            return False  # held by another, and not expired by our clock
        if self.is_leader:
            record = self._desired(now, current.acquire_time, current.leader_transitions)
        else:
            record = self._desired(now, None, current.leader_transitions + 1)
        if self._clock() >= deadline:
            return False
        try:
            self._lease = yield UpdateLease(updated_lease(lease, record), deadline - self._clock())
        except _FAILURES as error:
            log.info("updating lease %s/%s failed: %s", self.namespace, self.name, error)
            return False
        self._observe(record)
        return True

    def _release(self) -> Try:
        """client-go's release: step down if the last record observed names us."""
        deadline = self._clock() + self.renew_deadline
        while self._clock() < deadline:
            try:
                lease = yield GetLease(deadline - self._clock())
            except _FAILURES as error:
                log.warning("releasing lease %s/%s: reading it failed: %s", self.namespace, self.name, error)
                return False
            self._lease = lease
            if not self.is_leader or LeaderElectionRecord.from_lease(lease).holder_identity != self.identity:
                return True  # not ours (any more): nothing to release
            now = self._wall()
            record = LeaderElectionRecord(
                lease_duration_seconds=1,
                acquire_time=now,
                renew_time=now,
                leader_transitions=LeaderElectionRecord.from_lease(lease).leader_transitions,
            )
            try:
                self._lease = yield UpdateLease(updated_lease(lease, record), deadline - self._clock())
            except Conflict:
                continue
            except _FAILURES as error:
                log.warning("releasing lease %s/%s failed: %s", self.namespace, self.name, error)
                return False
            self._observe(record)
            return True
        return False


# -- metrics -----------------------------------------------------------------------------------


class LeaderElectionCollector:
    """``leader_election_master_status{name}``: 1 while the candidate leads, else 0 (client-go's
    leader metric as controller-runtime exports it; ``name`` is the Lease's)."""

    def __init__(self) -> None:
        self._cores: "weakref.WeakSet[LeaderElectionCore]" = weakref.WeakSet()
        self._lock = threading.Lock()

    def track(self, core: LeaderElectionCore) -> None:
        with self._lock:
            self._cores.add(core)

    def describe(self) -> Iterator[Metric]:
        return iter([self._family([])])

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            cores = sorted(self._cores, key=lambda c: c.name)
        return iter([self._family(cores)])

    @staticmethod
    def _family(cores: list[LeaderElectionCore]) -> Metric:
        status = GaugeMetricFamily(
            "leader_election_master_status",
            "Gauge of if the reporting system is master of the relevant lease, 0 indicates "
            "backup, 1 indicates master. 'name' is the string used to identify the lease. "
            "Please make sure to group by name.",
            labels=["name"],
        )
        for core in cores:
            status.add_metric([core.name], 1.0 if core.leading else 0.0)
        return status


_collectors = PerRegistry(LeaderElectionCollector)


# -- drivers -----------------------------------------------------------------------------------


def lease_request(
    requests: ResourceRequests[Any], name: str, command: Union[GetLease, CreateLease, UpdateLease]
) -> Any:
    """The request of a Lease command, for either twin to send."""
    if isinstance(command, GetLease):
        request = requests.get(name, None)
    elif isinstance(command, CreateLease):
        request = requests.create(command.lease, False, None)
    else:
        request = requests.update(command.lease, None, False, None)
    return request.timeout(max(command.timeout, 0.001))


class _ElectorBase:
    """What both twins keep: the core, the Lease's requests, the callbacks."""

    def __init__(
        self,
        rest: Any,
        *,
        namespace: str,
        name: str,
        identity: str,
        lease_duration: float,
        renew_deadline: float,
        retry_period: float,
        release_on_cancel: bool,
        on_started_leading: Optional[Callable[..., Any]],
        on_stopped_leading: Optional[Callable[[], Any]],
        on_new_leader: Optional[Callable[[str], Any]],
        registry: Optional[CollectorRegistry],
    ) -> None:
        self._core = LeaderElectionCore(
            namespace=namespace,
            name=name,
            identity=identity,
            lease_duration=lease_duration,
            renew_deadline=renew_deadline,
            retry_period=retry_period,
            release_on_cancel=release_on_cancel,
        )
        if on_started_leading is None:
            raise ValueError("on_started_leading is required: it runs the work only the leader may do")
        if on_stopped_leading is None:
            raise ValueError("on_stopped_leading is required: it runs when leading ends (or never began)")
        self._requests: ResourceRequests[Any] = ResourceRequests(rest, LEASES, namespace)
        self.on_started_leading: Callable[..., Any] = on_started_leading
        self.on_stopped_leading: Callable[[], Any] = on_stopped_leading
        self.on_new_leader = on_new_leader
        self._ran = False
        _collectors.collector(registry).track(self._core)

    @property
    def identity(self) -> str:
        return self._core.identity

    @property
    def leader(self) -> str:
        """The holder last observed ("" for none): client-go's GetLeader."""
        return self._core.leader

    @property
    def is_leader(self) -> bool:
        """The last record observed names this candidate: client-go's IsLeader."""
        return self._core.is_leader

    @property
    def leading(self) -> bool:
        """Between acquiring and the end of leading (what the metric reports)."""
        return self._core.leading

    def _start_run(self) -> Plan:
        if self._ran:
            raise RuntimeError("a LeaderElector runs once; make a new one to stand again")
        self._ran = True
        return self._core.run()


def _log_failure(what: str) -> Callable[[Any], None]:
    def done(outcome: Any) -> None:
        if isinstance(outcome, asyncio.Task):
            if outcome.cancelled() or outcome.exception() is None:
                return
            error: Optional[BaseException] = outcome.exception()
        else:
            error = outcome
        log.error("leader election: %s raised", what, exc_info=error)

    return done


class LeaderElector(_ElectorBase):
    """A candidate for one Lease, blocking. ``run()`` blocks; ``stop()`` (from any thread or a
    signal handler) ends it. ``on_started_leading(stop_event)`` runs on a thread of its own with
    a ``threading.Event`` set when leading ends; ``on_new_leader`` runs on the election's
    thread: keep it quick."""

    def __init__(
        self,
        clientset: Clientset,
        *,
        namespace: str,
        name: str,
        identity: str,
        lease_duration: float = DEFAULT_LEASE_DURATION,
        renew_deadline: float = DEFAULT_RENEW_DEADLINE,
        retry_period: float = DEFAULT_RETRY_PERIOD,
        release_on_cancel: bool = False,
        on_started_leading: Optional[Callable[[threading.Event], Any]] = None,
        on_stopped_leading: Optional[Callable[[], Any]] = None,
        on_new_leader: Optional[Callable[[str], Any]] = None,
        registry: Optional[CollectorRegistry] = None,
    ) -> None:
        super().__init__(
            clientset.coordination_v1.rest_client,
            namespace=namespace,
            name=name,
            identity=identity,
            lease_duration=lease_duration,
            renew_deadline=renew_deadline,
            retry_period=retry_period,
            release_on_cancel=release_on_cancel,
            on_started_leading=on_started_leading,
            on_stopped_leading=on_stopped_leading,
            on_new_leader=on_new_leader,
            registry=registry,
        )
        self.stop_event = threading.Event()
        self._wake = threading.Event()
        self._runner: Optional[threading.Thread] = None

    def stop(self) -> None:
        """End the election: stop leading (and release), or stop trying to acquire."""
        self._core.stop()
        if threading.current_thread() is self._runner:
            # maybe a signal handler interrupting run(): Event.set could wait on a lock run() holds
            threading.Thread(target=self._stopped, daemon=True).start()
        else:
            self._stopped()

    def _stopped(self) -> None:
        if self._core.leading:
            self.stop_event.set()  # as client-go's leading context ends with its parent's
        self._wake.set()

    def run(self) -> None:
        """Stand for election until leadership is lost or stop() is called; on_stopped_leading
        has run when this returns."""
        plan = self._start_run()
        self._runner = threading.current_thread()
        answer: Any = None
        error: Optional[BaseException] = None
        try:
            while (command := advance(plan, answer, error)) is not None:
                answer, error = None, None
                try:
                    answer = self._execute(command)
                except _FAILURES as exc:
                    error = exc
        finally:
            plan.close()
            self._core.leading = False
            self.stop_event.set()
            self.on_stopped_leading()

    def _execute(self, command: Command) -> Any:
        if isinstance(command, (GetLease, CreateLease, UpdateLease)):
            request: Request = lease_request(self._requests, self._core.name, command)
            return request.do()
        if isinstance(command, Sleep):
            self._wake.wait(command.seconds)
        elif isinstance(command, NewLeader):
            if self.on_new_leader is not None:
                try:
                    self.on_new_leader(command.identity)
                except Exception as exc:
                    _log_failure("on_new_leader")(exc)
        elif isinstance(command, StartedLeading):
            if self._core.stopping:
                self.stop_event.set()
            threading.Thread(target=self._lead, name=f"leading {self._core.name}", daemon=True).start()
        elif isinstance(command, StoppedLeading):
            self.stop_event.set()
        return None

    def _lead(self) -> None:
        try:
            self.on_started_leading(self.stop_event)
        except Exception as exc:
            _log_failure("on_started_leading")(exc)


AsyncCallback = Callable[..., Union[Any, Awaitable[Any]]]


class AsyncLeaderElector(_ElectorBase):
    """The asyncio twin of LeaderElector: ``await elector.run()``. Callbacks may be plain or
    coroutine functions; ``on_started_leading(stop_event)`` gets an ``asyncio.Event`` and, if it
    is a coroutine function, runs as a task; ``on_stopped_leading`` is awaited before run
    returns; ``on_new_leader`` coroutines run as tasks. ``stop()`` is safe from any thread and
    from a signal handler."""

    def __init__(
        self,
        clientset: AsyncClientset,
        *,
        namespace: str,
        name: str,
        identity: str,
        lease_duration: float = DEFAULT_LEASE_DURATION,
        renew_deadline: float = DEFAULT_RENEW_DEADLINE,
        retry_period: float = DEFAULT_RETRY_PERIOD,
        release_on_cancel: bool = False,
        on_started_leading: Optional[AsyncCallback] = None,
        on_stopped_leading: Optional[AsyncCallback] = None,
        on_new_leader: Optional[AsyncCallback] = None,
        registry: Optional[CollectorRegistry] = None,
    ) -> None:
        super().__init__(
            clientset.coordination_v1.rest_client,
            namespace=namespace,
            name=name,
            identity=identity,
            lease_duration=lease_duration,
            renew_deadline=renew_deadline,
            retry_period=retry_period,
            release_on_cancel=release_on_cancel,
            on_started_leading=on_started_leading,
            on_stopped_leading=on_stopped_leading,
            on_new_leader=on_new_leader,
            registry=registry,
        )
        self.stop_event = asyncio.Event()
        self._wake = asyncio.Event()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def stop(self) -> None:
        """End the election: stop leading (and release), or stop trying to acquire."""
        self._core.stop()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stopped)

    def _stopped(self) -> None:
        if self._core.leading:
            self.stop_event.set()
        self._wake.set()

    async def run(self) -> None:
        """Stand for election until leadership is lost or stop() is called; on_stopped_leading
        has run (and been awaited) when this returns."""
        plan = self._start_run()
        self._loop = asyncio.get_running_loop()
        if self._core.stopping:
            self._wake.set()
        answer: Any = None
        error: Optional[BaseException] = None
        try:
            while (command := advance(plan, answer, error)) is not None:
                answer, error = None, None
                try:
                    answer = await self._execute(command)
                except _FAILURES as exc:
                    error = exc
        finally:
            plan.close()
            self._core.leading = False
            self.stop_event.set()
            result = self.on_stopped_leading()
            if inspect.isawaitable(result):
                await result

    async def _execute(self, command: Command) -> Any:
        if isinstance(command, (GetLease, CreateLease, UpdateLease)):
            request: AsyncRequest = lease_request(self._requests, self._core.name, command)
            return await request.do()
        if isinstance(command, Sleep):
            try:
                await asyncio.wait_for(self._wake.wait(), command.seconds)
            except asyncio.TimeoutError:
                pass
        elif isinstance(command, NewLeader):
            if self.on_new_leader is not None:
                self._call("on_new_leader", self.on_new_leader, command.identity)
        elif isinstance(command, StartedLeading):
            if self._core.stopping:
                self.stop_event.set()
            self._call("on_started_leading", self.on_started_leading, self.stop_event)
        elif isinstance(command, StoppedLeading):
            self.stop_event.set()
        return None

    def _call(self, what: str, callback: AsyncCallback, argument: Any) -> None:
        """Call ``callback``; a coroutine it returns runs as a task (kept until done)."""
        try:
            result = callback(argument)
        except Exception as exc:
            _log_failure(what)(exc)
            return
        if inspect.isawaitable(result):
            task: asyncio.Task[Any] = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(_log_failure(what))
