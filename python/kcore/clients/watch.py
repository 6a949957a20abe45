"""Watching: the resume rules written once, as sans-IO plans that each twin only drives.

A *plan* is a generator of commands — ``ListPage``, ``OpenWatch``, ``NextEvent``, ``Sleep``,
``Emit`` — that receives each command's answer (or has its exception thrown in). It decides
everything: which resourceVersion to ask for, when to back off, when a failure ends the watch.
``WatchDriver`` runs a plan with blocking calls, ``AsyncWatchDriver`` with awaits; neither knows
any rule. ``resuming_watch`` is the plan of ``ResourceClient.watch``; the informer's reflector
(kcore.informer.reflector) is another plan over the same commands.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Generator, Iterator, Mapping, Optional, Union

from kcore._plan import Sleep, advance
from kcore.clients.rest import AsyncEventStream, AsyncRequest, EventStream, Request
from kcore.errors import ApiError, Gone, TooManyRequests, TransportError

Event = tuple[str, Any]

INITIAL_EVENTS_END = "k8s.io/initial-events-end"
"""The annotation of the BOOKMARK that ends the initial events of a streaming list."""


# -- commands ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListPage:
    """One LIST request; answered with the list, its items decoded compact."""

    resource_version: Optional[str]
    limit: Optional[int] = None
    continue_token: Optional[str] = None


@dataclass(frozen=True)
class OpenWatch:
    """Open one watch request (closing any open one); answered with None once it is open."""

    resource_version: Optional[str]
    timeout_seconds: Optional[int]
    send_initial_events: bool = False


@dataclass(frozen=True)
class NextEvent:
    """The next event of the open watch: ``(type, object)``, or None once the stream ended."""


@dataclass(frozen=True)
class Emit:
    """Hand an event to whoever iterates the driver."""

    event: Event


Command = Union[ListPage, OpenWatch, NextEvent, Sleep, Emit]
Plan = Generator[Command, Any, None]
NEXT_EVENT = NextEvent()


# -- rules -------------------------------------------------------------------------------------


class Backoff:
    """client-go's reflector backoff: 0.8 s doubling to a 30 s cap, each delay jittered into
    [d, 2d), back to 0.8 s once 2 minutes have passed without backing off."""

    INITIAL = 0.8
    CAP = 30.0
    RESET_AFTER = 120.0

    def __init__(self, clock: Callable[[], float] = time.monotonic, rng: Callable[[], float] = random.random) -> None:
        self._clock = clock
        self._rng = rng
        self._next = self.INITIAL
        self._last: Optional[float] = None

    def next_delay(self) -> float:
        now = self._clock()
        if self._last is not None and now - self._last > self.RESET_AFTER:
            self._next = self.INITIAL
        self._last = now
        delay = self._next * (1 + self._rng())
        self._next = min(self._next * 2, self.CAP)
        return delay


def watch_timeout_seconds(rng: Callable[[], float] = random.random) -> int:
    """A server-side timeout in [300, 600) s, as the reflector picks: spreads reconnections."""
    return int(300 + rng() * 300)


class WatchState:
    """The resourceVersion a resumed watch continues from, advanced by every event (BOOKMARKs
    included), and whether the initial events of a streaming list are still to come: a watch
    broken before they end starts the streaming list again."""

    def __init__(self, resource_version: Optional[str], send_initial_events: bool = False) -> None:
        self.resource_version = resource_version
        self.initial_events_pending = send_initial_events

    def saw(self, event_type: str, obj: Any) -> None:
        if event_type == "ERROR" or not isinstance(obj, Mapping):
            return
        metadata = obj.get("metadata") or {}
        if metadata.get("resourceVersion"):
            self.resource_version = metadata["resourceVersion"]
        if is_initial_events_end(event_type, obj):
            self.initial_events_pending = False


def is_initial_events_end(event_type: str, obj: Any) -> bool:
    if event_type != "BOOKMARK" or not isinstance(obj, Mapping):
        return False
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return annotations.get(INITIAL_EVENTS_END) == "true"


def reconnectable(error: BaseException) -> bool:
    """A broken or refused connection, or being throttled, is worth another try; a 410 (the
    resourceVersion is gone: relist) or any other refusal is for the caller."""
    return isinstance(error, (TransportError, TooManyRequests)) or (
        isinstance(error, ApiError) and not isinstance(error, Gone) and error.code >= 500
    )


def resuming_watch(
    state: WatchState,
    timeout_seconds: Optional[int],
    clock: Callable[[], float] = time.monotonic,
    backoff: Optional[Backoff] = None,
) -> Plan:
    """The plan of ``ResourceClient.watch``. With ``timeout_seconds``: one watch request.
    Without: watch until stopped, resuming from the last resourceVersion seen whenever the stream
    ends or breaks; back off after failures and after streams that end at once; a failure that
    is not ``reconnectable`` (a 410 Gone, a 403...) is raised."""
    if timeout_seconds is not None:
        yield OpenWatch(state.resource_version, timeout_seconds, state.initial_events_pending)
        while (event := (yield NEXT_EVENT)) is not None:
            state.saw(*event)
            yield Emit(event)
        return
    backoff = backoff or Backoff(clock)
    while True:
        started = clock()
        try:
            yield OpenWatch(state.resource_version, watch_timeout_seconds(), state.initial_events_pending)
            while (event := (yield NEXT_EVENT)) is not None:
                state.saw(*event)
                yield Emit(event)
        except Exception as error:
            if not reconnectable(error):
                raise
            yield Sleep(backoff.next_delay())
            continue
        if clock() - started < 1.0:
            yield Sleep(backoff.next_delay())  # ended at once: don't spin


# -- drivers -----------------------------------------------------------------------------------


class _DriverBase:
    """What both drivers keep: the open watch, the stop flag, how requests are built:
    ``request(send_initial_events)`` the watch request, ``list_request(page)`` a LIST's.
    ``idle_timeout``: a watch that reads nothing for that long fails (TransportError).
    ``strip_managed_fields`` (compact objects only; may be set until the plan runs): objects
    are decoded without metadata.managedFields."""

    def __init__(
        self,
        request: Callable[[bool], Any],
        list_request: Callable[[ListPage], Any],
        bookmarks: bool,
        compact: bool,
        idle_timeout: Optional[float],
    ) -> None:
        self._request = request
        self._list_request = list_request
        self._bookmarks = bookmarks
        self._compact = compact
        self.strip_managed_fields = False
        self._idle_timeout = idle_timeout
        self._current: Any = None
        self._stopped = False

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        """End the plan; safe from any thread (a blocked read returns)."""
        self._stopped = True
        self._close_current()

    def _close_current(self) -> None:
        current, self._current = self._current, None
        if current is not None:
            current.close()


class WatchDriver(_DriverBase):
    """Runs a plan with blocking calls. ``run(plan)`` yields what the plan emits."""

    def __init__(
        self,
        request: Callable[[bool], Request],
        list_request: Callable[[ListPage], Request],
        bookmarks: bool = True,
        compact: bool = False,
        idle_timeout: Optional[float] = None,
    ) -> None:
        super().__init__(request, list_request, bookmarks, compact, idle_timeout)
        self._wake = threading.Event()

    def stop(self) -> None:
        super().stop()
        self._wake.set()

    def run(self, plan: Plan) -> Iterator[Event]:
        answer: Any = None
        error: Optional[BaseException] = None
        try:
            while (command := advance(plan, answer, error)) is not None:
                answer, error = None, None
                if isinstance(command, Emit):
                    yield command.event
                    continue
                if self._stopped:
                    return
                try:
                    answer = self._execute(command)
                except Exception as exc:
                    error = exc
                if self._stopped:
                    return
        finally:
            plan.close()
            self._close_current()

    def _execute(self, command: Command) -> Any:
        if isinstance(command, NextEvent):
            stream: Optional[EventStream] = self._current
            return next(stream, None) if stream is not None else None
        if isinstance(command, OpenWatch):
            self._close_current()
            self._current = self._request(command.send_initial_events).watch(
                command.resource_version,
                timeout_seconds=command.timeout_seconds,
                bookmarks=self._bookmarks,
                compact=self._compact,
                strip_managed_fields=self.strip_managed_fields,
                idle_timeout=self._idle_timeout,
            )
            if self._stopped:  # stopped while the request was on its way
                self._close_current()
            return None
        if isinstance(command, Sleep):
            self._wake.wait(command.seconds)
            return None
        if isinstance(command, ListPage):
            return self._list_request(command).do(compact=self._compact, strip_managed_fields=self.strip_managed_fields)
        raise TypeError(f"not a watch command: {command!r}")


class AsyncWatchDriver(_DriverBase):
    """The asyncio twin of WatchDriver: ``async for event in driver.run(plan)``."""

    def __init__(
        self,
        request: Callable[[bool], AsyncRequest],
        list_request: Callable[[ListPage], AsyncRequest],
        bookmarks: bool = True,
        compact: bool = False,
        idle_timeout: Optional[float] = None,
    ) -> None:
        super().__init__(request, list_request, bookmarks, compact, idle_timeout)
        self._wake: Optional[asyncio.Event] = None

    def stop(self) -> None:
        super().stop()
        if self._wake is not None:
            self._wake.set()

    async def run(self, plan: Plan) -> AsyncIterator[Event]:
        self._wake = asyncio.Event()
        if self._stopped:
            self._wake.set()
        answer: Any = None
        error: Optional[BaseException] = None
        try:
            while (command := advance(plan, answer, error)) is not None:
                answer, error = None, None
                if isinstance(command, Emit):
                    yield command.event
                    continue
                if self._stopped:
                    return
                try:
                    answer = await self._execute(command)
                except Exception as exc:
                    error = exc
                if self._stopped:
                    return
        finally:
            plan.close()
            self._close_current()

    async def _execute(self, command: Command) -> Any:
        if isinstance(command, NextEvent):
            stream: Optional[AsyncEventStream] = self._current
            if stream is None:
                return None
            try:
                return await stream.__anext__()
            except StopAsyncIteration:
                return None
        if isinstance(command, OpenWatch):
            self._close_current()
            self._current = await self._request(command.send_initial_events).watch(
                command.resource_version,
                timeout_seconds=command.timeout_seconds,
                bookmarks=self._bookmarks,
                compact=self._compact,
                strip_managed_fields=self.strip_managed_fields,
                idle_timeout=self._idle_timeout,
            )
            if self._stopped:
                self._close_current()
            return None
        if isinstance(command, Sleep):
            assert self._wake is not None
            try:
                await asyncio.wait_for(self._wake.wait(), command.seconds)
            except asyncio.TimeoutError:
                pass
            return None
        if isinstance(command, ListPage):
            return await self._list_request(command).do(
                compact=self._compact, strip_managed_fields=self.strip_managed_fields
            )
        raise TypeError(f"not a watch command: {command!r}")


# -- the watch of ResourceClient ---------------------------------------------------------------


class _WatchHandle:
    """What both watch twins keep: the driver running the plan, where it stands."""

    def __init__(self, driver: _DriverBase, state: WatchState) -> None:
        self._driver = driver
        self._state = state

    @property
    def resource_version(self) -> Optional[str]:
        """The last resourceVersion seen: resume a later watch from here."""
        return self._state.resource_version

    def close(self) -> None:
        """End the watch; safe from any thread (a blocked read returns)."""
        self._driver.stop()


class Watch(_WatchHandle):
    """An iterator of ``(event_type, object)``; ``close()`` from any thread ends it."""

    def __init__(self, driver: WatchDriver, state: WatchState, timeout_seconds: Optional[int]) -> None:
        super().__init__(driver, state)
        self._events = driver.run(resuming_watch(state, timeout_seconds))

    def __iter__(self) -> "Watch":
        return self

    def __next__(self) -> Event:
        return next(self._events)

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncWatch(_WatchHandle):
    """The asyncio twin of Watch: ``async for event_type, obj in watch``; ``close()`` ends it."""

    def __init__(self, driver: AsyncWatchDriver, state: WatchState, timeout_seconds: Optional[int]) -> None:
        super().__init__(driver, state)
        self._events = driver.run(resuming_watch(state, timeout_seconds))

    def __aiter__(self) -> "AsyncWatch":
        return self

    async def __anext__(self) -> Event:
        return await self._events.__anext__()

    async def __aenter__(self) -> "AsyncWatch":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
