"""The delaying queue: client-go's DelayingQueue, a Queue that can add an item later."""

from __future__ import annotations

from typing import Any, Optional

from kcore import _core
from kcore.workqueue import metrics
from kcore.workqueue.queue import Queue


class DelayingQueue(_core.DelayingQueue, Queue):
    """A :class:`Queue` with ``add_after(item, seconds)``.

    ``add_after`` adds the item once ``seconds`` have passed, or now if ``seconds <= 0``. If the
    item is already waiting, the earlier of the two ready times wins. Items still waiting at
    shutdown are dropped. Named queues count every ``add_after`` in ``workqueue_retries_total``.
    """

    __slots__ = ()

    def __new__(cls, name: Optional[str] = None, *, registry: Any = None) -> "DelayingQueue":
        queue = _core.DelayingQueue.__new__(cls, name)
        metrics.track(queue, registry)
        return queue
