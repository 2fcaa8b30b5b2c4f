"""Per-key exponential backoff with jitter, for requeueing after retryable errors."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays double per consecutive failure of a key, capped, with +-20 % jitter.

    Jitter spreads the retries of many resources that failed together (one throttling
    burst fails hundreds of them), so they do not come back as one burst.
    """

    base: float = 1.0
    cap: float = 60.0
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random)
    _failures: dict[object, int] = field(default_factory=dict)

    def failed(self, key: object, *, floor: float = 0.0) -> float:
        """Record a failure of `key`; return how long to wait before retrying it."""
        count = self._failures.get(key, 0)
        self._failures[key] = count + 1
        delay = min(self.cap, self.base * (2.0 ** min(count, 62)))  # bounded: no overflow
        delay *= 1.0 + self.rng.uniform(-self.jitter, self.jitter)
        return max(floor, delay)

    def succeeded(self, key: object) -> None:
        self._failures.pop(key, None)

    def failures(self, key: object) -> int:
        return self._failures.get(key, 0)
