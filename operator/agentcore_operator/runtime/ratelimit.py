"""Client-side rate limiting: token buckets per (account, region, operation).

AgentCore publishes 30 TPS per operation and account-region, so each account a session
runs in (tenancy: an assumed role's account) has its own buckets: two accounts run at
twice the aggregate rate. The account "" is the operator's own. Pacing calls ourselves keeps
throttling the exception: a ThrottlingException costs a round trip and a backoff, a
token wait costs nothing but time. Waiting is async so no worker thread is held while
it waits, and it runs on the loop's clock, so looptime fast-forwards it in tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

DEFAULT_TPS = 30.0
# The control plane's writes have a lower published quota than the 30 TPS of the rest.
CONTROL_PLANE_WRITE_TPS = {
    "CreateCodeInterpreter": 5.0,
    "DeleteCodeInterpreter": 5.0,
    "TagResource": 5.0,
    "UntagResource": 5.0,
}


@dataclass
class TokenBucket:
    """`rate` tokens per second, holding at most `burst`; callers queue fairly (FIFO).

    Callers reserve a slot under a lock and then sleep outside it, so N waiting
    callers are spaced exactly 1/rate apart and never exceed the rate over any window.
    """

    rate: float
    burst: float
    clock: Callable[[], float]
    _tokens: float = field(init=False)
    _updated: float = field(init=False)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        # Start with one token, not a full burst: we cannot know how full the server's
        # bucket is (another replica, or our own previous life, may have just drained it).
        self._tokens = 1.0
        self._updated = self.clock()

    def reserve(self) -> float:
        """Take one token, possibly from the future; return how long to wait for it."""
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


class RateLimiter:
    """A set of token buckets, one per (account, region, operation), created on first use."""

    def __init__(
        self,
        rates: Mapping[str, float] | None = None,
        *,
        default_rate: float = DEFAULT_TPS,
        # A small burst on purpose: AgentCore's bucket holds a second's worth, and as long as we
        # never spend it, it absorbs the jitter between our clock and AgentCore's (calls paced
        # exactly at the rate arrive bunched now and then). Spending it leaves no margin.
        burst_seconds: float = 0.1,
        clock: Callable[[], float] | None = None,
        on_wait: Callable[[str, float], None] | None = None,
    ) -> None:
        self._rates = dict(rates or {})
        self._default_rate = default_rate
        self._burst_seconds = burst_seconds
        self._clock = clock
        self._on_wait = on_wait
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}

    def rate_for(self, operation: str) -> float:
        return self._rates.get(operation, self._default_rate)

    def _bucket(self, account: str, region: str, operation: str) -> TokenBucket:
        key = (account, region, operation)
        bucket = self._buckets.get(key)
        if bucket is None:
            rate = self.rate_for(operation)
            clock = self._clock or asyncio.get_running_loop().time
            bucket = TokenBucket(rate=rate, burst=max(1.0, rate * self._burst_seconds), clock=clock)
            self._buckets[key] = bucket
        return bucket

    async def acquire(self, region: str, operation: str, account: str = "") -> float:
        """Wait until a call may be sent; return the seconds waited."""
        delay = self._bucket(account, region, operation).reserve()
        if delay > 0:
            await asyncio.sleep(delay)
        if self._on_wait is not None:
            self._on_wait(operation, delay)
        return delay
