"""The reconcile loop, written once for every kind (what ACK's runtime is to its resource managers).

A pass reads the resource from the store, asks the kind's pure `decide()` for one action,
performs it, feeds the outcome back as the next observation, and repeats until the
decision is to wait. The loop owns everything generic:

- the finalizer: AddFinalizer and RemoveFinalizer are carried out here;
- the crash-safety rule: the status is persisted before any mutating call, so a crash
  never loses the knowledge that a call may have happened; everything else is written
  once, at the end of the pass, and only if it changed;
- events (posted once per transition the decision reports), requeue and per-key backoff,
  the reconcile-error metric, and conflict retries.

A kind (`ResourceKind`) brings only what is its own: how to read a resource and its
status, `decide()`, which actions mutate, the adapter call for each action, and
bookkeeping hooks (a quota, a ledger, a metric) around the pass. A kind that must know when
a pass ends however it ends (settled, failed, a conflict) gives `around_pass`: a context
manager entered as each pass begins and left as it ends.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from agentcore_operator.controller.store import Key, Store, key_of
from agentcore_operator.runtime.backoff import Backoff
from agentcore_operator.runtime.decision import AddFinalizer, Decision, EventNote, RemoveFinalizer

logger = logging.getLogger("agentcore_operator.reconciler")

MAX_STEPS = 8  # a pass takes a handful of steps (finalizer, check, act, read); more means a loop
CONFLICT_RETRY_SECONDS = 0.5

ViewT = TypeVar("ViewT")
StatusT = TypeVar("StatusT", bound="StatusLike")
ActionT = TypeVar("ActionT")
ObservationT = TypeVar("ObservationT")
AroundPass = Callable[[Key], contextlib.AbstractContextManager[None]]


def utc_now() -> datetime:
    return datetime.now(UTC)


class StatusLike(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


class KubeWrites(Protocol):
    """The writes the loop makes (controller/kube.py's KubeWriter, or a test's stand-in)."""

    async def patch_status(
        self, body: dict[str, Any], old: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any] | None: ...

    async def add_finalizer(self, body: dict[str, Any]) -> dict[str, Any] | None: ...

    async def remove_finalizer(self, body: dict[str, Any]) -> dict[str, Any] | None: ...

    async def post_event(self, body: dict[str, Any], note: EventNote) -> None: ...


class ResourceKind(Protocol[ViewT, StatusT, ActionT, ObservationT]):
    """One kind's part of a reconcile pass. Everything else is the loop's."""

    def view(self, body: dict[str, Any]) -> ViewT:
        """The parts of the resource the decision reads (spec checked, deletion, finalizer)."""
        ...

    def with_finalizer(self, view: ViewT) -> ViewT: ...

    def read_status(self, persisted: dict[str, Any]) -> StatusT: ...

    def decide(
        self, view: ViewT, status: StatusT, observation: ObservationT | None, now: datetime
    ) -> Decision[StatusT, ActionT]: ...

    def mutates(self, action: ActionT) -> bool:
        """Whether the call changes something in AWS (the status is persisted before it)."""
        ...

    async def prepare(self, key: Key, body: dict[str, Any], view: ViewT, action: ActionT) -> None:
        """Durable bookkeeping a mutating call needs first (after its status is written); raising
        keeps the call from being sent."""
        ...

    async def perform(self, action: ActionT) -> ObservationT:
        """The adapter call: one observation per action, failures included."""
        ...

    def acted(self, key: Key, body: dict[str, Any], action: ActionT, observation: ObservationT) -> None:
        """Bookkeeping after a call (a quota slot taken, say)."""
        ...

    def released(self, key: Key, body: dict[str, Any], before: StatusT, after: StatusT) -> None:
        """The finalizer is gone: the resource is about to disappear."""
        ...

    def settled(self, key: Key, body: dict[str, Any], view: ViewT, before: StatusT, after: StatusT) -> bool:
        """The pass ended with the status written; True parks the key (someone else requeues it)."""
        ...

    def log_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        """Extra structured fields for the event log lines (a session id, say)."""
        ...

    def ready_reason(self, status: StatusT) -> str | None:
        """The Ready condition's reason: the label of the reconcile-error metric."""
        ...


class NoBookkeeping:
    """The bookkeeping hooks of ResourceKind, doing nothing: for a kind that needs none of them
    (it overrides those it does need)."""

    async def prepare(self, key: Key, body: dict[str, Any], view: Any, action: Any) -> None:
        return None

    def acted(self, key: Key, body: dict[str, Any], action: Any, observation: Any) -> None:
        return None

    def released(self, key: Key, body: dict[str, Any], before: Any, after: Any) -> None:
        return None

    def settled(self, key: Key, body: dict[str, Any], view: Any, before: Any, after: Any) -> bool:
        return False

    def log_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class Outcome:
    """What a pass asks of the queue: requeue after `requeue_after` seconds, or not at all."""

    requeue_after: float | None


class ErrorCounter(Protocol):
    def labels(self, *values: str) -> Any: ...


class ReconcileLoop(Generic[ViewT, StatusT, ActionT, ObservationT]):
    def __init__(
        self,
        kind: ResourceKind[ViewT, StatusT, ActionT, ObservationT],
        *,
        store: Store,
        kube: KubeWrites,
        conflict: type[Exception],
        backoff: Backoff,
        errors: ErrorCounter | None = None,
        clock: Callable[[], datetime] = utc_now,
        around_pass: AroundPass | None = None,
    ) -> None:
        self.kind = kind
        self._around_pass = around_pass
        self._store = store
        self._kube = kube
        self._conflict = conflict
        self._backoff = backoff
        self._errors = errors
        self._clock = clock

    async def reconcile(self, key: Key, hint: ObservationT | None = None) -> Outcome:
        body = self._store.get(key)
        if body is None:
            return Outcome(None)
        with self._around_pass(key) if self._around_pass is not None else contextlib.nullcontext():
            try:
                return await self._reconcile(body, hint)
            except self._conflict as exc:
                logger.debug("conflict writing %s/%s, retrying: %s", *key, exc)
                return Outcome(CONFLICT_RETRY_SECONDS)

    async def _reconcile(self, body: dict[str, Any], hint: ObservationT | None) -> Outcome:
        kind = self.kind
        key = key_of(body)
        wanted_at_start = _what_the_user_wants(body)
        view = kind.view(body)
        persisted = dict(body.get("status") or {})
        persisted.pop("kopf", None)
        status = before = kind.read_status(persisted)
        observation = hint
        events: list[EventNote] = []
        decision: Decision[StatusT, ActionT] | None = None

        for _ in range(MAX_STEPS):
            decision = kind.decide(view, status, observation, self._clock())
            status = decision.status
            events.extend(decision.events)
            action = decision.action
            if action is None:
                break
            if isinstance(action, AddFinalizer):
                body = await self._kube.add_finalizer(body) or body
                self._store.put(body)
                view = kind.with_finalizer(view)
                observation = None
                continue
            if isinstance(action, RemoveFinalizer):
                await self._post(body, events)
                await self._kube.remove_finalizer(body)
                kind.released(key, body, before, status)
                self._backoff.succeeded(key)
                return Outcome(None)
            if kind.mutates(action):
                body, persisted = await self._write_status(body, persisted, status)
                await kind.prepare(key, body, view, action)
            observation = await kind.perform(action)
            kind.acted(key, body, action, observation)
        else:
            logger.error("reconcile of %s/%s did not settle in %d steps", *key, MAX_STEPS)

        body, persisted = await self._write_status(body, persisted, status)
        await self._post(body, events)
        parked = kind.settled(key, body, view, before, status)
        if _what_the_user_wants(body) != wanted_at_start:
            # Our write's answer carries someone else's change (a delete, a new spec): its own
            # watch event is the echo of a version the store already holds, so look again now.
            return Outcome(0.0)
        if parked:
            self._backoff.succeeded(key)
            return Outcome(None)
        return Outcome(self._requeue(key, decision))

    def _requeue(self, key: Key, decision: Decision[StatusT, ActionT] | None) -> float | None:
        if decision is None:
            return None
        if decision.backoff:
            reason = self.kind.ready_reason(decision.status)
            if self._errors is not None and reason is not None:
                self._errors.labels(reason).inc()
            return self._backoff.failed(key, floor=decision.requeue_after or 0.0)
        self._backoff.succeeded(key)
        return decision.requeue_after

    async def _write_status(
        self, body: dict[str, Any], persisted: dict[str, Any], status: StatusT
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        wanted = status.to_dict()
        if wanted == persisted:
            return body, persisted
        written = await self._kube.patch_status(body, persisted, wanted)
        if written is not None:
            self._store.put(written)
            body = written
        return body, wanted

    async def _post(self, body: dict[str, Any], events: list[EventNote]) -> None:
        if not events:
            return
        fields: dict[str, Any] | None = None
        if logger.isEnabledFor(logging.INFO):  # the fields are built only for lines written
            meta = body.get("metadata") or {}
            fields = {
                "namespace": meta.get("namespace"),
                "resource": meta.get("name"),
                **self.kind.log_fields(body),
            }
        for note in events:
            if fields is not None:
                logger.info("%s: %s", note.reason, note.message, extra={**fields, "event_type": note.type})
            await self._kube.post_event(body, note)
        events.clear()


def _what_the_user_wants(body: dict[str, Any]) -> tuple[object, object]:
    meta = body.get("metadata") or {}
    return meta.get("generation"), meta.get("deletionTimestamp")
