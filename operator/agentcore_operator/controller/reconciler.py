"""One reconcile pass for one resource: decide, act, repeat until the decision is to wait.

This is the only place that joins the state machine to the outside world. The rule it
keeps: the status is persisted before any mutating AWS call (Start, Stop), so a crash
never loses the knowledge that a call may have happened; everything else is written once,
at the end of the pass, and only if it changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from agentcore_operator.api.v1alpha1 import FINALIZER, Phase, SessionSpec, SessionStatus, SpecError
from agentcore_operator.api.v1alpha1.types import parse_time
from agentcore_operator.aws.sessions import SessionManager
from agentcore_operator.controller.kube import KubeConflict, KubeWriter
from agentcore_operator.controller.ledger import SessionLedger, entry_of
from agentcore_operator.controller.observations import CallFailed, Observation, SessionStarted
from agentcore_operator.controller.quota import QuotaGate
from agentcore_operator.controller.state_machine import (
    MUTATING_ACTIONS,
    AddFinalizer,
    Decision,
    EventNote,
    RemoveFinalizer,
    ResourceView,
    StartSession,
    Timing,
    decide,
)
from agentcore_operator.controller.store import Key, Store, key_of
from agentcore_operator.manager.metrics import Metrics
from agentcore_operator.runtime.backoff import Backoff
from agentcore_operator.runtime.errors import ErrorKind

logger = logging.getLogger("agentcore_operator.reconciler")

MAX_STEPS = 8  # a pass takes at most: finalizer, check, start, read; more means a loop
CONFLICT_RETRY_SECONDS = 0.5


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Outcome:
    """What a pass asks of the queue: requeue after `requeue_after` seconds, or not at all."""

    requeue_after: float | None


class Reconciler:
    def __init__(
        self,
        *,
        store: Store,
        kube: KubeWriter,
        sessions: SessionManager,
        default_region: str,
        timing: Timing,
        backoff: Backoff,
        quota: QuotaGate | None = None,
        ledger: SessionLedger | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._kube = kube
        self._sessions = sessions
        self._default_region = default_region
        self._timing = timing
        self._backoff = backoff
        self._quota = quota
        self._ledger = ledger
        self._metrics = metrics
        self._clock = clock

    def view(self, body: dict[str, Any]) -> ResourceView:
        meta = body.get("metadata") or {}
        spec: SessionSpec | None = None
        error: str | None = None
        try:
            spec = SessionSpec.from_resource(body, default_region=self._default_region)
        except SpecError as exc:
            error = str(exc)
        blocked = (
            spec is not None and self._quota is not None and self._quota.blocked(spec.region, key_of(body))
        )
        return ResourceView(
            uid=str(meta.get("uid", "")),
            namespace=str(meta.get("namespace", "")),
            name=str(meta.get("name", "")),
            generation=int(meta.get("generation") or 1),
            spec=spec,
            spec_error=error,
            deleting=bool(meta.get("deletionTimestamp")),
            has_finalizer=FINALIZER in (meta.get("finalizers") or ()),
            start_blocked=blocked,
        )

    async def reconcile(self, key: Key, hint: Observation | None = None) -> Outcome:
        body = self._store.get(key)
        if body is None:
            return Outcome(None)
        try:
            return await self._reconcile(body, hint)
        except KubeConflict as exc:
            logger.debug("conflict writing %s/%s, retrying: %s", *key, exc)
            return Outcome(CONFLICT_RETRY_SECONDS)

    async def _reconcile(self, body: dict[str, Any], hint: Observation | None) -> Outcome:
        key = key_of(body)
        resource = self.view(body)
        persisted = dict(body.get("status") or {})
        persisted.pop("kopf", None)
        status = SessionStatus.from_dict(persisted)
        start_phase = status.phase
        observation = hint
        events: list[EventNote] = []
        decision: Decision | None = None

        for _ in range(MAX_STEPS):
            decision = decide(resource, status, observation, self._clock(), self._timing)
            status = decision.status
            events.extend(decision.events)
            action = decision.action
            if action is None:
                break
            if isinstance(action, AddFinalizer):
                body = await self._kube.add_finalizer(body) or body
                self._store.put(body)
                resource = replace(resource, has_finalizer=True)
                observation = None
                continue
            if isinstance(action, RemoveFinalizer):
                await self._post(body, events)
                await self._kube.remove_finalizer(body)
                if self._ledger is not None and status.session_id:
                    self._ledger.forget(status.session_id)
                self._backoff.succeeded(key)
                self._session_ended(status, start_phase)
                return Outcome(None)
            if isinstance(action, MUTATING_ACTIONS):
                body, persisted = await self._write_status(body, persisted, status)
            observation = await self._sessions.perform(action)
            if isinstance(action, StartSession):
                self._start_answered(key, body, action, observation)
        else:
            logger.error("reconcile of %s/%s did not settle in %d steps", *key, MAX_STEPS)

        body, persisted = await self._write_status(body, persisted, status)
        await self._post(body, events)
        self._track(body, resource, status)
        self._observe_ready(body, start_phase, status)
        self._session_ended(status, start_phase)
        if self._waits_for_quota(key, body, status, resource):
            return Outcome(None)  # the quota gate requeues it when capacity frees up
        return Outcome(self._requeue(key, decision))

    def _start_answered(
        self, key: Key, body: dict[str, Any], action: StartSession, observation: Observation
    ) -> None:
        if self._quota is None:
            return
        if isinstance(observation, SessionStarted):
            self._quota.started(action.region, key)
        elif isinstance(observation, CallFailed) and observation.error.kind is ErrorKind.QUOTA_EXCEEDED:
            created = str((body.get("metadata") or {}).get("creationTimestamp", ""))
            self._quota.exceeded(action.region, key, created)

    def _waits_for_quota(
        self, key: Key, body: dict[str, Any], status: SessionStatus, resource: ResourceView
    ) -> bool:
        condition = status.condition("Ready")
        if self._quota is None or resource.spec is None or status.session_id is not None:
            return False
        if condition is None or condition.reason != ErrorKind.QUOTA_EXCEEDED.value or resource.deleting:
            return False
        created = str((body.get("metadata") or {}).get("creationTimestamp", ""))
        self._quota.park(resource.spec.region, key, created)
        self._backoff.succeeded(key)
        return True

    def _track(self, body: dict[str, Any], resource: ResourceView, status: SessionStatus) -> None:
        """Keep the ledger entry of the session in step with the resource (policy changes included)."""
        if self._ledger is None or not status.session_id or not status.region:
            return
        if status.phase is Phase.TERMINATED:
            self._ledger.forget(status.session_id)
            return
        policy = resource.spec.deletion_policy.value if resource.spec else "Delete"
        interpreter = status.code_interpreter_identifier or ""
        self._ledger.record(entry_of(body, status.session_id, status.region, interpreter, policy))

    def _session_ended(self, status: SessionStatus, start_phase: Phase | None) -> None:
        """A session of ours stopped or expired: its quota slot is free for a waiting one."""
        if (
            self._quota is not None
            and status.region
            and start_phase in (Phase.READY, Phase.STARTING, Phase.STOPPING)
        ):
            self._quota.freed(status.region)

    def _requeue(self, key: Key, decision: Decision | None) -> float | None:
        if decision is None:
            return None
        if decision.backoff:
            condition = decision.status.condition("Ready")
            if self._metrics is not None and condition is not None:
                self._metrics.reconcile_errors.labels(condition.reason).inc()
            return self._backoff.failed(key, floor=decision.requeue_after or 0.0)
        self._backoff.succeeded(key)
        return decision.requeue_after

    async def _write_status(
        self, body: dict[str, Any], persisted: dict[str, Any], status: SessionStatus
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
        session_id = (body.get("status") or {}).get("sessionId")
        for note in events:
            meta = body.get("metadata") or {}
            logger.info(
                "%s: %s",
                note.reason,
                note.message,
                extra={
                    "namespace": meta.get("namespace"),
                    "resource": meta.get("name"),
                    "session_id": session_id,
                    "event_type": note.type,
                },
            )
            await self._kube.post_event(body, note)
        events.clear()

    def _observe_ready(self, body: dict[str, Any], old: Phase | None, status: SessionStatus) -> None:
        if self._metrics is None or old is Phase.READY or status.phase is not Phase.READY:
            return
        created = parse_time((body.get("metadata") or {}).get("creationTimestamp"))
        if created is not None:
            self._metrics.time_to_ready.observe(max(0.0, (self._clock() - created).total_seconds()))
