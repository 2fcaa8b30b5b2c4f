"""CodeInterpreterSession on the generic reconcile loop: its decision, its adapter, its bookkeeping.

The loop (runtime/reconcile.py) owns the finalizer, the status write before every mutating
call, events, requeue and backoff. This module gives it what is the session's own:
`decide()` from controller/state_machine.py, the AgentCore calls of aws/sessions.py, and
the bookkeeping around a pass: the quota gate (a Start waiting for its turn, a Start
answered, a slot freed, a resource parked while the quota is full, a turn handed back by a
pass that ended without its Start; see controller/quota.py),
the orphan ledger, the time-to-Ready metric, and the namespace's tenancy (tenancy/index.py):
the account and region a new session starts in, the count of the namespace's live sessions
its limits are checked against, and a wake-up for the namespace's waiting sessions when one
of its sessions ends.

The gate's scope is (account, region); the account and the namespace's fair-share weight
come from `share_of(namespace)` (the tenancy index; ("", 1) without one).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from agentcore_operator.api.v1alpha1 import FINALIZER, Phase, SessionSpec, SessionStatus, SpecError
from agentcore_operator.api.v1alpha1.pool import FREE, POOL_STATE_LABEL
from agentcore_operator.api.v1alpha1.types import parse_time
from agentcore_operator.aws.sessions import SessionManager
from agentcore_operator.controller.export import SessionObjects
from agentcore_operator.controller.kube import KubeConflict
from agentcore_operator.controller.ledger import SessionLedger, StartIntent, entry_of
from agentcore_operator.controller.observations import CallFailed, Observation, SessionStarted
from agentcore_operator.controller.quota import Place, QuotaGate
from agentcore_operator.controller.state_machine import (
    MUTATING_ACTIONS,
    NAMESPACE_LIMIT_REACHED,
    AwsAction,
    Decision,
    DeleteResource,
    ExportConfigMap,
    ResourceView,
    StartSession,
    Timing,
    decide,
    start_token,
)
from agentcore_operator.controller.store import Key, Store, key_of
from agentcore_operator.interpreters.references import InterpreterLookup, resolve_ref
from agentcore_operator.manager.metrics import Metrics
from agentcore_operator.runtime.backoff import Backoff
from agentcore_operator.runtime.errors import ApiError, ErrorKind
from agentcore_operator.runtime.reconcile import KubeWrites, Outcome, ReconcileLoop, utc_now
from agentcore_operator.tenancy.index import UNBOUND, NamespaceTenancy, TenancyIndex

__all__ = ["Outcome", "Reconciler", "SessionKind", "utc_now"]

LIVE_PHASES = (Phase.READY, Phase.STARTING, Phase.STOPPING)
# account (the quota's owner; "" is the operator's own) and fair-share weight of a namespace
NamespaceShare = Callable[[str], tuple[str, int]]
Scope = tuple[str, str]  # (account, region): what AgentCore's session quota counts


def own_account(namespace: str) -> tuple[str, int]:
    """Every namespace in the operator's own account, with equal weight."""
    return "", 1


LIVE_PHASE_NAMES = frozenset(phase.value for phase in LIVE_PHASES)
# A Start decided but not yet written as Starting counts against its namespace's limit; a pass
# that failed between the two must not hold the place for ever.
RESERVATION_SECONDS = 30.0


class SessionKind:
    """The session's part of a pass (runtime.reconcile.ResourceKind)."""

    def __init__(
        self,
        *,
        sessions: SessionManager,
        default_region: str,
        timing: Timing,
        quota: QuotaGate | None = None,
        ledger: SessionLedger | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utc_now,
        interpreter_of: InterpreterLookup | None = None,
        objects: SessionObjects | None = None,
        share_of: NamespaceShare = own_account,
        tenancy: TenancyIndex | None = None,
        store: Store | None = None,
        requeue: Callable[[Key], None] | None = None,
    ) -> None:
        self._interpreter_of = interpreter_of
        self._share_of = share_of
        # Starts that wait for their turn at the gate, by client token: set in prepare(),
        # taken in perform(). Replays and Starts of a resource being deleted never wait.
        self._turns: dict[str, tuple[Scope, Key, Place]] = {}
        self._replays: dict[str, bool] = {}  # by client token, as the latest decision saw it
        self._tenancy = tenancy
        self._store = store
        self._requeue = requeue
        self._reserved: dict[Key, float] = {}  # Starts decided, not yet in the store as Starting
        self._sessions = sessions
        self._objects = objects
        self._default_region = default_region
        self._timing = timing
        self._quota = quota
        self._ledger = ledger
        self._metrics = metrics
        self._clock = clock

    def view(self, body: dict[str, Any]) -> ResourceView:
        meta = body.get("metadata") or {}
        namespace = str(meta.get("namespace", ""))
        tenancy = self._tenancy.for_namespace(namespace) if self._tenancy is not None else UNBOUND
        spec: SessionSpec | None = None
        error: str | None = None
        try:
            # The namespace's policy sets the region of sessions that name none.
            spec = SessionSpec.from_resource(body, default_region=tenancy.region or self._default_region)
        except SpecError as exc:
            error = str(exc)
        waiting: str | None = None
        if spec is not None and spec.code_interpreter_ref is not None:
            spec, waiting = resolve_ref(spec, str(meta.get("namespace", "")), self._interpreter_of)
        blocked = (
            spec is not None
            and self._quota is not None
            and self._quota.blocked(self._scope(body, spec.region), key_of(body), pooled=_pooled(body))
        )
        return ResourceView(
            uid=str(meta.get("uid", "")),
            namespace=namespace,
            name=str(meta.get("name", "")),
            generation=int(meta.get("generation") or 1),
            spec=spec,
            spec_error=error,
            deleting=bool(meta.get("deletionTimestamp")),
            has_finalizer=FINALIZER in (meta.get("finalizers") or ()),
            start_blocked=blocked,
            interpreter_ref_waiting=waiting,
            tenancy=tenancy,
        )

    def namespace_live(self, namespace: str, key: Key) -> int:
        """Live sessions of the namespace's other resources: Starting, Ready or Stopping in the
        store, and Starts decided in passes that have not written Starting yet."""
        if self._store is None:
            return 0
        now = time.monotonic()
        live = {
            key_of(other)
            for other in self._store.in_namespace(namespace)
            if str((other.get("status") or {}).get("phase")) in LIVE_PHASE_NAMES
        }
        live |= {
            k for k, at in self._reserved.items() if k[0] == namespace and now - at < RESERVATION_SECONDS
        }
        live.discard(key)
        return len(live)

    def with_finalizer(self, view: ResourceView) -> ResourceView:
        return replace(view, has_finalizer=True)

    def read_status(self, persisted: dict[str, Any]) -> SessionStatus:
        return SessionStatus.from_dict(persisted)

    def decide(
        self, view: ResourceView, status: SessionStatus, observation: Observation | None, now: datetime
    ) -> Decision:
        if view.tenancy.limits.max_sessions is not None and status.session_id is None:
            # Counted at each step, not once per pass: another pass may have started one since
            # this one began (between its finalizer write and its Start, say).
            view = replace(
                view, namespace_live=self.namespace_live(view.namespace, (view.namespace, view.name))
            )
        decision = decide(view, status, observation, now, self._timing)
        action = decision.action
        if isinstance(action, StartSession):
            # A replay may have started a session already: it is never held back.
            self._replays[action.client_token] = status.pending_start_token == action.client_token
        if isinstance(decision.action, StartSession) and view.tenancy.limits.max_sessions is not None:
            # Counted from now on: two passes deciding at once must not both see room for one.
            self._reserved[(view.namespace, view.name)] = time.monotonic()
        return decision

    def mutates(self, action: AwsAction) -> bool:
        return isinstance(action, MUTATING_ACTIONS)

    async def prepare(self, key: Key, body: dict[str, Any], view: ResourceView, action: AwsAction) -> None:
        """A Start's intent is in the ledger before the Start is sent (see controller/ledger.py);
        a first Start (not a replay, not while deleting) will wait for its turn at the gate."""
        self._reserved.pop(key, None)  # its status, Starting, is in the store now: counted from there
        if not isinstance(action, StartSession):
            return
        replay = self._replays.pop(action.client_token, False)
        if self._quota is not None and not replay and not view.deleting:
            self._turns[action.client_token] = (self._scope(body, action.region), key, self._place(body))
        if self._ledger is None:
            return
        policy = view.spec.deletion_policy.value if view.spec else "Delete"
        intent = StartIntent(
            token=action.client_token,
            uid=view.uid,
            namespace=view.namespace,
            name=view.name,
            region=action.region,
            interpreter=action.interpreter,
            session_name=action.name,
            timeout_seconds=action.timeout_seconds,
            policy=policy,
            account=action.account,
            role_arn=_role_arn(view.tenancy, action.account),
        )
        await self._ledger.record_intent(intent)

    async def perform(self, action: AwsAction) -> Observation:
        if isinstance(action, ExportConfigMap | DeleteResource):
            if self._objects is None:
                raise RuntimeError(f"{type(action).__name__} needs Kubernetes object access (objects=)")
            return await self._objects.perform(action)
        turn = self._turns.pop(action.client_token, None) if isinstance(action, StartSession) else None
        if turn is None or self._quota is None:
            return await self._sessions.perform(action)
        scope, key, place = turn
        if not await self._quota.admit(scope, key, place):
            return CallFailed(_not_sent(scope))
        try:
            return await self._sessions.perform(action)
        except BaseException:
            self._quota.answered(scope, key)  # nothing was answered: the turn goes to the next
            raise

    def acted(self, key: Key, body: dict[str, Any], action: AwsAction, observation: Observation) -> None:
        if self._quota is None or not isinstance(action, StartSession):
            return
        scope = self._scope(body, action.region)
        if isinstance(observation, SessionStarted):
            self._quota.started(scope, key)
        elif isinstance(observation, CallFailed) and observation.error.kind is ErrorKind.QUOTA_EXCEEDED:
            place = self._place(body)
            self._quota.exceeded(scope, key, place.created, weight=place.weight, pooled=place.pooled)
        else:
            self._quota.answered(scope, key)

    def released(self, key: Key, body: dict[str, Any], before: SessionStatus, after: SessionStatus) -> None:
        self._reserved.pop(key, None)
        if before.phase in LIVE_PHASES or after.phase in LIVE_PHASES:
            self.room_freed(key[0])
        if self._ledger is not None:
            for session_id in (after.session_id, after.next_session_id, after.previous_session_id):
                if session_id:
                    self._ledger.forget(session_id)
            self._resolve_intents(str((body.get("metadata") or {}).get("uid", "")), after)
        self._session_ended(body, before, after)

    def settled(
        self, key: Key, body: dict[str, Any], view: ResourceView, before: SessionStatus, after: SessionStatus
    ) -> bool:
        self._reserved.pop(key, None)
        self._track(body, view, after)
        self._observe_ready(body, before, after)
        self._session_ended(body, before, after)
        if before.phase in LIVE_PHASES and after.phase not in LIVE_PHASES:
            self.room_freed(key[0])
        self._count_restart(before, after)
        self._handover_bookkeeping(key, body, view, before, after)
        return self._waits_for_quota(key, body, after, view)

    def log_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"session_id": (body.get("status") or {}).get("sessionId")}

    def ready_reason(self, status: SessionStatus) -> str | None:
        condition = status.condition("Ready")
        return condition.reason if condition else None

    @contextlib.contextmanager
    def turn_kept_for_the_pass(self, key: Key) -> Iterator[None]:
        """A turn the resource holds as its pass begins is for this pass: if the pass ends
        without sending its Start (a failed status write, a conflict, a new spec), the turn
        goes back to the gate's line at once rather than idling until it expires."""
        ticket = self._quota.turn(key) if self._quota is not None else None
        try:
            yield
        finally:
            if ticket is not None and self._quota is not None:
                self._quota.unused(key, ticket)

    # -- bookkeeping -------------------------------------------------------------------

    def room_freed(self, namespace: str) -> None:
        """A session of the namespace ended (or its resource went): its waiting sessions look again.

        All of them: the first pass to decide takes the place (and reserves it), the others
        find the namespace full again and write nothing.
        """
        if self._store is None or self._requeue is None:
            return
        if self._tenancy is None or self._tenancy.for_namespace(namespace).limits.max_sessions is None:
            # No limit, nothing waits for room. (A limit just removed requeues the namespace's
            # sessions through the tenancy change itself.) Without this, every session that
            # ends walks its whole namespace: quadratic at a thousand sessions in one.
            return
        for body in self._store.in_namespace(namespace):
            conditions = (body.get("status") or {}).get("conditions") or ()
            if any(
                c.get("type") == "Ready" and c.get("reason") == NAMESPACE_LIMIT_REACHED for c in conditions
            ):
                self._requeue(key_of(body))

    def _waits_for_quota(
        self, key: Key, body: dict[str, Any], status: SessionStatus, view: ResourceView
    ) -> bool:
        """Park a resource refused for quota: the gate requeues it when capacity frees up."""
        if self._quota is None or view.spec is None or status.session_id is not None or view.deleting:
            return False
        if self.ready_reason(status) != ErrorKind.QUOTA_EXCEEDED.value:
            return False
        self._park(key, body, view.spec.region)
        return True

    def _scope(self, body: dict[str, Any], region: str) -> Scope:
        account, _ = self._share_of(str((body.get("metadata") or {}).get("namespace", "")))
        return account, region

    def _place(self, body: dict[str, Any]) -> Place:
        _, weight = self._share_of(str((body.get("metadata") or {}).get("namespace", "")))
        return Place(_created(body), weight, _pooled(body))

    def _park(self, key: Key, body: dict[str, Any], region: str) -> None:
        if self._quota is not None:
            place = self._place(body)
            scope = self._scope(body, region)
            self._quota.park(scope, key, place.created, weight=place.weight, pooled=place.pooled)

    def _track(self, body: dict[str, Any], view: ResourceView, status: SessionStatus) -> None:
        """Keep the ledger entries of the resource's sessions in step with it (policy changes
        included): the session, a successor being started, a predecessor not yet stopped."""
        if self._ledger is None:
            return
        if status.pending_start_token is None:  # no Start left unresolved: its intent has served
            self._resolve_intents(view.uid, status)
        if not status.region:
            return
        policy = view.spec.deletion_policy.value if view.spec else "Delete"
        interpreter = status.code_interpreter_identifier or ""
        account = status.account_id or ""
        where = (status.region, interpreter, policy, account, _role_arn(view.tenancy, account))
        if status.next_session_id:
            self._ledger.record(entry_of(body, status.next_session_id, *where))
        if status.previous_session_id:
            if status.previous_stop_at is not None:
                self._ledger.record(entry_of(body, status.previous_session_id, *where))
            else:  # a stopped predecessor is no orphan
                self._ledger.forget(status.previous_session_id)
        if not status.session_id:
            return
        if status.phase is Phase.TERMINATED:
            self._ledger.forget(status.session_id)
            return
        self._ledger.record(entry_of(body, status.session_id, *where))

    def _resolve_intents(self, uid: str, status: SessionStatus) -> None:
        """Drop the Start intents of this resource's latest Starts (each restart has its own token)."""
        if self._ledger is None:
            return
        latest = status.restart_count or 0
        for restart in range(max(0, latest - 2), latest + 1):
            self._ledger.resolve_intent(start_token(uid, restart))

    def _count_restart(self, before: SessionStatus, after: SessionStatus) -> None:
        """agentcore_session_restarts_total, by why the restart began: Renewal, Expired or Stopped."""
        if self._metrics is None or (after.restart_count or 0) <= (before.restart_count or 0):
            return
        if after.session_id is not None and after.session_id == before.session_id:
            reason = "Renewal"
        elif before.expires_at is not None and self._clock() >= before.expires_at - timedelta(seconds=1):
            reason = "Expired"
        else:
            reason = "Stopped"
        self._metrics.session_restarts.labels(reason).inc()

    def _handover_bookkeeping(
        self, key: Key, body: dict[str, Any], view: ResourceView, before: SessionStatus, after: SessionStatus
    ) -> None:
        """Two sessions of one resource count against the quota during an overlap: a stopped
        predecessor frees a slot, and a renewal refused for quota waits in the gate's line."""
        if self._quota is None or not after.region:
            return
        if before.previous_stop_at is not None and after.previous_stop_at is None:
            self._quota.freed(self._scope(body, after.region))
        handover = after.condition("Handover")
        if (
            handover is not None
            and handover.reason == ErrorKind.QUOTA_EXCEEDED.value
            and view.spec is not None
        ):
            self._park(key, body, view.spec.region)

    def _session_ended(self, body: dict[str, Any], before: SessionStatus, after: SessionStatus) -> None:
        """A session of ours stopped or expired: its quota slot is free for a waiting one."""
        # Only a pass that ends the session: one that merely looks at a live session frees nothing,
        # nor does a Start refused before any session was made (Starting, then Pending).
        ended = (
            before.phase in LIVE_PHASES and after.phase not in LIVE_PHASES and before.session_id is not None
        )
        if self._quota is not None and after.region and ended:
            self._quota.freed(self._scope(body, after.region))

    def _observe_ready(self, body: dict[str, Any], before: SessionStatus, after: SessionStatus) -> None:
        if self._metrics is None or before.phase is Phase.READY or after.phase is not Phase.READY:
            return
        created = parse_time((body.get("metadata") or {}).get("creationTimestamp"))
        if created is not None:
            self._metrics.time_to_ready.observe(max(0.0, (self._clock() - created).total_seconds()))


class Reconciler(ReconcileLoop[ResourceView, SessionStatus, AwsAction, Observation]):
    """The reconcile loop bound to CodeInterpreterSession."""

    def __init__(
        self,
        *,
        store: Store,
        kube: KubeWrites,
        sessions: SessionManager,
        default_region: str,
        timing: Timing,
        backoff: Backoff,
        quota: QuotaGate | None = None,
        ledger: SessionLedger | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utc_now,
        interpreter_of: InterpreterLookup | None = None,
        objects: SessionObjects | None = None,
        share_of: NamespaceShare = own_account,
        tenancy: TenancyIndex | None = None,
        requeue: Callable[[Key], None] | None = None,
    ) -> None:
        kind = SessionKind(
            sessions=sessions,
            default_region=default_region,
            timing=timing,
            quota=quota,
            ledger=ledger,
            metrics=metrics,
            clock=clock,
            interpreter_of=interpreter_of,
            objects=objects,
            share_of=share_of,
            tenancy=tenancy,
            store=store,
            requeue=requeue,
        )
        self.session_kind = kind
        super().__init__(
            kind,
            store=store,
            kube=kube,
            conflict=KubeConflict,
            backoff=backoff,
            errors=metrics.reconcile_errors if metrics is not None else None,
            clock=clock,
            around_pass=kind.turn_kept_for_the_pass,
        )


def _role_arn(tenancy: NamespaceTenancy, account: str) -> str:
    """The role a session in `account` is acted on with, when the namespace's policy names it."""
    if tenancy.role is not None and tenancy.role.account_id == account:
        return tenancy.role.role_arn
    return ""


def _created(body: dict[str, Any]) -> str:
    return str((body.get("metadata") or {}).get("creationTimestamp", ""))


def _pooled(body: dict[str, Any]) -> bool:
    """A free child of a CodeInterpreterSessionPool: the gate's lowest class."""
    labels = (body.get("metadata") or {}).get("labels") or {}
    return labels.get(POOL_STATE_LABEL) == FREE


def _not_sent(scope: Scope) -> ApiError:
    """The answer to a Start the gate held back: AgentCore refused one for quota a moment ago."""
    account, region = scope
    where = f"{region} (account {account})" if account else region
    return ApiError(
        ErrorKind.QUOTA_EXCEEDED,
        "StartCodeInterpreterSession",
        "ServiceQuotaExceededException",
        f"not sent: the concurrent session quota in {where} was reported reached; "
        "the Start waits in line for a session to end",
    )
