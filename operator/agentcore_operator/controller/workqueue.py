"""A due-time work queue of resource keys, in the manner of controller-runtime's.

One queue serves every resource instead of one timer per resource: a key sits in the
queue once, at its earliest due time; a key is never processed by two workers at once (a
key added while in flight is processed again after); a hint (an observation a sweep
already made) travels with the key so the worker need not ask AWS again.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
H = TypeVar("H")


class WorkQueue(Generic[K, H]):
    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, K]] = []
        self._due: dict[K, float] = {}
        self._hints: dict[K, H] = {}
        self._in_flight: set[K] = set()
        self._again: dict[K, float] = {}
        self._seq = itertools.count()
        self._changed = asyncio.Event()
        self._closed = False
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for: float | None = None

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def __len__(self) -> int:
        return len(self._due) + len(self._again)

    def add(self, key: K, delay: float = 0.0, hint: H | None = None) -> None:
        """Schedule `key` after `delay` seconds, unless it is already due sooner."""
        if hint is not None:
            self._hints[key] = hint
        due = self._now() + max(0.0, delay)
        if key in self._in_flight:
            self._again[key] = min(due, self._again.get(key, due))
            return
        if key in self._due and self._due[key] <= due:
            return
        self._due[key] = due
        heapq.heappush(self._heap, (due, next(self._seq), key))
        self._changed.set()

    def forget(self, key: K) -> None:
        """Drop a key (its resource is gone); a stale heap entry is skipped when popped."""
        self._due.pop(key, None)
        self._again.pop(key, None)
        self._hints.pop(key, None)

    async def get(self) -> tuple[K, H | None]:
        """Wait for the next due key; mark it in flight."""
        while True:
            if self._closed:
                raise asyncio.CancelledError
            while self._heap:
                due, _, key = self._heap[0]
                if self._due.get(key) != due:
                    heapq.heappop(self._heap)  # superseded or forgotten
                    continue
                wait = due - self._now()
                if wait > 0:
                    break
                heapq.heappop(self._heap)
                del self._due[key]
                self._in_flight.add(key)
                return key, self._hints.pop(key, None)
            self._changed.clear()
            self._arm()
            await self._changed.wait()

    def _arm(self) -> None:
        """One timer for the earliest due key, kept while that stays the earliest.

        Every add wakes the getter; re-creating a timeout on each wake (asyncio.wait_for)
        cost a timer and a cancel per key during a burst.
        """
        due = self._heap[0][0] if self._heap else None
        if due == self._armed_for:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._armed_for = None, due
        if due is not None:
            delay = max(0.0, due - self._now())
            self._timer = asyncio.get_running_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer, self._armed_for = None, None
        self._changed.set()

    def done(self, key: K) -> None:
        """Finish processing `key`; re-add it if it was added meanwhile."""
        self._in_flight.discard(key)
        again = self._again.pop(key, None)
        if again is not None:
            self.add(key, max(0.0, again - self._now()))

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._changed.set()
