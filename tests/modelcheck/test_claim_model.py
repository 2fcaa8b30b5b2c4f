"""Model-checking claim binding: several claims racing for a few pooled children, with crashes and 409s.

Hypothesis drives the real `ReconcileLoop`, `ClaimKind`, `ChildIndex` and `decide()` of
two operator processes against a simulated API server holding one pool's children and
the claims. Each process has its own cache of the children, refreshed only now and then
(so it binds from a stale resourceVersion and meets 409s); its own writes' answers are
in its cache at once, as in the operator. A crash is an exception at a chosen write
(before it, or after it acted with the answer lost) that ends the pass as SIGKILL would;
the process then lists afresh. Children start (Pending -> Ready), claims are created (some
with ttlSecondsUnbound) and deleted (garbage collection deletes their children, whose
finalizer stops the session), and time passes.

Invariants, checked after every step:
1. No session is bound to two claims: no two live claims' status names one child, and a
   claim's status names only a child labelled with it and owned by its uid.
2. No child is lost: every child is free in its pool (labelled free, owned by the pool,
   no claim label), or bound to exactly one live claim (labelled with it, owned by its
   uid). A deleted claim's children are gone (stopped) with it.
And at the end, with crashes gone and every child started: every live claim is Bound or
Failed, and every child labelled with a claim is the one that claim's status names (none
stranded by a crash between the child's patch and the claim's status write).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from agentcore_operator.claims.children import ChildIndex
from agentcore_operator.claims.decision import ClaimTiming
from agentcore_operator.claims.kind import ClaimKind
from agentcore_operator.controller.kube import KubeConflict
from agentcore_operator.controller.store import Store
from agentcore_operator.runtime.backoff import Backoff
from agentcore_operator.runtime.decision import EventNote
from agentcore_operator.runtime.reconcile import ReconcileLoop
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from tests.modelcheck.sim import Crash, CrashPlan, run_model

NAMESPACE = "team"
POOL = {
    "metadata": {"name": "p", "namespace": NAMESPACE, "uid": "pool-uid"},
    "spec": {"minRemainingSeconds": 60, "template": {"spec": {"sessionTimeoutSeconds": 900}}},
}
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
CLAIMS = ("a", "b", "c", "d", "e")
crash_points = st.sampled_from((None, None, None, 0, 1, 2, 3))


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class SimCluster:
    """The API server: the pool's children and the claims, with resourceVersions, GC and crashes."""

    def __init__(self, crash: CrashPlan) -> None:
        self.crash = crash
        self.now = EPOCH
        self.version = itertools.count(1)
        self.uids = itertools.count(1)
        self.sessions: dict[str, dict[str, Any]] = {}
        self.claims: dict[str, dict[str, Any]] = {}
        self.stopped: set[str] = set()  # children deleted (their finalizer stopped the session)

    def _stamp(self, body: dict[str, Any]) -> dict[str, Any]:
        body["metadata"]["resourceVersion"] = str(next(self.version))
        return copy.deepcopy(body)

    def add_free_child(self, name: str) -> None:
        owner = {"kind": "CodeInterpreterSessionPool", "name": "p", "uid": "pool-uid", "controller": True}
        body = {
            "metadata": {
                "name": name,
                "namespace": NAMESPACE,
                "uid": f"uid-{next(self.uids)}",
                "labels": {"agentcore.dev/pool": "p", "agentcore.dev/pool-state": "free"},
                "ownerReferences": [owner],
            },
            "spec": {},
            "status": {"phase": "Pending"},
        }
        self.sessions[name] = body
        self._stamp(body)

    def start_all(self) -> None:
        for name, body in self.sessions.items():
            if body["status"].get("phase") == "Pending":
                body["status"] = {
                    "phase": "Ready",
                    "sessionId": f"sess-{name}",
                    "expiresAt": stamp(self.now + timedelta(seconds=900)),
                }
                self._stamp(body)

    def add_claim(self, name: str, ttl_unbound: int | None) -> None:
        spec: dict[str, Any] = {"poolRef": {"name": "p"}}
        if ttl_unbound is not None:
            spec["ttlSecondsUnbound"] = ttl_unbound
        body = {
            "metadata": {
                "name": name,
                "namespace": NAMESPACE,
                "uid": f"claim-uid-{next(self.uids)}",
                "generation": 1,
                "creationTimestamp": stamp(self.now),
            },
            "spec": spec,
        }
        self.claims[name] = body
        self._stamp(body)

    def delete_claim(self, name: str) -> None:
        body = self.claims.pop(name)
        for child, child_body in list(self.sessions.items()):  # ownerReference GC
            if any(
                r.get("uid") == body["metadata"]["uid"] for r in child_body["metadata"]["ownerReferences"]
            ):
                self._delete_child(child)

    def _delete_child(self, name: str) -> None:
        self.sessions.pop(name, None)
        self.stopped.add(name)

    # -- ClaimWrites and KubeWrites ----------------------------------------------------

    async def merge_patch(
        self, plural: str, namespace: str, name: str, patch: dict[str, Any]
    ) -> dict[str, Any] | None:
        self.crash.effect()
        body = self.sessions.get(name)
        if body is None:
            return None
        meta = patch["metadata"]
        if meta.get("resourceVersion") not in (None, body["metadata"]["resourceVersion"]):
            raise KubeConflict("the object has been modified")
        body["metadata"]["labels"].update(meta.get("labels") or {})
        if "ownerReferences" in meta:
            body["metadata"]["ownerReferences"] = copy.deepcopy(meta["ownerReferences"])
        answer = self._stamp(body)
        self.crash.effect()
        return answer

    async def create(self, plural: str, namespace: str, body: dict[str, Any]) -> dict[str, Any] | None:
        self.crash.effect()
        name = body["metadata"]["name"]
        if name in self.sessions:
            raise KubeConflict(f"AlreadyExists: {name}")
        created = copy.deepcopy(body)
        created["metadata"]["uid"] = f"uid-{next(self.uids)}"
        created["status"] = {"phase": "Pending"}
        self.sessions[name] = created
        answer = self._stamp(created)
        self.crash.effect()
        return answer

    async def read(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        body = self.sessions.get(name)
        return copy.deepcopy(body) if body is not None else None

    async def delete(
        self, plural: str, namespace: str, name: str, uid: str, resource_version: str | None = None
    ) -> None:
        self.crash.effect()
        if plural == "codeinterpretersessions":
            body = self.sessions.get(name)
            if body is not None and body["metadata"]["uid"] == uid:
                self._delete_child(name)
        elif name in self.claims and self.claims[name]["metadata"]["uid"] == uid:
            self.delete_claim(name)

    async def patch_status(
        self, body: dict[str, Any], old: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any] | None:
        self.crash.effect()
        current = self.claims.get(body["metadata"]["name"])
        if current is None or current["metadata"]["uid"] != body["metadata"]["uid"]:
            return None
        current["status"] = copy.deepcopy(new)
        return self._stamp(current)

    async def add_finalizer(self, body: dict[str, Any]) -> dict[str, Any] | None:
        raise AssertionError("a claim has no finalizer")

    async def remove_finalizer(self, body: dict[str, Any]) -> dict[str, Any] | None:
        raise AssertionError("a claim has no finalizer")

    async def post_event(self, body: dict[str, Any], note: EventNote) -> None:
        return None


class Process:
    """One operator process: its cache of the children (stale until refreshed) and its index."""

    def __init__(self, cluster: SimCluster) -> None:
        self.cluster = cluster
        self.relist()

    def relist(self) -> None:
        self.sessions = Store()
        self.children = ChildIndex(self.sessions)
        for body in self.cluster.sessions.values():
            self.sessions.put(copy.deepcopy(body))
            self.children.put(body)

    def reconcile(self, claim: str) -> None:
        body = self.cluster.claims.get(claim)
        if body is None:
            return
        claims = Store()
        claims.put(copy.deepcopy(body))
        kind = ClaimKind(
            sessions=self.sessions,
            children=self.children,
            pool_lookup=lambda namespace, name: POOL if name == "p" else None,
            kube=self.cluster,
            timing=ClaimTiming(),
            clock=lambda: self.cluster.now,
        )
        loop = ReconcileLoop(
            kind,
            store=claims,
            kube=self.cluster,
            conflict=KubeConflict,
            backoff=Backoff(),
            clock=lambda: self.cluster.now,
        )
        asyncio.run(loop.reconcile((NAMESPACE, claim)))


class ClaimModel(RuleBasedStateMachine):
    @initialize(free=st.integers(min_value=1, max_value=3))
    def setup(self, free: int) -> None:
        self.crash = CrashPlan()
        self.cluster = SimCluster(self.crash)
        for index in range(free):
            self.cluster.add_free_child(f"p-{index:05}")
        self.cluster.start_all()
        self.processes = [Process(self.cluster), Process(self.cluster)]
        self.deleted_claims: set[str] = set()

    def _pass(self, process: int, claim: str, crash_at: int | None) -> None:
        self.crash.at, self.crash.effects = crash_at, 0
        try:
            self.processes[process].reconcile(claim)
        except Crash:
            self.processes[process].relist()  # a new process lists before it acts
        finally:
            self.crash.at, self.crash.effects = None, 0

    @precondition(lambda self: len(self.cluster.claims) + len(self.deleted_claims) < len(CLAIMS))
    @rule(ttl=st.sampled_from((None, None, 5)), process=st.integers(0, 1), crash_at=crash_points)
    def create_claim(self, ttl: int | None, process: int, crash_at: int | None) -> None:
        name = CLAIMS[len(self.cluster.claims) + len(self.deleted_claims)]
        self.cluster.add_claim(name, ttl)
        self._pass(process, name, crash_at)

    @precondition(lambda self: bool(self.cluster.claims))
    @rule(data=st.data(), process=st.integers(0, 1), crash_at=crash_points)
    def reconcile(self, data: st.DataObject, process: int, crash_at: int | None) -> None:
        claim = data.draw(st.sampled_from(sorted(self.cluster.claims)))
        self._pass(process, claim, crash_at)

    @rule(process=st.integers(0, 1))
    def refresh_cache(self, process: int) -> None:
        self.processes[process].relist()

    @rule()
    def children_start(self) -> None:
        self.cluster.start_all()

    @rule(name=st.sampled_from(("p-00007", "p-00008")))
    def pool_adds_a_child(self, name: str) -> None:
        if name not in self.cluster.sessions and name not in self.cluster.stopped:
            self.cluster.add_free_child(name)

    @precondition(lambda self: bool(self.cluster.claims))
    @rule(data=st.data())
    def delete_claim(self, data: st.DataObject) -> None:
        claim = data.draw(st.sampled_from(sorted(self.cluster.claims)))
        self.cluster.delete_claim(claim)
        self.deleted_claims.add(claim)

    @rule(seconds=st.sampled_from((1, 6)))
    def time_passes(self, seconds: int) -> None:
        self.cluster.now += timedelta(seconds=seconds)

    # -- invariants -------------------------------------------------------------------

    @invariant()
    def no_session_bound_to_two_claims(self) -> None:
        named: dict[str, str] = {}
        for claim, body in self.cluster.claims.items():
            child = (body.get("status") or {}).get("sessionName")
            if child is None:
                continue
            assert child not in named, f"{child} named by {named[child]} and {claim}"
            named[child] = claim
            held = self.cluster.sessions.get(child)
            if held is not None:
                assert held["metadata"]["labels"].get("agentcore.dev/claim") == claim, (
                    claim,
                    held["metadata"],
                )
                assert held["metadata"]["ownerReferences"][0]["uid"] == body["metadata"]["uid"]

    @invariant()
    def no_child_lost(self) -> None:
        for name, body in self.cluster.sessions.items():
            labels = body["metadata"]["labels"]
            (owner,) = body["metadata"]["ownerReferences"]
            if labels.get("agentcore.dev/pool-state") == "free":
                assert (
                    "agentcore.dev/claim" not in labels and owner["kind"] == "CodeInterpreterSessionPool"
                ), (
                    name,
                    body["metadata"],
                )
                continue
            claim = self.cluster.claims.get(labels.get("agentcore.dev/claim", ""))
            assert claim is not None, f"{name} is bound to {labels.get('agentcore.dev/claim')}, which is gone"
            assert owner["uid"] == claim["metadata"]["uid"], f"{name} is owned by another claim"

    def check_liveness(self) -> None:
        for _ in range(4):
            self.cluster.start_all()
            for process in self.processes:
                process.relist()
            for claim in sorted(self.cluster.claims):
                self._pass(0, claim, None)
        for claim, body in self.cluster.claims.items():
            phase = (body.get("status") or {}).get("phase")
            assert phase in ("Bound", "Failed"), f"{claim} is {phase}: {body.get('status')}"
        self.no_session_bound_to_two_claims()
        self.no_child_lost()
        for name, body in self.cluster.sessions.items():  # settled: each bound child is its claim's one
            claim = body["metadata"]["labels"].get("agentcore.dev/claim")
            if claim is not None:
                held = (self.cluster.claims[claim].get("status") or {}).get("sessionName")
                assert held == name, f"{name} is labelled {claim}, which holds {held}: stranded"


class ClaimModelWithLiveness(ClaimModel):
    def teardown(self) -> None:
        if hasattr(self, "cluster"):
            self.check_liveness()


def _run(examples: int, steps: int) -> None:
    run_model(ClaimModelWithLiveness, examples, steps)


def test_claim_binding_keeps_its_invariants() -> None:
    _run(examples=200, steps=30)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_claim_binding_keeps_its_invariants_at_length() -> None:
    _run(examples=1000, steps=50)
