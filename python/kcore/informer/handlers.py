"""Event handlers and their buffers (client-go's sharedProcessor and processorListener).

Each handler gets its own unbounded buffer and its own worker (a thread, or a task in the
asyncio twin), so a slow handler never blocks another handler or the watch. A handler that
raises loses that one notification; the error is logged. Notifications that only resync (an
update whose resourceVersion did not change) go only to handlers whose resync period is due.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

log = logging.getLogger("kcore.informer")

MINIMUM_RESYNC_PERIOD = 1.0
"""client-go raises a handler's resync period to at least this."""


@dataclass(frozen=True)
class DeletedFinalStateUnknown:
    """Given to ``on_delete`` when the object was deleted while the watch was cut off: the
    informer saw it vanish from a relist, not its deletion. ``obj`` is its last known state."""

    key: str
    obj: Any


@dataclass(frozen=True)
class Add:
    obj: Any
    is_in_initial_list: bool


@dataclass(frozen=True)
class Update:
    old: Any
    new: Any


@dataclass(frozen=True)
class Delete:
    obj: Any  # the object's final state, or a DeletedFinalStateUnknown


Notification = Union[Add, Update, Delete]
Handler = Optional[Callable[..., Any]]


class Listener:
    """One handler: its callbacks, its buffer, its resync schedule and whether it has seen
    every object of the initial list. The worker that drains the buffer belongs to a twin."""

    def __init__(
        self,
        on_add: Handler,
        on_update: Handler,
        on_delete: Handler,
        requested_resync: float,
        resync: float,
        now: float,
        informer_synced: Callable[[], bool],
    ) -> None:
        self.on_add, self.on_update, self.on_delete = on_add, on_update, on_delete
        self.requested_resync = requested_resync
        self.resync = resync
        self.next_resync = now + resync
        self._informer_synced = informer_synced
        self._buffer: deque[Notification] = deque()
        self._initial_pending = 0
        self._lock = threading.Lock()
        self.wake: Callable[[], None] = lambda: None  # set by the twin that runs the worker
        self.removed = False

    # -- the buffer ------------------------------------------------------------------------

    def add(self, notification: Notification) -> None:
        with self._lock:
            if isinstance(notification, Add) and notification.is_in_initial_list:
                self._initial_pending += 1
            self._buffer.append(notification)
        self.wake()

    def take(self) -> Optional[Notification]:
        with self._lock:
            return self._buffer.popleft() if self._buffer else None

    def delivered(self, notification: Notification) -> None:
        if isinstance(notification, Add) and notification.is_in_initial_list:
            with self._lock:
                self._initial_pending -= 1

    def has_synced(self) -> bool:
        """The informer has synced and this handler has been handed every object of the
        initial list (its own, when it was added after the informer started)."""
        with self._lock:
            pending = self._initial_pending
        return pending == 0 and self._informer_synced()

    # -- delivery (shared by the twins) ----------------------------------------------------

    def call(self, notification: Notification) -> Any:
        """Call the handler for one notification; what it returned (a coroutine, for the
        asyncio twin to await). A raising handler is logged and loses only this notification."""
        try:
            if isinstance(notification, Add):
                return self.on_add(notification.obj, notification.is_in_initial_list) if self.on_add else None
            if isinstance(notification, Update):
                return self.on_update(notification.old, notification.new) if self.on_update else None
            return self.on_delete(notification.obj) if self.on_delete else None
        except Exception:
            log.exception("event handler failed on %s", type(notification).__name__.lower())
            return None

    # -- resync ----------------------------------------------------------------------------

    def should_resync(self, now: float) -> bool:
        return self.resync != 0 and now >= self.next_resync

    def determine_next_resync(self, now: float) -> None:
        self.next_resync = now + self.resync


def resync_period(requested: float, check: float) -> float:
    """A handler's effective resync period, given the informer's resync check period."""
    if requested == 0:
        return 0
    if check == 0:
        log.warning("the informer does not resync: a handler's resync period of %s s is ignored", requested)
        return 0
    return max(requested, check)


class Processor:
    """The informer's handlers; hands each notification to every handler's buffer, resync-only
    notifications to the handlers whose resync is due."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._listeners: dict[Listener, bool] = {}  # listener → due for resync now
        self._lock = threading.Lock()

    def add(self, listener: Listener) -> None:
        # Due for resync until the first resync check says otherwise (client-go): so without a
        # resync period, every handler hears the unchanged objects of a relist as updates.
        with self._lock:
            self._listeners[listener] = True

    def remove(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.pop(listener, None)
        listener.removed = True
        listener.wake()

    def listeners(self) -> list[Listener]:
        with self._lock:
            return list(self._listeners)

    def distribute(self, notification: Notification, sync: bool) -> None:
        with self._lock:
            targets = [listener for listener, syncing in self._listeners.items() if syncing or not sync]
        for listener in targets:
            listener.add(notification)

    def should_resync(self) -> bool:
        """Marks the handlers whose resync is due; whether any is."""
        now = self._clock()
        due = False
        with self._lock:
            for listener in self._listeners:
                syncing = listener.should_resync(now)
                self._listeners[listener] = syncing
                if syncing:
                    due = True
                    listener.determine_next_resync(now)
        return due

    def resync_check_period_changed(self, check: float) -> None:
        with self._lock:
            for listener in self._listeners:
                listener.resync = resync_period(listener.requested_resync, check)
