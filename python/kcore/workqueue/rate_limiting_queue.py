"""The rate-limiting queue: client-go's RateLimitingQueue, a DelayingQueue whose retries wait
as long as a rate limiter says."""

from __future__ import annotations

from typing import Any, Optional

from kcore import _core
from kcore.workqueue import metrics
from kcore.workqueue.delaying_queue import DelayingQueue


class RateLimitingQueue(_core.RateLimitingQueue, DelayingQueue):
    """A :class:`DelayingQueue` with a rate limiter (default: a new
    :func:`default_controller_rate_limiter`).

    - ``add_rate_limited(item)``: ``add_after(item, rate_limiter.when(item))``.
    - ``forget(item)``: the limiter stops tracking the item (call it when the item succeeded or
      you give up on it); ``done(item)`` is still needed.
    - ``num_requeues(item)``: how many failures the limiter counts for the item.
    """

    __slots__ = ()

    def __new__(
        cls, rate_limiter: Any = None, name: Optional[str] = None, *, registry: Any = None
    ) -> "RateLimitingQueue":
        queue = _core.RateLimitingQueue.__new__(cls, rate_limiter, name)
        metrics.track(queue, registry)
        return queue
