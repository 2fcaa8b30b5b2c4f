"""CodeInterpreter on the generic reconcile loop: its view, its decision, its adapter.

The loop (runtime/reconcile.py) owns the finalizer, the status write before every
mutating call, events, requeue and backoff. What is the interpreter's own: reading its
spec, knowing which sessions use it (in-use protection), and the control-plane calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from agentcore_operator.api.v1alpha1 import SpecError
from agentcore_operator.api.v1alpha1.interpreter import (
    INTERPRETER_FINALIZER,
    InterpreterPhase,
    InterpreterSpec,
    InterpreterStatus,
)
from agentcore_operator.controller.state_machine import Timing
from agentcore_operator.controller.store import Key
from agentcore_operator.interpreters.adapter import InterpreterManager
from agentcore_operator.interpreters.decision import (
    InterpreterCall,
    InterpreterDecision,
    InterpreterTiming,
    InterpreterView,
    decide,
    mutates,
)
from agentcore_operator.interpreters.observations import InterpreterObservation
from agentcore_operator.manager.metrics import Metrics
from agentcore_operator.runtime.meta import ResourceMeta
from agentcore_operator.runtime.reconcile import NoBookkeeping
from agentcore_operator.tenancy.index import UNBOUND, TenancyIndex

UsersOf = Callable[[str, str], tuple[str, ...]]


@dataclass(frozen=True)
class InterpreterKind(NoBookkeeping):
    """The interpreter's part of a pass (runtime.reconcile.ResourceKind).

    Nothing to prepare before a Create beyond the status: its token (from the UID) finds a
    lost interpreter again.
    """

    interpreters: InterpreterManager
    default_region: str
    timing: InterpreterTiming
    users_of: UsersOf  # (namespace, name) -> the sessions that reference it
    metrics: Metrics | None = None
    tenancy: TenancyIndex | None = None  # the namespace's account and default region

    def view(self, body: dict[str, Any]) -> InterpreterView:
        meta = ResourceMeta.of(body, INTERPRETER_FINALIZER)
        tenancy = self.tenancy.for_namespace(meta.namespace) if self.tenancy is not None else UNBOUND
        try:
            spec: InterpreterSpec | None = InterpreterSpec.from_resource(
                body, default_region=tenancy.region or self.default_region
            )
        except SpecError as exc:
            return InterpreterView(meta, None, str(exc), account=tenancy.account_id)
        # Only a deletion asks who uses the interpreter: a scan of the sessions, so not on every pass.
        users = self.users_of(meta.namespace, meta.name) if meta.deleting else ()
        return InterpreterView(meta, spec, users=users, account=tenancy.account_id)

    def with_finalizer(self, view: InterpreterView) -> InterpreterView:
        return replace(view, meta=view.meta.finalized())

    def read_status(self, persisted: dict[str, Any]) -> InterpreterStatus:
        return InterpreterStatus.from_dict(persisted)

    def decide(
        self,
        view: InterpreterView,
        status: InterpreterStatus,
        observation: InterpreterObservation | None,
        now: datetime,
    ) -> InterpreterDecision:
        return decide(view, status, observation, now, self.timing)

    def mutates(self, action: InterpreterCall) -> bool:
        return mutates(action)

    async def perform(self, action: InterpreterCall) -> InterpreterObservation:
        return await self.interpreters.perform(action)

    def settled(
        self,
        key: Key,
        body: dict[str, Any],
        view: InterpreterView,
        before: InterpreterStatus,
        after: InterpreterStatus,
    ) -> bool:
        became_ready = after.phase is InterpreterPhase.READY and before.phase is not InterpreterPhase.READY
        if self.metrics is not None and became_ready:
            self.metrics.interpreters_ready.inc()
        return False

    def log_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"code_interpreter_id": (body.get("status") or {}).get("codeInterpreterId")}

    def ready_reason(self, status: InterpreterStatus) -> str | None:
        condition = status.condition("Ready")
        return condition.reason if condition else None


def interpreter_timing(session: Timing) -> InterpreterTiming:
    """The interpreter's waits, scaled like the session's (tests shorten both at once)."""
    return InterpreterTiming(
        create_poll_seconds=session.start_poll_seconds,
        delete_poll_seconds=session.start_poll_seconds,
        quota_retry_seconds=session.quota_retry_seconds,
        access_denied_retry_seconds=session.access_denied_retry_seconds,
        delete_failure_retry_seconds=session.stop_failure_retry_seconds,
    )
