"""The basic workqueue: client-go's ``util/workqueue`` Queue, with its core in Rust.

- Fair: items are handed out in the order they were first added.
- Stingy: an item is never handed to two workers at once, and adding it again before it is
  handed out does nothing.
- An item added again while it is being processed is handed out again after ``done``.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, AsyncIterator, Hashable, Iterator, Optional, Tuple

from kcore import _core
from kcore.workqueue import metrics


def _wake(fut: "asyncio.Future[None]") -> None:
    if not fut.done():
        fut.set_result(None)


class Queue(_core.Queue):
    """A workqueue. ``Queue(name="...")`` exports client-go's workqueue metrics for that name.

    Items are any hashable objects (keys such as ``"namespace/name"`` are the common case).
    Every item handed out by :meth:`get` must be given back to :meth:`done`.

    ``get(timeout=None) -> (item, shutdown)``: blocks, without holding the GIL, until an item is
    ready (``(item, False)``) or the queue is shut down and empty (``(None, True)``). When a
    ``timeout`` in seconds runs out first it raises :class:`queue.Empty`, like
    :meth:`queue.Queue.get`. ``done(item)`` of an item that is not being processed does nothing.

    ``shut_down()`` makes the queue ignore new items; workers still receive what was queued, then
    ``shutdown=True``. ``shut_down_with_drain()`` also waits until every handed-out item is done.
    """

    __slots__ = ()

    def __new__(cls, name: Optional[str] = None, *, registry: Any = None) -> "Queue":
        queue = super().__new__(cls, name)
        metrics.track(queue, registry)
        return queue

    def __iter__(self) -> Iterator[Hashable]:
        """Yields items until the queue is shut down and empty. Call ``done`` for each."""
        while True:
            item, shutdown = self.get()
            if shutdown:
                return
            yield item

    async def aget(self) -> Tuple[Any, bool]:
        """Like ``get()``, for asyncio: waits without blocking the event loop.

        Cancelling it while it waits loses nothing: the item it would have taken stays queued.
        """
        got = self._get_or_wait(None)
        if got is not None:
            return got
        loop = asyncio.get_running_loop()
        while True:
            fut = loop.create_future()
            waker = functools.partial(loop.call_soon_threadsafe, _wake, fut)
            got = self._get_or_wait(waker)
            if got is not None:
                return got
            try:
                await fut
            except asyncio.CancelledError:
                self._cancel_wait(waker)
                raise

    async def __aiter__(self) -> AsyncIterator[Hashable]:
        """``async for item in queue``: like iteration, with :meth:`aget`."""
        while True:
            item, shutdown = await self.aget()
            if shutdown:
                return
            yield item
