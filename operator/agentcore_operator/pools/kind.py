"""CodeInterpreterSessionPool on the generic reconcile loop: its view, its decision, its writes.

The loop (runtime/reconcile.py) owns the status write before every write of a child,
events, requeue and backoff. What is the pool's own: reading its spec and its free
children (pools/children.py), and the two Kubernetes writes it makes, creating and
deleting a child. A pool holds no finalizer and calls no AWS API: the children are
ordinary sessions, started, confirmed, swept and stopped by the session machinery, and
ownerReference garbage collection deletes them with the pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

import aiohttp

from agentcore_operator.api.v1alpha1 import PLURAL, SpecError
from agentcore_operator.api.v1alpha1.pool import POOL_FINALIZER, PoolSpec, PoolStatus
from agentcore_operator.controller.kube import KubeConflict, KubeError
from agentcore_operator.controller.store import Key
from agentcore_operator.pools.children import PoolChildren, child_name
from agentcore_operator.pools.decision import (
    ChildCreated,
    ChildDeleted,
    CreateChild,
    DeleteChild,
    PoolAction,
    PoolDecision,
    PoolObservation,
    PoolTiming,
    PoolView,
    WriteFailed,
    decide,
    mutates,
)
from agentcore_operator.runtime.conditions import ready_reason
from agentcore_operator.runtime.meta import ResourceMeta

CONFLICT_STATUSES = frozenset({409, 412})


class ChildWrites(Protocol):
    """The writer's create and delete (controller/kube.py's KubeWriter)."""

    async def create(self, plural: str, namespace: str, body: dict[str, Any]) -> dict[str, Any] | None: ...

    async def delete(
        self, plural: str, namespace: str, name: str, uid: str, resource_version: str | None = None
    ) -> None: ...


@dataclass(frozen=True)
class PoolKind:
    """The pool's part of a pass (runtime.reconcile.ResourceKind)."""

    children: PoolChildren
    sessions: ChildWrites
    default_region: str
    timing: PoolTiming = field(default_factory=PoolTiming)

    def view(self, body: dict[str, Any]) -> PoolView:
        meta = ResourceMeta.of(body, POOL_FINALIZER)
        children = self.children.free_children(meta.namespace, meta.name, meta.uid)
        try:
            spec: PoolSpec | None = PoolSpec.from_resource(body, default_region=self.default_region)
        except SpecError as exc:
            return PoolView(meta, None, children, spec_error=str(exc))
        return PoolView(meta, spec, children, next_name=child_name(meta.name))

    def with_finalizer(self, view: PoolView) -> PoolView:
        return replace(view, meta=view.meta.finalized())

    def read_status(self, persisted: dict[str, Any]) -> PoolStatus:
        return PoolStatus.from_dict(persisted)

    def decide(
        self, view: PoolView, status: PoolStatus, observation: PoolObservation | None, now: datetime
    ) -> PoolDecision:
        return decide(view, status, observation, now, self.timing)

    def mutates(self, action: PoolAction) -> bool:
        return mutates(action)

    async def prepare(self, key: Key, body: dict[str, Any], view: PoolView, action: PoolAction) -> None:
        return None

    async def perform(self, action: PoolAction) -> PoolObservation:
        operation = "create" if isinstance(action, CreateChild) else "delete"
        try:
            if isinstance(action, CreateChild):
                if await self.sessions.create(PLURAL, action.namespace, action.manifest) is None:
                    return WriteFailed(action.name, operation, f"namespace {action.namespace} not found")
                return ChildCreated(action.name)
            await self.sessions.delete(
                PLURAL, action.namespace, action.name, action.uid, action.resource_version
            )
            return ChildDeleted(action.name)
        except KubeConflict as exc:
            # 409: the name is taken, or the child changed since it was read (a claim bound it).
            # 422 (the API server refused the manifest) is no race: it is retried with backoff.
            cause = exc.__cause__
            conflict = not isinstance(cause, KubeError) or cause.status in CONFLICT_STATUSES
            return WriteFailed(action.name, operation, str(exc), conflict=conflict)
        except KubeError as exc:
            return WriteFailed(action.name, operation, exc.message, conflict=exc.status in CONFLICT_STATUSES)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return WriteFailed(action.name, operation, f"{type(exc).__name__}: {exc}")

    def acted(self, key: Key, body: dict[str, Any], action: PoolAction, observation: PoolObservation) -> None:
        if isinstance(observation, ChildCreated):
            self.children.expect_created(key, observation.name)
        elif isinstance(observation, ChildDeleted) and isinstance(action, DeleteChild):
            self.children.expect_deleted(key, action.uid)

    def released(self, key: Key, body: dict[str, Any], before: PoolStatus, after: PoolStatus) -> None:
        return None

    def settled(
        self, key: Key, body: dict[str, Any], view: PoolView, before: PoolStatus, after: PoolStatus
    ) -> bool:
        return False

    def log_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        return {}

    def ready_reason(self, status: PoolStatus) -> str | None:
        return ready_reason(status)
