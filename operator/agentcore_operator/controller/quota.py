"""Waiting for session capacity without hammering Start.

Once AgentCore answers a Start with ServiceQuotaExceededException, the region's gate
closes: further Starts there are not sent, their resources wait in Pending/QuotaExceeded,
parked oldest first (by creationTimestamp). A parked resource is let through when one of
our sessions in that region ends (capacity we know was freed), or one every
`probe_interval` (capacity freed by others in the account). A Start that succeeds opens
the gate and lets every parked resource through; the rate limiter paces them.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import defaultdict
from collections.abc import Callable

from agentcore_operator.controller.store import Key


class QuotaGate:
    def __init__(self, release: Callable[[Key], None], *, probe_interval: float = 30.0) -> None:
        self._release = release
        self._probe_interval = probe_interval
        self._closed: set[str] = set()
        self._parked: dict[str, list[tuple[str, Key]]] = defaultdict(list)
        self._parked_keys: dict[Key, str] = {}
        self._permits: set[Key] = set()

    def is_closed(self, region: str) -> bool:
        return region in self._closed

    def blocked(self, region: str, key: Key) -> bool:
        """Whether a Start for `key` must wait (the gate is closed and it holds no permit)."""
        return region in self._closed and key not in self._permits

    def waiting(self, region: str) -> int:
        return len(self._parked.get(region, ()))

    def exceeded(self, region: str, key: Key, created: str) -> None:
        """A Start was refused for quota: close the gate and park the resource."""
        self._permits.discard(key)
        self._closed.add(region)
        self.park(region, key, created)

    def park(self, region: str, key: Key, created: str) -> None:
        if key in self._parked_keys:
            return
        self._parked_keys[key] = region
        heapq.heappush(self._parked[region], (created, key))

    def started(self, region: str, key: Key) -> None:
        """A Start succeeded: capacity exists again."""
        self._permits.discard(key)
        if region in self._closed:
            self._closed.discard(region)
            while self._parked[region]:
                self._let_through(region)

    def freed(self, region: str, count: int = 1) -> None:
        """One of our sessions ended: one parked resource may take its place."""
        for _ in range(count):
            if not self._parked.get(region):
                return
            self._let_through(region)

    def forget(self, key: Key) -> None:
        """The resource is gone; its place in line goes with it."""
        self._permits.discard(key)
        region = self._parked_keys.pop(key, None)
        if region is not None:
            self._parked[region] = [item for item in self._parked[region] if item[1] != key]
            heapq.heapify(self._parked[region])

    def _let_through(self, region: str) -> None:
        while self._parked[region]:
            _, key = heapq.heappop(self._parked[region])
            if self._parked_keys.pop(key, None) is not None:
                self._permits.add(key)
                self._release(key)
                return

    async def run(self) -> None:
        """Probe closed regions: one Start per interval finds out if capacity came back."""
        while True:
            await asyncio.sleep(self._probe_interval)
            for region in list(self._closed):
                self.freed(region)
