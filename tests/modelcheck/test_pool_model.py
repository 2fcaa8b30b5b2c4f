"""Model-checking the CodeInterpreterSessionPool decision with the reconcile loop and the pool kind.

Hypothesis drives the real `ReconcileLoop`, `PoolKind` (with its children index and its
expectations) and `decide()` against a simulated API server holding the pool and its
children. The world does what it does to a pool: children start, become Ready, fail,
expire; claims bind free Ready children (taking them away, with a new resourceVersion);
the user scales; time passes; the watch delivers events late. The operator's writes fail
(refused, or acted with the answer lost) and it crashes at any write (before or after);
a crashed operator restarts with a fresh cache listed from the API server, as it waits for
its cache before the first pass.

Invariants, checked at every write and after every step:
1. A bound child is never deleted by the pool (its delete carries the resourceVersion the
   pool saw; a claim's binding changes it).
2. The pool creates a child only while fewer than `replicas` fresh free children exist
   (children from creates whose answer was lost aside, which it then deletes): so never
   more than replicas + the due ones being replaced + lost creates.
3. The status never reports more ready children than free children.
And at the end, with faults gone and children starting normally: exactly `replicas` free
Ready children with time left, no other live free child, and status Ready.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from agentcore_operator.api.v1alpha1.pool import BOUND, FREE, POOL_STATE_LABEL, PoolSpec
from agentcore_operator.api.v1alpha1.types import format_time
from agentcore_operator.controller.kube import KubeConflict, KubeError
from agentcore_operator.controller.store import Store
from agentcore_operator.pools.children import PoolChildren
from agentcore_operator.pools.decision import PoolTiming, refresh_lead
from agentcore_operator.pools.kind import PoolKind
from agentcore_operator.runtime.backoff import Backoff
from agentcore_operator.runtime.decision import EventNote
from agentcore_operator.runtime.reconcile import ReconcileLoop
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.modelcheck.sim import EPOCH, Crash, CrashPlan, run_model

POOL_UID = "7e4c2a1f-3b5d-4f9a-8c26-6d3e9b0f1c42"
TIMEOUT = 300
MIN_REMAINING = 60
TIMING = PoolTiming(
    refresh_lead_seconds=30, failure_backoff_seconds=2, failure_backoff_cap_seconds=16, resync_seconds=60
)
WRITE_FAULTS = ("refused", "lost", "conflict")
fault_lists = st.lists(st.sampled_from((None, None, *WRITE_FAULTS)), max_size=2)
crash_points = st.sampled_from((None, None, None, 0, 1, 2, 3, 4, 5))


@dataclass
class SimCluster:
    """The pool and its sessions in an API server, with the writes the pool's loop makes."""

    pool: dict[str, Any]
    crash: CrashPlan
    now: datetime = EPOCH
    children: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[str | None] = field(default_factory=list)
    lost_creates: set[str] = field(default_factory=set)  # made by a create whose answer was lost
    claim_races: bool = False  # a claim binds the child the pool is about to delete, just before
    events: list[EventNote] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    _rv: int = 10

    def bump(self, body: dict[str, Any]) -> None:
        self._rv += 1
        body["metadata"]["resourceVersion"] = str(self._rv)

    def _fault(self) -> str | None:
        return self.faults.pop(0) if self.faults else None

    # -- the pool's own writes (runtime.reconcile.KubeWrites) --
    async def patch_status(
        self, body: dict[str, Any], old: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any]:
        self.crash.effect()
        ready, free = new.get("readyReplicas", 0), new.get("replicas", 0)
        if ready > free:
            self.violations.append(f"status readyReplicas {ready} > replicas {free}")
        self.pool["status"] = copy.deepcopy(new)
        self.bump(self.pool)
        self.crash.effect()
        return copy.deepcopy(self.pool)

    async def add_finalizer(self, body: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("a pool holds no finalizer")

    async def remove_finalizer(self, body: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("a pool holds no finalizer")

    async def post_event(self, body: dict[str, Any], note: EventNote) -> None:
        self.events.append(note)

    # -- the children's writes (pools.kind.ChildWrites) --
    async def create(self, plural: str, namespace: str, body: dict[str, Any]) -> dict[str, Any] | None:
        self.crash.effect()
        fault = self._fault()
        if fault == "refused":
            raise KubeError(500, "InternalError", "simulated")
        name = body["metadata"]["name"]
        if name in self.children:
            raise KubeConflict(f"AlreadyExists: {name}") from KubeError(409, "AlreadyExists", name)
        fresh = [c for c in self.fresh_free() if c["metadata"]["name"] not in self.lost_creates]
        if len(fresh) >= self.want():
            self.violations.append(
                f"created {name} with {len(fresh)} fresh free children for {self.want()} wanted"
            )
        child = copy.deepcopy(body)
        child["metadata"].update(uid=f"uid-{name}", creationTimestamp=format_time(self.now))
        child["status"] = {}
        self.bump(child)
        self.children[name] = child
        self.crash.effect()
        if fault == "lost":
            self.lost_creates.add(name)
            raise aiohttp.ServerDisconnectedError()
        return copy.deepcopy(child)

    async def delete(
        self, plural: str, namespace: str, name: str, uid: str, resource_version: str | None = None
    ) -> None:
        self.crash.effect()
        fault = self._fault()
        if fault == "refused":
            raise KubeError(500, "InternalError", "simulated")
        child = self.children.get(name)
        if child is None:
            return
        if self.claim_races and child["status"].get("phase") == "Ready":
            self.bind(child)  # between the pool's read and its write
        if fault == "conflict" or child["metadata"]["uid"] != uid:
            raise KubeConflict(f"Conflict: {name}") from KubeError(409, "Conflict", name)
        if resource_version and child["metadata"]["resourceVersion"] != resource_version:
            raise KubeConflict(f"Conflict: {name}") from KubeError(409, "Conflict", name)
        if child["metadata"]["labels"][POOL_STATE_LABEL] != FREE:
            self.violations.append(f"the pool deleted {name}, bound to a claim")
        if not child["metadata"].get("deletionTimestamp"):
            child["metadata"]["deletionTimestamp"] = format_time(self.now)
            self.bump(child)
        self.crash.effect()
        if fault == "lost":
            raise aiohttp.ServerDisconnectedError()

    def bind(self, child: dict[str, Any]) -> None:
        """What the claim controller does: one merge patch, new labels and owner, new resourceVersion."""
        child["metadata"]["labels"][POOL_STATE_LABEL] = BOUND
        child["metadata"]["ownerReferences"] = [{"uid": "claim-uid", "controller": True}]
        self.bump(child)

    # -- what the world sees --
    def want(self) -> int:
        replicas: int = self.pool["spec"]["replicas"]
        return replicas

    def spec(self) -> PoolSpec:
        return PoolSpec.from_resource(self.pool, default_region="us-east-1")

    def free_live(self) -> list[dict[str, Any]]:
        return [
            c
            for c in self.children.values()
            if c["metadata"]["labels"][POOL_STATE_LABEL] == FREE
            and not c["metadata"].get("deletionTimestamp")
            and c["status"].get("phase") not in ("Failed", "Terminated")
        ]

    def remaining(self, child: dict[str, Any]) -> float | None:
        expires = child["status"].get("expiresAt")
        return (datetime.fromisoformat(expires) - self.now).total_seconds() if expires else None

    def fresh_free(self) -> list[dict[str, Any]]:
        spec = self.spec()
        lead = refresh_lead(spec, TIMING)
        return [
            c
            for c in self.free_live()
            if (r := self.remaining(c)) is None or r - spec.min_remaining_seconds - lead > 0
        ]

    def handable(self) -> list[dict[str, Any]]:
        return [
            c
            for c in self.free_live()
            if c["status"].get("phase") == "Ready" and (self.remaining(c) or 0) >= MIN_REMAINING
        ]


class PoolModel(RuleBasedStateMachine):
    @initialize(replicas=st.integers(0, 3))
    def create(self, replicas: int) -> None:
        self.crash = CrashPlan()
        pool = {
            "apiVersion": "agentcore.dev/v1alpha1",
            "kind": "CodeInterpreterSessionPool",
            "metadata": {
                "name": "p",
                "namespace": "ns",
                "uid": POOL_UID,
                "generation": 1,
                "resourceVersion": "1",
            },
            "spec": {
                "replicas": replicas,
                "template": {"spec": {"sessionTimeoutSeconds": TIMEOUT}},
                "minRemainingSeconds": MIN_REMAINING,
            },
        }
        self.cluster = SimCluster(pool, self.crash)
        self.failing_template = False
        self.loop = asyncio.new_event_loop()
        self._restart()

    def teardown(self) -> None:
        if hasattr(self, "loop"):
            self.loop.close()

    def _restart(self) -> None:
        """A fresh operator: its caches listed from the API server before its first pass."""
        self.sessions = Store()
        self.children = PoolChildren(self.sessions, clock=lambda: (self.cluster.now - EPOCH).total_seconds())
        self.pools = Store()
        self._deliver()
        self.kind = PoolKind(
            children=self.children, sessions=self.cluster, default_region="us-east-1", timing=TIMING
        )
        self.reconciler = ReconcileLoop(
            self.kind,
            store=self.pools,
            kube=self.cluster,
            conflict=KubeConflict,
            backoff=Backoff(),
            clock=lambda: self.cluster.now,
        )

    def _deliver(self) -> None:
        """The watch catches up: every change of the API server reaches the caches."""
        for key in list(self.sessions.keys()):
            if key[1] not in self.cluster.children:
                self.sessions.remove(key)
                self.children.observe(
                    {"type": "DELETED", "object": {"metadata": {"namespace": "ns", "name": key[1]}}}
                )
        for body in self.cluster.children.values():
            snapshot = copy.deepcopy(body)
            self.sessions.put(snapshot)
            self.children.observe({"type": "MODIFIED", "object": snapshot})
        self.pools.put(copy.deepcopy(self.cluster.pool))

    def _pass(self, faults: list[str | None], crash_at: int | None) -> None:
        self.cluster.faults = list(faults)
        self.crash.at = crash_at
        try:
            self.loop.run_until_complete(self.reconciler.reconcile(("ns", "p")))
        except Crash:
            self._restart()
        finally:
            self.crash.at, self.crash.effects = None, 0
            self.cluster.faults = []

    def _pick(self, index: int, *, phase: object = ..., state: str | None = FREE) -> dict[str, Any] | None:
        candidates = [
            c
            for c in sorted(self.cluster.children.values(), key=lambda c: c["metadata"]["name"])
            if not c["metadata"].get("deletionTimestamp")
            and (state is None or c["metadata"]["labels"][POOL_STATE_LABEL] == state)
            and (phase is ... or c["status"].get("phase") == phase)
        ]
        return candidates[index % len(candidates)] if candidates else None

    # -- the operator --
    @rule(faults=fault_lists, crash_at=crash_points, delivered=st.booleans(), claims_race=st.booleans())
    def reconcile(
        self, faults: list[str | None], crash_at: int | None, delivered: bool, claims_race: bool
    ) -> None:
        self.cluster.claim_races = claims_race
        try:
            self._pass(faults, crash_at)
        finally:
            self.cluster.claim_races = False
        if delivered:
            self._deliver()

    @rule()
    def watch_delivers(self) -> None:
        self._deliver()

    # -- the world --
    def _progress(self, child: dict[str, Any]) -> None:
        """One step of a child's start: no status -> Starting -> Ready (or Failed, bad template)."""
        phase = child["status"].get("phase")
        if child["metadata"].get("deletionTimestamp") or phase not in (None, "Starting"):
            return
        if phase is None:
            child["status"] = {"phase": "Starting"}
        elif self.failing_template:
            reason = {"type": "Ready", "status": "False", "reason": "InvalidRequest", "message": "bad"}
            child["status"] = {"phase": "Failed", "conditions": [reason]}
        else:
            now = self.cluster.now
            expires = now + timedelta(seconds=TIMEOUT)
            child["status"] = {
                "phase": "Ready",
                "createdAt": format_time(now),
                "expiresAt": format_time(expires),
            }
        self.cluster.bump(child)

    @rule(index=st.integers(0, 5))
    def a_child_progresses(self, index: int) -> None:
        child = self._pick(index, state=None)
        if child is not None:
            self._progress(child)

    @rule()
    def every_child_progresses(self) -> None:
        for child in list(self.cluster.children.values()):
            self._progress(child)

    @rule(index=st.integers(0, 5))
    def claim_binds(self, index: int) -> None:
        child = self._pick(index, phase="Ready")
        if child is not None:
            self.cluster.bind(child)

    @rule(index=st.integers(0, 5))
    def claim_deleted(self, index: int) -> None:
        child = self._pick(index, state=BOUND)
        if child is not None:
            child["metadata"]["deletionTimestamp"] = format_time(self.cluster.now)
            self.cluster.bump(child)

    @rule()
    def finalizers_stop_sessions(self) -> None:
        for name in [n for n, c in self.cluster.children.items() if c["metadata"].get("deletionTimestamp")]:
            del self.cluster.children[name]

    @rule(seconds=st.sampled_from((1, 5, 60, 200)))
    def time_passes(self, seconds: int) -> None:
        self.cluster.now += timedelta(seconds=seconds)
        for child in self.cluster.children.values():
            if child["status"].get("phase") == "Ready" and (self.cluster.remaining(child) or 0) <= 0:
                child["status"] = {**child["status"], "phase": "Terminated"}
                self.cluster.bump(child)
        self._deliver()  # the watch is seconds behind at most; expectations last 30 s

    @rule(replicas=st.integers(0, 4))
    def scale(self, replicas: int) -> None:
        self.cluster.pool["spec"]["replicas"] = replicas
        self.cluster.pool["metadata"]["generation"] += 1
        self.cluster.bump(self.cluster.pool)
        self._deliver()

    @rule(failing=st.booleans())
    def template_starts_failing(self, failing: bool) -> None:
        self.failing_template = failing

    # -- invariants --
    @invariant()
    def no_violation_at_any_write(self) -> None:
        assert not self.cluster.violations, self.cluster.violations

    def check_liveness(self) -> None:
        self.failing_template = False
        self.cluster.now += timedelta(seconds=TIMING.failure_backoff_cap_seconds + 1)
        for _ in range(40):
            self.finalizers_stop_sessions()
            self._deliver()
            self._pass([], None)
            self._deliver()
            self.every_child_progresses()
            self.every_child_progresses()
            if len(self.cluster.handable()) == self.cluster.want() == len(self.cluster.free_live()):
                break
            self.cluster.now += timedelta(seconds=1)
        want = self.cluster.want()
        assert len(self.cluster.handable()) == want, (len(self.cluster.handable()), want)
        assert len(self.cluster.free_live()) == want
        self._deliver()
        self._pass([], None)
        status = self.cluster.pool["status"]
        assert status["readyReplicas"] == want
        (ready,) = [c for c in status["conditions"] if c["type"] == "Ready"]
        assert ready["status"] == "True", ready


class PoolModelWithLiveness(PoolModel):
    def teardown(self) -> None:
        try:
            if hasattr(self, "cluster") and not self.cluster.violations:
                self.check_liveness()
        finally:
            super().teardown()


def _run(examples: int, steps: int) -> None:
    run_model(PoolModelWithLiveness, examples, steps)


def test_pool_decision_keeps_its_invariants() -> None:
    _run(examples=200, steps=30)


@pytest.mark.slow
def test_pool_decision_keeps_its_invariants_at_length() -> None:
    _run(examples=1000, steps=50)
