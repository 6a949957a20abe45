"""Rate limiters: how long a failed item waits before it is retried (client-go's
``default_rate_limiters.go``). The built-in ones run in Rust; subclass :class:`RateLimiter` to
write your own, which works anywhere a built-in one does, inside MaxOfRateLimiter too.

Durations are float seconds.
"""

from __future__ import annotations

import abc
from typing import Hashable

from kcore import _core


class RateLimiter(abc.ABC):
    """What a rate limiter does. The built-in limiters are registered as virtual subclasses."""

    @abc.abstractmethod
    def when(self, item: Hashable) -> float:
        """Seconds ``item`` should wait before it is retried; called once per failure."""

    @abc.abstractmethod
    def forget(self, item: Hashable) -> None:
        """Stop tracking ``item`` (it succeeded, or it is given up on)."""

    @abc.abstractmethod
    def num_requeues(self, item: Hashable) -> int:
        """How many failures ``item`` has had."""


RateLimiter.register(_core.RateLimiter)

#: ``base * 2**failures`` seconds, at most ``max``: ``ItemExponentialFailureRateLimiter(base, max)``.
ItemExponentialFailureRateLimiter = _core.ItemExponentialFailureRateLimiter
#: ``fast`` for the first ``max_fast_attempts`` failures, then ``slow``.
ItemFastSlowRateLimiter = _core.ItemFastSlowRateLimiter
#: A token bucket shared by all items: ``BucketRateLimiter(qps, burst)``; never counts requeues.
BucketRateLimiter = _core.BucketRateLimiter
#: The longest delay and the most requeues of its limiters: ``MaxOfRateLimiter(*limiters)``.
MaxOfRateLimiter = _core.MaxOfRateLimiter
#: Another limiter's delays capped at ``max`` seconds: ``WithMaxWaitRateLimiter(limiter, max)``.
WithMaxWaitRateLimiter = _core.WithMaxWaitRateLimiter
#: ``MaxOfRateLimiter(ItemExponentialFailureRateLimiter(0.005, 1000), BucketRateLimiter(10, 100))``.
default_controller_rate_limiter = _core.default_controller_rate_limiter
