"""The due-time work queue: earliest-due wins, no key twice in flight, hints travel with keys."""

from __future__ import annotations

import asyncio

import pytest
from agentcore_operator.controller.workqueue import WorkQueue


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def next_now(queue: WorkQueue[str, str]) -> tuple[str, str | None]:
    return await asyncio.wait_for(queue.get(), timeout=1)


async def test_keys_come_out_in_due_order() -> None:
    clock = FakeClock()
    queue: WorkQueue[str, str] = WorkQueue(clock)
    queue.add("late", 5)
    queue.add("soon", 1)
    queue.add("now")
    assert (await next_now(queue))[0] == "now"
    clock.now += 1
    assert (await next_now(queue))[0] == "soon"
    clock.now += 4
    assert (await next_now(queue))[0] == "late"


async def test_a_key_is_queued_once_at_its_earliest_due_time() -> None:
    clock = FakeClock()
    queue: WorkQueue[str, str] = WorkQueue(clock)
    queue.add("k", 100)
    queue.add("k", 1)
    queue.add("k", 50)
    assert len(queue) == 1
    clock.now += 1
    assert (await next_now(queue))[0] == "k"
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(queue.get(), timeout=0.05)


async def test_a_key_added_while_in_flight_comes_back_after_done() -> None:
    clock = FakeClock()
    queue: WorkQueue[str, str] = WorkQueue(clock)
    queue.add("k")
    key, _ = await next_now(queue)
    queue.add("k")  # an event arrives while a worker holds the key
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(queue.get(), timeout=0.05)
    queue.done(key)
    assert (await next_now(queue))[0] == "k"


async def test_hints_travel_with_the_key_and_the_latest_wins() -> None:
    queue: WorkQueue[str, str] = WorkQueue(FakeClock())
    queue.add("k", hint="first")
    queue.add("k", hint="second")
    assert await next_now(queue) == ("k", "second")


async def test_forgotten_keys_never_come_out() -> None:
    queue: WorkQueue[str, str] = WorkQueue(FakeClock())
    queue.add("gone")
    queue.add("kept")
    queue.forget("gone")
    assert (await next_now(queue))[0] == "kept"
    assert len(queue) == 0


async def test_a_waiting_worker_wakes_when_a_sooner_key_is_added() -> None:
    queue: WorkQueue[str, str] = WorkQueue()
    queue.add("far", 3600)
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0.01)
    queue.add("near")
    assert (await asyncio.wait_for(getter, timeout=1))[0] == "near"
