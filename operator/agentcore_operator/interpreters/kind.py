"""CodeInterpreter on the generic reconcile loop: its view, its decision, its adapter.

The loop (runtime/reconcile.py) owns the finalizer, the status write before every
mutating call, events, requeue and backoff. What is the interpreter's own: reading its
spec, knowing which sessions use it (in-use protection), and the control-plane calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from agentcore_operator.api.v1alpha1 import SpecError
from agentcore_operator.api.v1alpha1.interpreter import (
    INTERPRETER_FINALIZER,
    InterpreterPhase,
    InterpreterSpec,
    InterpreterStatus,
)
from agentcore_operator.controller.kube import KubeConflict
from agentcore_operator.controller.state_machine import Timing
from agentcore_operator.controller.store import Key, Store
from agentcore_operator.interpreters.adapter import InterpreterManager
from agentcore_operator.interpreters.decision import (
    MUTATING_INTERPRETER_ACTIONS,
    InterpreterAction,
    InterpreterDecision,
    InterpreterTiming,
    InterpreterView,
    decide,
)
from agentcore_operator.interpreters.observations import InterpreterObservation
from agentcore_operator.manager.metrics import Metrics
from agentcore_operator.runtime.backoff import Backoff
from agentcore_operator.runtime.reconcile import KubeWrites, ReconcileLoop, utc_now

UsersOf = Callable[[str, str], tuple[str, ...]]


class InterpreterKind:
    """The interpreter's part of a pass (runtime.reconcile.ResourceKind)."""

    def __init__(
        self,
        *,
        interpreters: InterpreterManager,
        default_region: str,
        timing: InterpreterTiming,
        users_of: UsersOf,
        metrics: Metrics | None = None,
    ) -> None:
        self._interpreters = interpreters
        self._default_region = default_region
        self._timing = timing
        self._users_of = users_of
        self._metrics = metrics

    def view(self, body: dict[str, Any]) -> InterpreterView:
        meta = body.get("metadata") or {}
        spec: InterpreterSpec | None = None
        error: str | None = None
        try:
            spec = InterpreterSpec.from_resource(body, default_region=self._default_region)
        except SpecError as exc:
            error = str(exc)
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        deleting = bool(meta.get("deletionTimestamp"))
        return InterpreterView(
            uid=str(meta.get("uid", "")),
            namespace=namespace,
            name=name,
            generation=int(meta.get("generation") or 1),
            spec=spec,
            spec_error=error,
            deleting=deleting,
            has_finalizer=INTERPRETER_FINALIZER in (meta.get("finalizers") or ()),
            users=self._users_of(namespace, name) if deleting else (),
        )

    def with_finalizer(self, view: InterpreterView) -> InterpreterView:
        return replace(view, has_finalizer=True)

    def read_status(self, persisted: dict[str, Any]) -> InterpreterStatus:
        return InterpreterStatus.from_dict(persisted)

    def decide(
        self,
        view: InterpreterView,
        status: InterpreterStatus,
        observation: InterpreterObservation | None,
        now: datetime,
    ) -> InterpreterDecision:
        return decide(view, status, observation, now, self._timing)

    def mutates(self, action: InterpreterAction) -> bool:
        return isinstance(action, MUTATING_INTERPRETER_ACTIONS)

    async def perform(self, action: InterpreterAction) -> InterpreterObservation:
        return await self._interpreters.perform(action)

    def acted(
        self, key: Key, body: dict[str, Any], action: InterpreterAction, observation: InterpreterObservation
    ) -> None:
        return None

    def released(
        self, key: Key, body: dict[str, Any], before: InterpreterStatus, after: InterpreterStatus
    ) -> None:
        return None

    def settled(
        self,
        key: Key,
        body: dict[str, Any],
        view: InterpreterView,
        before: InterpreterStatus,
        after: InterpreterStatus,
    ) -> bool:
        became_ready = after.phase is InterpreterPhase.READY and before.phase is not InterpreterPhase.READY
        if self._metrics is not None and became_ready:
            self._metrics.interpreters_ready.inc()
        return False

    def log_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"code_interpreter_id": (body.get("status") or {}).get("codeInterpreterId")}

    def ready_reason(self, status: InterpreterStatus) -> str | None:
        condition = status.condition("Ready")
        return condition.reason if condition else None


class InterpreterReconciler(
    ReconcileLoop[InterpreterView, InterpreterStatus, InterpreterAction, InterpreterObservation]
):
    """The reconcile loop bound to CodeInterpreter."""

    def __init__(
        self,
        *,
        store: Store,
        kube: KubeWrites,
        interpreters: InterpreterManager,
        default_region: str,
        backoff: Backoff,
        users_of: UsersOf,
        timing: InterpreterTiming | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        kind = InterpreterKind(
            interpreters=interpreters,
            default_region=default_region,
            timing=timing or InterpreterTiming(),
            users_of=users_of,
            metrics=metrics,
        )
        super().__init__(
            kind,
            store=store,
            kube=kube,
            conflict=KubeConflict,
            backoff=backoff,
            errors=metrics.reconcile_errors if metrics is not None else None,
            clock=clock,
        )


def interpreter_timing(session: Timing) -> InterpreterTiming:
    """The interpreter's waits, scaled like the session's (tests shorten both at once)."""
    return InterpreterTiming(
        create_poll_seconds=session.start_poll_seconds,
        delete_poll_seconds=session.start_poll_seconds,
        quota_retry_seconds=session.quota_retry_seconds,
        access_denied_retry_seconds=session.access_denied_retry_seconds,
        delete_failure_retry_seconds=session.stop_failure_retry_seconds,
    )
