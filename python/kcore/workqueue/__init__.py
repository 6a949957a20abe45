"""kcore.workqueue: client-go's workqueue for Python, with its core in Rust.

Callbacks add keys from any thread; workers take them. The same key is never handed to two
workers at once and collapses while it waits; failed keys come back after a rate-limited delay
instead of hot-looping; named queues export client-go's Prometheus metrics.

    queue = RateLimitingQueue(name="pods")
    for key in queue:                      # or: item, shutdown = queue.get()
        try:
            reconcile(key)
            queue.forget(key)
        except Exception:
            queue.add_rate_limited(key)
        finally:
            queue.done(key)
"""

from queue import Empty

from kcore.workqueue.default_rate_limiters import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    ItemFastSlowRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    WithMaxWaitRateLimiter,
    default_controller_rate_limiter,
)
from kcore.workqueue.delaying_queue import DelayingQueue
from kcore.workqueue.metrics import serve_metrics
from kcore.workqueue.queue import Queue
from kcore.workqueue.rate_limiting_queue import RateLimitingQueue

__all__ = [
    "BucketRateLimiter",
    "DelayingQueue",
    "Empty",
    "ItemExponentialFailureRateLimiter",
    "ItemFastSlowRateLimiter",
    "MaxOfRateLimiter",
    "Queue",
    "RateLimiter",
    "RateLimitingQueue",
    "WithMaxWaitRateLimiter",
    "default_controller_rate_limiter",
    "serve_metrics",
]
