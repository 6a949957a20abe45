"""The manager: one Clientset, one SharedInformerFactory, the controllers, optional leader
election, metrics and health probes over HTTP, and a graceful shutdown on SIGTERM
(controller-runtime's pkg/manager).

    manager = Manager(config, namespace="web", leader_election=LeaderElectionOptions("web", "mirror"))
    configmaps = manager.informers.core_v1.configmaps()
    manager.controller("mirror", reconcile, workers=4).for_(configmaps)
    manager.run()       # until SIGTERM / SIGINT / manager.stop()

``run()``, as controller-runtime's Start:
1. the HTTP servers start: ``/metrics`` (prometheus-client, the manager's registry) and the
   probes ``/healthz`` (passes while the manager runs, plus the checks added) and ``/readyz``
   (passes once every informer has synced, plus the checks added);
2. the caches start, on every replica: the factory's informers and every controller's;
3. the controllers start: at once without leader election; with it, only once this replica
   leads the Lease. Losing the lease ends ``run()`` with LeaderElectionLost ("leader election
   lost"), without waiting for the reconciles (controller-runtime skips the graceful shutdown
   too: another replica may already be leading);
4. on ``stop()``, SIGTERM or SIGINT (handlers installed only when ``run`` is called from the
   main thread, and only if ``handle_signals``; a second signal exits at once with status 1),
   or when a controller fails to start: the controllers stop taking keys and their in-flight
   reconciles finish, within ``graceful_shutdown_timeout`` seconds (GracefulShutdownTimeout
   raised past it; None waits as long as they take); the informers stop; the lease is released
   if ``release_on_cancel``; the HTTP servers stop.

The order of those steps is written once, as a plan (``ManagerCore.plan``) of steps that the
blocking ``Manager`` and ``kcore.aio.Manager`` each only carry out, with threads or with tasks.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Generic, Optional, TypeVar, Union

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

from kcore._plan import advance
from kcore.clients import metrics as rest_client_metrics
from kcore.clients.clientset import AsyncClientset, Clientset
from kcore.config import Config
from kcore.controller import leader_election
from kcore.controller.controller import AsyncController, Controller
from kcore.controller.health import Check, ProbeServer
from kcore.controller.leader_election import AsyncLeaderElector, LeaderElector
from kcore.errors import KcoreError
from kcore.informer.factory import AsyncSharedInformerFactory, SharedInformerFactory

log = logging.getLogger("kcore.controller.manager")

GRACEFUL_SHUTDOWN_TIMEOUT = 30.0
"""controller-runtime's default: how long in-flight reconciles may take to finish on stop."""

Address = Union[tuple[str, int], int, None]
"""Where a server listens: (host, port), a port alone (all interfaces, as Go's ":8080"), or
None for no server. Port 0 picks a free port (read it back from the manager)."""

C = TypeVar("C", Controller, AsyncController)
F = TypeVar("F", SharedInformerFactory, AsyncSharedInformerFactory)


def default_identity() -> str:
    """controller-runtime's identity of a candidate: ``<hostname>_<random uuid>``."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


@dataclass(frozen=True)
class LeaderElectionOptions:
    """The Lease the replicas of a manager elect their leader on (namespace/name), and
    client-go's timings (kcore.controller.LeaderElector)."""

    namespace: str
    name: str
    identity: str = field(default_factory=default_identity)
    lease_duration: float = leader_election.DEFAULT_LEASE_DURATION
    renew_deadline: float = leader_election.DEFAULT_RENEW_DEADLINE
    retry_period: float = leader_election.DEFAULT_RETRY_PERIOD
    release_on_cancel: bool = False

    def __post_init__(self) -> None:
        arguments = self.elector_arguments()
        del arguments["release_on_cancel"]  # any value is valid
        leader_election.validate(**arguments)

    def elector_arguments(self) -> dict[str, Any]:
        """The LeaderElector (or AsyncLeaderElector) keyword arguments these options stand for."""
        return dict(
            namespace=self.namespace,
            name=self.name,
            identity=self.identity,
            lease_duration=self.lease_duration,
            renew_deadline=self.renew_deadline,
            retry_period=self.retry_period,
            release_on_cancel=self.release_on_cancel,
        )


class LeaderElectionLost(KcoreError, RuntimeError):
    """This replica stopped leading without being asked to: it must exit (controller-runtime's
    "leader election lost")."""


class GracefulShutdownTimeout(KcoreError, TimeoutError):
    """Reconciles were still running when graceful_shutdown_timeout expired."""


def _address(address: Address) -> Optional[tuple[str, int]]:
    if address is None:
        return None
    if isinstance(address, int):
        return ("", address)
    return (address[0], int(address[1]))


# -- the plan's steps --------------------------------------------------------------------------


@dataclass(frozen=True)
class StartElector:
    """Stand for the Lease in the background; the controllers start once leading."""


@dataclass(frozen=True)
class WaitForStop:
    """Block until stop(), a signal, or a failure."""


@dataclass(frozen=True)
class StopControllers:
    """Stop the controllers; answered with whether every in-flight reconcile finished within
    ``timeout`` seconds (None: no bound)."""

    timeout: Optional[float]


@dataclass(frozen=True)
class StopCaches:
    """Shut the factory down."""


@dataclass(frozen=True)
class StopElector:
    """End the election (releasing the lease if so configured) and wait for it to end."""


Step = Union[StartElector, WaitForStop, StopControllers, StopCaches, StopElector]


class ManagerCore(Generic[C, F]):
    """What both twins share: options, controllers, health checks, HTTP servers, the state of
    the run and its plan."""

    def __init__(
        self,
        config: Config,
        clientset: Any,
        factory: F,
        *,
        namespace: Optional[str],
        leader_election: Optional[LeaderElectionOptions],
        metrics_address: Address,
        health_address: Address,
        graceful_shutdown_timeout: Optional[float],
        registry: Optional[CollectorRegistry],
    ) -> None:
        self.config = config
        self.clientset = clientset
        self.factory: F = factory
        self.namespace = namespace
        self.leader_election = leader_election
        self.graceful_shutdown_timeout = graceful_shutdown_timeout
        self.registry = REGISTRY if registry is None else registry
        rest_client_metrics.register(self.registry)
        self._metrics_option = _address(metrics_address)
        self._health_option = _address(health_address)
        self.controllers: list[C] = []
        self._checks: dict[str, dict[str, Check]] = {
            "healthz": {"ping": lambda: True},
            "readyz": {"informers": self._informers_synced},
        }
        self._lock = threading.Lock()
        self._probes: Optional[ProbeServer] = None
        self._metrics: Optional[Any] = None
        self.started = False
        self.stopping = False
        self.leading = False
        self.error: Optional[BaseException] = None
        self._lost = False
        self._controllers_started = False
        self._signalled = False
        self.wake: Callable[[], None] = lambda: None
        """Set by the twin: wakes its WaitForStop (safe from any thread)."""

    @property
    def informers(self) -> F:
        """The manager's SharedInformerFactory (also ``factory``)."""
        return self.factory

    # -- building -----------------------------------------------------------------------------

    def add(self, controller: C) -> C:
        """Run ``controller`` with the manager (on the leader only, with leader election)."""
        with self._lock:
            if self.started:
                raise RuntimeError(f"add {controller.name!r}: the manager is already running; add controllers before")
            if any(c.name == controller.name for c in self.controllers):
                raise ValueError(f"a controller named {controller.name!r} was already added: names label metrics")
            self.controllers.append(controller)
        return controller

    def add_healthz_check(self, name: str, check: Check) -> None:
        """A check ``/healthz`` runs too (controller-runtime's AddHealthzCheck)."""
        self._add_check("healthz", name, check)

    def add_readyz_check(self, name: str, check: Check) -> None:
        """A check ``/readyz`` runs too (controller-runtime's AddReadyzCheck)."""
        self._add_check("readyz", name, check)

    def _add_check(self, endpoint: str, name: str, check: Check) -> None:
        if not name or "/" in name:
            raise ValueError(f"a {endpoint} check needs a name without '/', not {name!r}")
        with self._lock:
            if name in self._checks[endpoint]:
                raise ValueError(f"a {endpoint} check named {name!r} already exists")
            self._checks[endpoint][name] = check

    def checks(self, endpoint: str) -> Optional[dict[str, Check]]:
        with self._lock:
            found = self._checks.get(endpoint)
            return None if found is None else dict(found)

    # -- state ----------------------------------------------------------------------------------

    def all_informers(self) -> list[Any]:
        """The factory's informers and every controller's, each once."""
        found: dict[int, Any] = {id(i): i for i in self.factory.informers()}
        for controller in self.controllers:
            for informer in controller.informers():
                found.setdefault(id(informer), informer)
        return list(found.values())

    def _informers_synced(self) -> bool:
        unsynced = sorted(i.resource for i in self.all_informers() if not i.has_synced())
        if unsynced:
            raise RuntimeError(f"informers not synced: {', '.join(unsynced)}")
        return self.started

    @property
    def metrics_address(self) -> Optional[tuple[str, int]]:
        """Where /metrics is served (the port chosen when 0 was asked, once running)."""
        if self._metrics is not None:
            host, port = self._metrics[0].server_address[:2]
            return str(host), int(port)
        return self._metrics_option

    @property
    def health_address(self) -> Optional[tuple[str, int]]:
        """Where /healthz and /readyz are served (the port chosen when 0 was asked, once running)."""
        return self._probes.address if self._probes is not None else self._health_option

    def fail(self, error: BaseException) -> None:
        """A runnable failed: the manager stops, and ``run`` raises the first such error."""
        with self._lock:
            if self.error is None and not self.stopping:
                self.error = error
        log.error("manager: %s", error)
        self.wake()

    def may_start_controllers(self) -> bool:
        """Once, and never once stopping (a replica elected while shutting down starts nothing)."""
        with self._lock:
            if self.stopping or self._controllers_started:
                return False
            self._controllers_started = True
            return True

    def on_started_leading(self, stop_event: Any) -> None:
        """The elector's on_started_leading: start the controllers (unless stopping). They stop
        with the manager; losing the lease ends the manager (on_stopped_leading)."""
        log.info("manager: leading; starting the controllers")
        self.leading = True
        if self.may_start_controllers():
            self.start_controllers()

    def on_stopped_leading(self) -> None:
        """The elector's on_stopped_leading: unless stopping, leadership was lost."""
        self.leading = False
        with self._lock:
            if self.stopping:
                return
            self._lost = True
        self.fail(LeaderElectionLost("leader election lost"))

    def request_stop(self) -> None:
        with self._lock:
            self.stopping = True
        self.wake()

    # -- the run ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Begin the graceful shutdown (each twin wakes its own wait)."""
        raise NotImplementedError

    def on_signal(self, signum: int) -> None:
        """SIGTERM or SIGINT: the first begins the graceful shutdown, a second exits at once with
        status 1 (controller-runtime's SetupSignalHandler)."""
        if self._signalled:
            os._exit(1)
        self._signalled = True
        log.info("manager: got signal %d, shutting down (again to exit at once)", signum)
        self.stop()

    def start_controllers(self) -> None:
        """Start every controller (each waits for its caches) without waiting for them: the
        twin's threads or tasks."""
        raise NotImplementedError

    def start_caches(self) -> None:
        """Start the factory (and every informer it makes later) and each controller's informers."""
        self.factory.start()
        for informer in self.all_informers():
            informer.start()

    def plan(self) -> Generator[Step, Any, None]:
        """controller-runtime's Start and engageStopProcedure, as steps for a twin to carry out."""
        with self._lock:
            if self.started:
                raise RuntimeError("a manager runs once")
            self.started = True
        drained = True
        try:
            self._serve()
            try:
                self.start_caches()
                if self.leader_election is not None:
                    yield StartElector()
                elif self.may_start_controllers():
                    self.start_controllers()
                yield WaitForStop()
            except Exception as error:
                self.fail(error)
            with self._lock:
                self.stopping = True
                timeout = 0.0 if self._lost else self.graceful_shutdown_timeout
            log.info("manager: stopping the controllers (in-flight reconciles finish)")
            drained = yield StopControllers(timeout)
            yield StopCaches()
            if self.leader_election is not None:
                yield StopElector()
        finally:
            self._close_servers()
        if self.error is not None:
            raise self.error
        if not drained:
            raise GracefulShutdownTimeout(
                f"reconciles still running after the graceful shutdown timeout of {self.graceful_shutdown_timeout} s"
            )

    def _serve(self) -> None:
        if self._health_option is not None:
            self._probes = ProbeServer(self._health_option, self.checks)
            log.info("manager: serving /healthz and /readyz on %s:%d", *self._probes.address)
        if self._metrics_option is not None:
            host, port = self._metrics_option
            self._metrics = start_http_server(port, host, self.registry)
            log.info("manager: serving /metrics on %s:%d", *self.metrics_address)  # type: ignore[misc]

    def _close_servers(self) -> None:
        if self._metrics is not None:
            server, thread = self._metrics
            server.shutdown()
            server.server_close()
            thread.join()
        if self._probes is not None:
            self._probes.close()

    def elector_options(self) -> dict[str, Any]:
        options = self.leader_election
        assert options is not None
        return {**options.elector_arguments(), "registry": self.registry}


class Manager(ManagerCore[Controller, SharedInformerFactory]):
    """The blocking manager: controllers as threads, ``run()`` blocks.

    ``namespace``: the factory's (None: every namespace). ``leader_election``: a
    LeaderElectionOptions, or None to run the controllers on every replica. ``metrics_address``
    and ``health_address``: (host, port), a port, or None for no server; port 0 picks one
    (``manager.metrics_address`` / ``health_address`` tell which once running).
    ``registry``: the prometheus-client registry of the metrics (and of the controllers made by
    ``controller()``); default REGISTRY.
    """

    def __init__(
        self,
        config: Config,
        *,
        namespace: Optional[str] = None,
        leader_election: Optional[LeaderElectionOptions] = None,
        metrics_address: Address = ("127.0.0.1", 8080),
        health_address: Address = ("127.0.0.1", 8081),
        graceful_shutdown_timeout: Optional[float] = GRACEFUL_SHUTDOWN_TIMEOUT,
        registry: Optional[CollectorRegistry] = None,
    ) -> None:
        clientset = Clientset(config)
        super().__init__(
            config,
            clientset,
            SharedInformerFactory(clientset, namespace=namespace),
            namespace=namespace,
            leader_election=leader_election,
            metrics_address=metrics_address,
            health_address=health_address,
            graceful_shutdown_timeout=graceful_shutdown_timeout,
            registry=registry,
        )
        self.clientset: Clientset = clientset
        self._stop = threading.Event()
        self.wake = self._stop.set
        self._elector: Optional[LeaderElector] = None
        self._elector_thread: Optional[threading.Thread] = None

    def controller(self, name: str, reconcile: Callable[[str], Any], **options: Any) -> Controller:
        """A Controller reporting to the manager's registry, added to the manager; feed it with
        ``for_`` / ``owns`` / ``watches`` on ``manager.informers``."""
        options.setdefault("registry", self.registry)
        return self.add(Controller(name, reconcile, **options))

    def stop(self) -> None:
        """Begin the graceful shutdown; ``run`` returns once it is done. Safe from any thread
        and from a signal handler."""
        with self._lock:
            self.stopping = True
        if threading.current_thread() is threading.main_thread():
            # maybe a signal handler interrupting run()'s wait: Event.set could need a lock it holds
            threading.Thread(target=self._stop.set, daemon=True).start()
        else:
            self._stop.set()

    def run(self, *, handle_signals: bool = True) -> None:
        """Run until stop(), SIGTERM or SIGINT, then shut down gracefully. Raises
        LeaderElectionLost, GracefulShutdownTimeout, or whatever made a controller fail to start."""
        plan = self.plan()
        restore = self._install_signals() if handle_signals else None
        try:
            answer: Any = None
            error: Optional[BaseException] = None
            while (step := advance(plan, answer, error)) is not None:
                answer, error = None, None
                try:
                    answer = self._execute(step)
                except Exception as exc:
                    error = exc
        finally:
            plan.close()
            if restore is not None:
                restore()

    def _install_signals(self) -> Optional[Callable[[], None]]:
        if threading.current_thread() is not threading.main_thread():
            return None
        previous = {
            sig: signal.signal(sig, lambda signum, frame: self.on_signal(signum))
            for sig in (signal.SIGTERM, signal.SIGINT)
        }

        def restore() -> None:
            for sig, old in previous.items():
                signal.signal(sig, old)

        return restore

    def _execute(self, step: Step) -> Any:
        if isinstance(step, StartElector):
            self._elector = LeaderElector(
                self.clientset,
                on_started_leading=self.on_started_leading,
                on_stopped_leading=self.on_stopped_leading,
                **self.elector_options(),
            )
            self._elector_thread = threading.Thread(
                target=self._elector.run, name="manager-leader-election", daemon=True
            )
            self._elector_thread.start()
        elif isinstance(step, WaitForStop):
            self._stop.wait()
        elif isinstance(step, StopControllers):
            return self._stop_controllers(step.timeout)
        elif isinstance(step, StopCaches):
            self.factory.shutdown()
        elif isinstance(step, StopElector):
            assert self._elector is not None and self._elector_thread is not None
            self._elector.stop()
            self._elector_thread.join()
        return None

    def start_controllers(self) -> None:
        for controller in self.controllers:
            threading.Thread(
                target=self._start_one, args=(controller,), name=f"start-{controller.name}", daemon=True
            ).start()

    def _start_one(self, controller: Controller) -> None:
        try:
            controller.start()
        except Exception as error:
            self.fail(error)

    def _stop_controllers(self, timeout: Optional[float]) -> bool:
        threads = [threading.Thread(target=c.stop, name=f"stop-{c.name}", daemon=True) for c in self.controllers]
        for thread in threads:
            thread.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in threads)


class AsyncManager(ManagerCore[AsyncController, AsyncSharedInformerFactory]):
    """The asyncio twin (``kcore.aio.Manager``): ``await manager.run()``; controllers are
    ``kcore.aio.Controller``s on the event loop, informers the asyncio factory's. The same
    options, plan, probes and metrics servers as Manager."""

    def __init__(
        self,
        config: Config,
        *,
        namespace: Optional[str] = None,
        leader_election: Optional[LeaderElectionOptions] = None,
        metrics_address: Address = ("127.0.0.1", 8080),
        health_address: Address = ("127.0.0.1", 8081),
        graceful_shutdown_timeout: Optional[float] = GRACEFUL_SHUTDOWN_TIMEOUT,
        registry: Optional[CollectorRegistry] = None,
    ) -> None:
        clientset = AsyncClientset(config)
        super().__init__(
            config,
            clientset,
            AsyncSharedInformerFactory(clientset, namespace=namespace),
            namespace=namespace,
            leader_election=leader_election,
            metrics_address=metrics_address,
            health_address=health_address,
            graceful_shutdown_timeout=graceful_shutdown_timeout,
            registry=registry,
        )
        self.clientset: AsyncClientset = clientset
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stop: Optional[asyncio.Event] = None
        self.wake = self._wake
        self._elector: Optional[AsyncLeaderElector] = None
        self._elector_task: Optional[asyncio.Task[None]] = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def controller(self, name: str, reconcile: Callable[[str], Any], **options: Any) -> AsyncController:
        """As Manager.controller, for an ``async def reconcile``."""
        options.setdefault("registry", self.registry)
        return self.add(AsyncController(name, reconcile, **options))

    def _wake(self) -> None:
        loop, event = self._loop, self._stop
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    def stop(self) -> None:
        """Begin the graceful shutdown; safe from any thread and from a signal handler."""
        self.request_stop()

    async def run(self, *, handle_signals: bool = True) -> None:
        """As Manager.run, awaited."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self.stopping:
            self._stop.set()
        plan = self.plan()
        signals = self._install_signals() if handle_signals else []
        try:
            answer: Any = None
            error: Optional[BaseException] = None
            while (step := advance(plan, answer, error)) is not None:
                answer, error = None, None
                try:
                    answer = await self._execute(step)
                except Exception as exc:
                    error = exc
        finally:
            plan.close()
            for sig in signals:
                self._loop.remove_signal_handler(sig)

    def _install_signals(self) -> list[int]:
        if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
            return []
        assert self._loop is not None
        installed: list[int] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._loop.add_signal_handler(sig, self.on_signal, sig)
            except (NotImplementedError, RuntimeError):
                continue
            installed.append(sig)
        return installed

    async def _execute(self, step: Step) -> Any:
        if isinstance(step, StartElector):
            self._elector = AsyncLeaderElector(
                self.clientset,
                on_started_leading=self.on_started_leading,
                on_stopped_leading=self.on_stopped_leading,
                **self.elector_options(),
            )
            self._elector_task = asyncio.get_running_loop().create_task(self._elector.run())
        elif isinstance(step, WaitForStop):
            assert self._stop is not None
            await self._stop.wait()
        elif isinstance(step, StopControllers):
            tasks = [asyncio.ensure_future(c.stop()) for c in self.controllers]
            if not tasks:
                return True
            _, pending = await asyncio.wait(tasks, timeout=step.timeout)
            return not pending
        elif isinstance(step, StopCaches):
            await self.factory.shutdown()
        elif isinstance(step, StopElector):
            assert self._elector is not None and self._elector_task is not None
            self._elector.stop()
            await self._elector_task
        return None

    def start_controllers(self) -> None:
        for controller in self.controllers:
            task = asyncio.get_running_loop().create_task(controller.start(), name=f"start-{controller.name}")
            self._tasks.add(task)
            task.add_done_callback(self._started)

    def _started(self, task: "asyncio.Task[Any]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.fail(task.exception())  # type: ignore[arg-type]


__all__ = [
    "GRACEFUL_SHUTDOWN_TIMEOUT",
    "AsyncManager",
    "GracefulShutdownTimeout",
    "LeaderElectionLost",
    "LeaderElectionOptions",
    "Manager",
    "ManagerCore",
    "default_identity",
]
