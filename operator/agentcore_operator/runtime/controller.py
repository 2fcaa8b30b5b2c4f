"""One kind's controller: its cache, its queue, its dispatch (controller-runtime's Controller).

The manager runs one of these per kind on one shared set of clients. A watch event goes
into the kind's store; a change the reconcile acts on queues the key; a dispatch task
hands due keys to the kind's reconcile loop, each key in its own pass, at most `workers`
at a time. Kinds that depend on each other (a session on the interpreter it references,
an interpreter on the sessions that use it) are linked with `watch`: a relevant change of
one queues the other's keys, so neither polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from agentcore_operator.controller.store import Key, Store, key_of
from agentcore_operator.controller.workqueue import WorkQueue
from agentcore_operator.runtime.backoff import Backoff
from agentcore_operator.runtime.elector import NotLeader
from agentcore_operator.runtime.reconcile import ErrorCounter, Outcome

logger = logging.getLogger("agentcore_operator")

HintT = TypeVar("HintT")
HintC = TypeVar("HintC", contravariant=True)


class Reconciling(Protocol[HintC]):
    async def reconcile(self, key: Key, hint: HintC | None = None) -> Outcome: ...


@dataclass(frozen=True)
class Dependent:
    """Another kind's controller, and which of its keys a body of this kind concerns."""

    controller: KindController[Any]
    keys_of: Callable[[dict[str, Any]], Iterable[Key]]
    signature: Callable[[dict[str, Any]], Hashable]  # what the dependent cares about


class KindController(Generic[HintT]):
    def __init__(
        self,
        loop: Reconciling[HintT],
        *,
        store: Store | None = None,
        queue: WorkQueue[Key, HintT] | None = None,
        backoff: Backoff | None = None,
        workers: int = 16,
        errors: ErrorCounter | None = None,
        on_removed: Callable[[Key], None] | None = None,
        drain_seconds: float = 10.0,
    ) -> None:
        self.loop = loop
        self.store = store if store is not None else Store()
        self.queue: WorkQueue[Key, HintT] = queue if queue is not None else WorkQueue()
        self.backoff = backoff if backoff is not None else Backoff()
        self._workers = workers
        self._errors = errors
        self._on_removed = on_removed
        self._drain_seconds = drain_seconds  # how long a stopping dispatch lets passes in flight finish
        self._dependents: list[Dependent] = []
        self._signatures: dict[tuple[int, Key], Hashable] = {}

    def watch(
        self,
        controller: KindController[Any],
        keys_of: Callable[[dict[str, Any]], Iterable[Key]],
        signature: Callable[[dict[str, Any]], Hashable],
    ) -> None:
        """Queue `controller`'s keys named by a body of this kind when its `signature` changes."""
        self._dependents.append(Dependent(controller, keys_of, signature))

    def observe(self, event: dict[str, Any]) -> None:
        """Feed one watch event into the store; queue the resource (and its dependents) if needed."""
        raw = event.get("object")
        if not isinstance(raw, dict):
            return
        body: dict[str, Any] = dict(raw)
        key = key_of(body)
        if event.get("type") == "DELETED":
            self.store.remove(key)
            self.queue.forget(key)
            self.backoff.succeeded(key)
            if self._on_removed is not None:
                self._on_removed(key)
            self._notify(key, body, gone=True)
            return
        if self.store.put(body):
            self.queue.add(key)
        self._notify(key, body, gone=False)

    def _notify(self, key: Key, body: dict[str, Any], *, gone: bool) -> None:
        """Queue the dependents' keys when what they care about changed since the last event.

        Compared with the last event seen, not with the store: the reconcile loop puts its
        own writes in the store before their watch events arrive.
        """
        for index, dependent in enumerate(self._dependents):
            seen = (index, key)
            signature = None if gone else dependent.signature(body)
            if not gone and seen in self._signatures and self._signatures[seen] == signature:
                continue
            others = list(dependent.keys_of(body))
            if gone or not others:
                # Gone, or naming nothing of that kind (a session on an interpreter id, say):
                # nothing to remember, so a cache of many such resources costs no memory here.
                self._signatures.pop(seen, None)
            else:
                self._signatures[seen] = signature
            for other in others:
                if dependent.controller.store.get(other) is not None:
                    dependent.controller.queue.add(other)

    async def run(self) -> None:
        """Hand every due key to its own pass at once, up to `workers` at a time.

        A pass may wait for a rate-limit token (a burst of Starts queues for tens of seconds);
        a fixed pool of workers would then be full of waiting Starts while sessions already
        started wait behind them for their confirming Get. With a pass per key, the rate
        limiter is the only queue, and each operation queues only behind its own kind.
        """
        slots = asyncio.Semaphore(self._workers)
        passes: set[asyncio.Task[None]] = set()
        try:
            while True:
                await slots.acquire()
                try:
                    key, hint = await self.queue.get()
                except BaseException:
                    slots.release()
                    raise
                task = asyncio.create_task(self._reconcile_one(key, hint, slots))
                passes.add(task)
                task.add_done_callback(passes.discard)
        finally:
            # Stopping: passes in flight may finish their call and record it; the fence
            # (may_act) already refuses any new mutating call.
            if passes:
                await asyncio.wait(list(passes), timeout=self._drain_seconds)
            for task in list(passes):
                task.cancel()
            for task in list(passes):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _reconcile_one(self, key: Key, hint: HintT | None, slots: asyncio.Semaphore) -> None:
        try:
            try:
                outcome = await self.loop.reconcile(key, hint)
            except asyncio.CancelledError:
                raise
            except NotLeader:
                logger.info("reconcile of %s/%s stopped at the fence: no longer the leader", *key)
                return
            except Exception:
                logger.exception("reconcile of %s/%s failed", *key)
                if self._errors is not None:
                    self._errors.labels("Exception").inc()
                outcome = Outcome(self.backoff.failed(key))
            finally:
                self.queue.done(key)
            if outcome.requeue_after is not None and self.store.get(key) is not None:
                self.queue.add(key, outcome.requeue_after)
        finally:
            slots.release()
