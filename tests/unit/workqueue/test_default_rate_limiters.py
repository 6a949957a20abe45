"""The rate limiters of client-go's default_rate_limiters.go, and user-defined ones."""

from __future__ import annotations

import pytest

from kcore.workqueue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    ItemFastSlowRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    WithMaxWaitRateLimiter,
    default_controller_rate_limiter,
)


class Constant(RateLimiter):
    """A user-defined limiter: always `delay`, counting failures per item."""

    def __init__(self, delay):
        self.delay = delay
        self.failures = {}

    def when(self, item):
        self.failures[item] = self.failures.get(item, 0) + 1
        return self.delay

    def forget(self, item):
        self.failures.pop(item, None)

    def num_requeues(self, item):
        return self.failures.get(item, 0)


def test_exponential_doubles_from_base_per_failure():
    limiter = ItemExponentialFailureRateLimiter(0.001, 1000)
    assert [limiter.when("a") for _ in range(5)] == [0.001, 0.002, 0.004, 0.008, 0.016]


def test_exponential_is_capped_at_max():
    limiter = ItemExponentialFailureRateLimiter(0.001, 0.005)
    assert [limiter.when("a") for _ in range(5)] == [0.001, 0.002, 0.004, 0.005, 0.005]


def test_exponential_stays_at_max_when_the_backoff_overflows():
    limiter = ItemExponentialFailureRateLimiter(1, 1000)
    delays = [limiter.when("a") for _ in range(100)]
    assert delays[-1] == 1000


def test_exponential_counts_each_item_on_its_own_and_forget_resets_it():
    limiter = ItemExponentialFailureRateLimiter(0.001, 1)
    limiter.when("a")
    limiter.when("a")
    assert limiter.when("b") == 0.001
    assert limiter.num_requeues("a") == 2
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == 0.001


def test_fast_slow_is_fast_for_the_first_attempts_then_slow():
    limiter = ItemFastSlowRateLimiter(0.005, 10, 3)
    assert [limiter.when("a") for _ in range(5)] == [0.005, 0.005, 0.005, 10, 10]
    assert limiter.num_requeues("a") == 5
    limiter.forget("a")
    assert limiter.when("a") == 0.005


def test_bucket_lets_a_burst_through_then_spaces_retries_by_qps():
    limiter = BucketRateLimiter(10, 3)
    delays = [limiter.when(i) for i in range(6)]
    assert delays[:3] == [0, 0, 0]
    for got, want in zip(delays[3:], [0.1, 0.2, 0.3]):
        assert want - 0.05 <= got <= want  # time passes between calls, so a little less


def test_bucket_never_counts_requeues_and_forget_is_a_no_op():
    limiter = BucketRateLimiter(1, 1)
    limiter.when("a")
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0


def test_bucket_with_infinite_qps_never_delays():
    limiter = BucketRateLimiter(float("inf"), 0)
    assert {limiter.when(i) for i in range(100)} == {0}


def test_bucket_with_zero_burst_can_never_grant_a_token():
    assert BucketRateLimiter(10, 0).when("a") == pytest.approx(2**63 / 1e9)


def test_max_of_takes_the_longest_delay_and_most_requeues():
    limiter = MaxOfRateLimiter(ItemExponentialFailureRateLimiter(0.001, 1), ItemFastSlowRateLimiter(0.003, 1, 1))
    assert [limiter.when("a") for _ in range(3)] == [0.003, 1, 1]
    assert limiter.num_requeues("a") == 3


def test_max_of_forgets_in_every_limiter():
    inner = ItemExponentialFailureRateLimiter(0.001, 1)
    user = Constant(0.0)
    limiter = MaxOfRateLimiter(inner, user)
    limiter.when("a")
    limiter.forget("a")
    assert inner.num_requeues("a") == 0
    assert user.num_requeues("a") == 0


def test_max_of_accepts_limiters_written_in_python():
    limiter = MaxOfRateLimiter(ItemExponentialFailureRateLimiter(0.001, 1), Constant(0.5))
    assert limiter.when("a") == 0.5
    assert limiter.num_requeues("a") == 1


def test_max_of_nothing_never_delays():
    assert MaxOfRateLimiter().when("a") == 0


def test_with_max_wait_caps_the_delay_but_not_the_count():
    limiter = WithMaxWaitRateLimiter(ItemExponentialFailureRateLimiter(1, 1000), 3)
    assert [limiter.when("a") for _ in range(4)] == [1, 2, 3, 3]
    assert limiter.num_requeues("a") == 4
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0


def test_default_controller_limiter_is_exponential_from_5ms_under_a_10_qps_bucket():
    limiter = default_controller_rate_limiter()
    assert [limiter.when("a") for _ in range(3)] == [0.005, 0.01, 0.02]
    assert limiter.num_requeues("a") == 3
    # 100 tokens of burst: the 101st retry overall waits about 1/10 s even for a fresh item.
    for i in range(97):
        limiter.when(i)
    assert 0.05 <= limiter.when("fresh") <= 0.1


def test_built_in_limiters_are_rate_limiters():
    for limiter in [
        ItemExponentialFailureRateLimiter(1, 2),
        ItemFastSlowRateLimiter(1, 2, 3),
        BucketRateLimiter(1, 1),
        MaxOfRateLimiter(),
        WithMaxWaitRateLimiter(Constant(1), 2),
        default_controller_rate_limiter(),
    ]:
        assert isinstance(limiter, RateLimiter)


def test_the_rate_limiter_base_class_requires_all_three_methods():
    class Partial(RateLimiter):
        def when(self, item):
            return 0

    with pytest.raises(TypeError):
        Partial()


@pytest.mark.parametrize(
    "make",
    [
        lambda: ItemExponentialFailureRateLimiter(-1, 1),
        lambda: ItemExponentialFailureRateLimiter(float("nan"), 1),
        lambda: ItemFastSlowRateLimiter(1, -1, 1),
        lambda: BucketRateLimiter(-1, 1),
        lambda: WithMaxWaitRateLimiter(Constant(0), -1),
    ],
)
def test_negative_or_nan_durations_are_refused(make):
    with pytest.raises(ValueError):
        make()


def test_a_negative_burst_or_attempt_count_is_refused():
    with pytest.raises(OverflowError):
        BucketRateLimiter(1, -1)
    with pytest.raises(OverflowError):
        ItemFastSlowRateLimiter(1, 1, -1)


def test_a_python_limiter_returning_no_number_gives_a_type_error():
    with pytest.raises(TypeError, match="seconds"):
        MaxOfRateLimiter(Constant("soon")).when("a")


def test_limiters_reject_unhashable_items():
    with pytest.raises(TypeError):
        ItemExponentialFailureRateLimiter(1, 2).when([])
