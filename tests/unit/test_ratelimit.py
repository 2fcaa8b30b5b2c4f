"""Client-side rate limiting: token buckets per (region, operation), on an injected or loop clock.

TokenBucket takes its clock as a callable, so its arithmetic is tested with a plain number.
RateLimiter sleeps on the event loop; those tests run under looptime, which fast-forwards
the loop's clock, so seconds of pacing take milliseconds.
"""

from __future__ import annotations

import asyncio
import random

import pytest
from agentcore_operator.runtime.ratelimit import DEFAULT_TPS, RateLimiter, TokenBucket


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- TokenBucket ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "burst"),
    [(0.0, 1.0), (-1.0, 5.0), (10.0, 0.5), (10.0, 0.0)],
    ids=["zero rate", "negative", "tiny burst", "no burst"],
)
def test_a_bucket_refuses_impossible_settings(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match="rate must be > 0 and burst >= 1"):
        TokenBucket(rate=rate, burst=burst, clock=Clock())


def test_a_new_bucket_holds_one_token_not_a_full_burst() -> None:
    """Another replica (or our previous life) may just have drained the server's bucket."""
    bucket = TokenBucket(rate=10.0, burst=10.0, clock=Clock())
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(0.1)


def test_callers_at_one_instant_are_spaced_exactly_one_interval_apart() -> None:
    bucket = TokenBucket(rate=30.0, burst=30.0, clock=Clock())
    waits = [bucket.reserve() for _ in range(61)]
    assert waits == pytest.approx([i / 30.0 for i in range(61)])


def test_an_idle_bucket_refills_up_to_its_burst_only() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=5.0, burst=5.0, clock=clock)
    bucket.reserve()
    clock.now += 3600.0  # an hour idle is worth 18000 tokens, but the bucket holds 5
    assert [bucket.reserve() for _ in range(5)] == [0.0] * 5
    assert bucket.reserve() == pytest.approx(0.2)


def test_partial_refill_shortens_the_wait() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=10.0, burst=10.0, clock=clock)
    bucket.reserve()
    assert bucket.reserve() == pytest.approx(0.1)  # this token was borrowed from t+0.1
    clock.now += 0.15
    assert bucket.reserve() == pytest.approx(0.05)  # the next is due at t+0.2


def test_a_fractional_rate_works() -> None:
    bucket = TokenBucket(rate=0.5, burst=1.0, clock=Clock())
    assert [bucket.reserve() for _ in range(3)] == pytest.approx([0.0, 2.0, 4.0])


@pytest.mark.parametrize("seed", range(5))
def test_sends_never_exceed_the_rate_over_any_window(seed: int) -> None:
    """Whatever the arrival pattern, in any window of W seconds at most burst + rate * W calls go out."""
    rate, burst = 30.0, 30.0
    rng = random.Random(seed)
    clock = Clock(0.0)
    bucket = TokenBucket(rate=rate, burst=burst, clock=clock)
    sends = []
    for _ in range(2000):
        clock.now += rng.choice([0.0, 0.0, 0.001, 0.01, 0.5, 2.0])
        sends.append(clock.now + bucket.reserve())
    sends.sort()
    for i, start in enumerate(sends):
        for window in (0.0, 0.1, 1.0, 5.0):
            inside = sum(1 for s in sends[i : i + 400] if s <= start + window + 1e-9)
            assert inside <= burst + rate * window + 1e-6, (seed, start, window, inside)


# --- RateLimiter ----------------------------------------------------------------------------------


def test_rates_come_from_the_table_or_the_default() -> None:
    limiter = RateLimiter({"CreateCodeInterpreter": 5.0})
    assert limiter.rate_for("CreateCodeInterpreter") == 5.0
    assert limiter.rate_for("StartCodeInterpreterSession") == DEFAULT_TPS == 30.0


async def test_the_limiter_reports_each_wait() -> None:
    clock = Clock()
    seen: list[tuple[str, float]] = []
    limiter = RateLimiter(
        default_rate=1000.0, clock=clock, on_wait=lambda op, waited: seen.append((op, waited))
    )
    await limiter.acquire("us-east-1", "GetCodeInterpreterSession")
    await limiter.acquire("us-east-1", "GetCodeInterpreterSession")
    assert seen == [("GetCodeInterpreterSession", 0.0), ("GetCodeInterpreterSession", pytest.approx(0.001))]


async def test_buckets_are_per_region_and_operation() -> None:
    clock = Clock()  # frozen: only bucket state decides the waits
    limiter = RateLimiter(default_rate=1000.0, clock=clock)
    assert await limiter.acquire("us-east-1", "StartCodeInterpreterSession") == 0.0
    assert await limiter.acquire("us-east-1", "StartCodeInterpreterSession") > 0.0
    # The same operation elsewhere, and another operation here, have their own buckets.
    assert await limiter.acquire("eu-west-1", "StartCodeInterpreterSession") == 0.0
    assert await limiter.acquire("us-east-1", "GetCodeInterpreterSession") == 0.0


@pytest.mark.looptime
async def test_the_limiter_paces_calls_at_the_rate_on_the_loop_clock() -> None:
    loop = asyncio.get_running_loop()
    limiter = RateLimiter(default_rate=30.0)
    sent: list[float] = []

    async def call() -> None:
        await limiter.acquire("us-east-1", "StartCodeInterpreterSession")
        sent.append(loop.time())

    start = loop.time()
    await asyncio.gather(*(call() for _ in range(91)))
    assert sent[-1] - start == pytest.approx(90 / 30.0)
    for first, later in zip(sent, sent[30:], strict=False):
        assert later - first >= 1.0 - 1e-6  # never more than 30 in a second


@pytest.mark.looptime
async def test_a_busy_operation_does_not_delay_another_or_another_region() -> None:
    loop = asyncio.get_running_loop()
    limiter = RateLimiter({"StopCodeInterpreterSession": 2.0}, default_rate=30.0)
    finished: dict[str, float] = {}

    async def burst(region: str, operation: str, count: int) -> None:
        await asyncio.gather(*(limiter.acquire(region, operation) for _ in range(count)))
        finished[f"{region} {operation}"] = loop.time()

    start = loop.time()
    await asyncio.gather(
        burst("us-east-1", "StopCodeInterpreterSession", 11),  # 10 intervals at 2/s: 5 s
        burst("us-east-1", "GetCodeInterpreterSession", 1),
        burst("eu-west-1", "StopCodeInterpreterSession", 1),
    )
    assert finished["us-east-1 StopCodeInterpreterSession"] - start == pytest.approx(5.0)
    assert finished["us-east-1 GetCodeInterpreterSession"] - start == pytest.approx(0.0)
    assert finished["eu-west-1 StopCodeInterpreterSession"] - start == pytest.approx(0.0)


@pytest.mark.looptime
async def test_burst_seconds_lets_an_idle_limiter_send_a_burst() -> None:
    loop = asyncio.get_running_loop()
    limiter = RateLimiter(default_rate=10.0, burst_seconds=2.0)
    await limiter.acquire("r", "op")  # creates the bucket (one token)
    await asyncio.sleep(10)  # idle: the bucket fills to 2 s worth = 20 tokens
    start = loop.time()
    waits = [await limiter.acquire("r", "op") for _ in range(21)]
    assert waits[:20] == [0.0] * 20
    assert waits[20] == pytest.approx(0.1)
    assert loop.time() - start == pytest.approx(0.1)
