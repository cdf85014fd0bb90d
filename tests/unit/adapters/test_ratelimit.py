import pytest

from adapters.ratelimit import Rate, RateLimiter
from bot.adapter import DeliveryError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_per_target_window_refuses_with_retry_after() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(100, 1), Rate(2, 60), max_wait=1, clock=clock)
    await limiter.acquire("u1")
    clock.now += 10
    await limiter.acquire("u1")
    await limiter.acquire("u2")  # another target is unaffected
    with pytest.raises(DeliveryError) as info:
        await limiter.acquire("u1")
    assert info.value.transient
    assert info.value.retry_after == pytest.approx(50)
    clock.now += 50
    await limiter.acquire("u1")


async def test_short_wait_is_waited_out() -> None:
    limiter = RateLimiter(Rate(1, 0.05), Rate(10, 1), max_wait=1)
    await limiter.acquire("a")
    await limiter.acquire("b")  # waits ~50 ms for the overall window


async def test_hold_blocks_one_target_or_all() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(100, 1), Rate(100, 1), max_wait=0, clock=clock)
    limiter.hold(30, "u1")
    with pytest.raises(DeliveryError) as info:
        await limiter.acquire("u1")
    assert info.value.retry_after == 30
    await limiter.acquire("u2")
    limiter.hold(5)
    with pytest.raises(DeliveryError):
        await limiter.acquire("u2")
    clock.now += 30
    await limiter.acquire("u1")
