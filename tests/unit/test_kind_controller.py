"""runtime/controller.py: one kind's cache, queue and dispatch, and the watches between kinds."""

from __future__ import annotations

import asyncio
from typing import Any

from agentcore_operator.controller.store import Key
from agentcore_operator.runtime.controller import KindController
from agentcore_operator.runtime.reconcile import Outcome

DONE = Outcome(None)


class Loop:
    def __init__(self, outcome: Outcome = DONE, fail: bool = False) -> None:
        self.seen: list[Key] = []
        self.outcome, self.fail = outcome, fail

    async def reconcile(self, key: Key, hint: Any = None) -> Outcome:
        self.seen.append(key)
        if self.fail:
            raise RuntimeError("boom")
        return self.outcome


def body(
    name: str, *, ref: str | None = None, phase: str | None = None, generation: int = 1
) -> dict[str, Any]:
    spec = {"codeInterpreterRef": {"name": ref}} if ref else {}
    return {
        "metadata": {"namespace": "ns", "name": name, "uid": name, "generation": generation},
        "spec": spec,
        "status": {"phase": phase} if phase else {},
    }


def event(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "object": obj}


def linked() -> tuple[KindController[Any], KindController[Any]]:
    sessions, interpreters = KindController(Loop()), KindController(Loop())
    sessions.watch(
        interpreters,
        lambda b: [("ns", b["spec"]["codeInterpreterRef"]["name"])] if b["spec"] else [],
        lambda b: b["status"].get("phase"),
    )
    return sessions, interpreters


def due(controller: KindController[Any]) -> int:
    return len(controller.queue)


def test_a_change_the_reconcile_acts_on_is_queued_and_a_status_write_is_not() -> None:
    async def run() -> None:
        sessions, _ = linked()
        sessions.observe(event("ADDED", body("a")))
        assert due(sessions) == 1 and sessions.store.get(("ns", "a")) is not None
        key, _ = await sessions.queue.get()
        sessions.queue.done(key)
        sessions.observe(event("MODIFIED", body("a", phase="Ready")))  # only the status changed
        assert due(sessions) == 0

    asyncio.run(run())


def test_a_dependent_is_queued_when_its_signature_changes_and_only_then() -> None:
    async def run() -> None:
        sessions, interpreters = linked()
        interpreters.observe(event("ADDED", body("tools")))
        key, _ = await interpreters.queue.get()
        interpreters.queue.done(key)
        sessions.observe(event("ADDED", body("s", ref="tools", phase="Pending")))
        assert due(interpreters) == 1
        key, _ = await interpreters.queue.get()
        interpreters.queue.done(key)
        sessions.observe(event("MODIFIED", body("s", ref="tools", phase="Pending")))
        assert due(interpreters) == 0  # nothing it cares about changed
        sessions.observe(event("MODIFIED", body("s", ref="tools", phase="Terminated")))
        assert due(interpreters) == 1
        key, _ = await interpreters.queue.get()
        interpreters.queue.done(key)
        sessions.observe(event("DELETED", body("s", ref="tools", phase="Terminated")))
        assert due(interpreters) == 1  # a session gone always tells

    asyncio.run(run())


def test_a_resource_that_names_nothing_leaves_nothing_behind() -> None:
    async def run() -> None:
        sessions, interpreters = linked()
        sessions.observe(event("ADDED", body("plain")))
        assert due(interpreters) == 0 and sessions._signatures == {}

    asyncio.run(run())


def test_dispatch_reconciles_requeues_and_backs_off_on_exceptions() -> None:
    async def run() -> None:
        failing = KindController(Loop(fail=True), workers=2)
        failing.observe(event("ADDED", body("x")))
        task = asyncio.create_task(failing.run())
        for _ in range(50):
            await asyncio.sleep(0.01)
            if failing.loop.seen:  # type: ignore[attr-defined]
                break
        await asyncio.sleep(0.01)
        task.cancel()
        assert failing.loop.seen == [("ns", "x")]  # type: ignore[attr-defined]
        assert due(failing) == 1  # requeued with backoff, not lost

    asyncio.run(run())
