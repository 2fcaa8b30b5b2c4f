"""Model-checking the CodeInterpreter decision together with the reconcile loop's persistence rules.

Hypothesis drives the real `ReconcileLoop`, `InterpreterKind` and `decide()` against the
simulated control plane and API server (tests/modelcheck/sim.py), with faults on any
call (a Create that acts and loses its answer among them), crashes at any effect, and
deletes, policy flips, tag changes, sessions starting and ending, and time passing.

Invariants, checked after every step:
1. Exactly one interpreter per resource: never two made for it (its clientToken comes
   from the UID), and an adopted one is never joined by a created one.
2. An interpreter is deleted only when the resource is being deleted with policy Delete,
   and no session uses it.
3. The finalizer is released only when AgentCore says DELETED (or under Retain).
And at the end, with faults gone and the sessions ended: a deleted resource is released,
and its interpreter is DELETED (unless Retain).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agentcore_operator.api.v1alpha1.interpreter import INTERPRETER_FINALIZER
from agentcore_operator.controller.kube import KubeConflict
from agentcore_operator.controller.store import Store, key_of
from agentcore_operator.interpreters.decision import InterpreterTiming, create_token
from agentcore_operator.interpreters.kind import InterpreterKind
from agentcore_operator.runtime.backoff import Backoff
from agentcore_operator.runtime.reconcile import ReconcileLoop
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from tests.modelcheck.sim import (
    FAULTS,
    Crash,
    CrashPlan,
    SimAgentCore,
    SimApiServer,
    SimControlPlane,
    run_model,
)

UID = "6d3b1f0e-2a4c-4e8b-9f17-5c2d8a9e0b31"
TOKEN = create_token(UID)
TIMING = InterpreterTiming(
    create_poll_seconds=1,
    delete_poll_seconds=1,
    resync_seconds=60,
    quota_retry_seconds=1,
    access_denied_retry_seconds=1,
    delete_failure_retry_seconds=1,
)
fault_lists = st.lists(st.sampled_from((None, *FAULTS)), max_size=2)
crash_points = st.sampled_from((None, None, None, 0, 1, 2, 3, 4, 5))


class InterpreterModel(RuleBasedStateMachine):
    @initialize(retain=st.sampled_from((False, False, True)), adopt=st.sampled_from((False, False, True)))
    def create(self, retain: bool, adopt: bool) -> None:
        self.crash = CrashPlan()
        self.aws = SimAgentCore(crash=self.crash)
        self.control = SimControlPlane(self.aws, on_delete=self._deleting_allowed)
        self.users: set[str] = set()
        self.adopted = self.control.adopt_one() if adopt else None
        spec: dict[str, Any] = {
            "name": "team_tools",
            "region": "us-east-1",
            "networkConfiguration": {"networkMode": "SANDBOX"},
            "tags": {"team": "a"},
            "deletionPolicy": "Retain" if retain else "Delete",
        }
        if self.adopted:
            spec["adoptCodeInterpreterId"] = self.adopted
        body: dict[str, Any] = {
            "apiVersion": "agentcore.dev/v1alpha1",
            "kind": "CodeInterpreter",
            "metadata": {
                "name": "tools",
                "namespace": "team",
                "uid": UID,
                "generation": 1,
                "resourceVersion": "1",
            },
            "spec": spec,
        }
        self.api = SimApiServer(body, self.crash, finalizer=INTERPRETER_FINALIZER)
        self.loop = asyncio.new_event_loop()

    def teardown(self) -> None:
        if hasattr(self, "loop"):
            self.loop.close()

    def _deleting_allowed(self, interpreter_id: str) -> None:
        """Invariant 2, checked at the moment AgentCore is asked to delete."""
        body = self.api.body
        assert body is not None and body["metadata"].get("deletionTimestamp"), (
            "deleted a live resource's interpreter"
        )
        assert body["spec"]["deletionPolicy"] == "Delete", "deleted an interpreter under Retain"
        assert not self.users, f"deleted an interpreter in use by {self.users}"

    def _pass(self) -> None:
        """One reconcile pass by a freshly started operator: it knows only what was persisted."""
        body = self.api.snapshot()
        if body is None:
            return
        store = Store()
        store.put(body)
        kind = InterpreterKind(
            interpreters=self.control,  # type: ignore[arg-type]
            default_region="us-east-1",
            timing=TIMING,
            users_of=lambda namespace, name: tuple(sorted(self.users)),
        )
        loop = ReconcileLoop(
            kind, store=store, kube=self.api, conflict=KubeConflict, backoff=Backoff(), clock=self.aws.clock
        )
        try:
            self.loop.run_until_complete(loop.reconcile(key_of(body)))
        except Crash:
            pass
        finally:
            self.crash.at, self.crash.effects = None, 0

    def _pass_with(self, faults: list[str | None], crash_at: int | None) -> None:
        self.aws.faults = list(faults)
        self.crash.at = crash_at
        self._pass()
        self.aws.faults = []

    def _bump_generation(self) -> None:
        assert self.api.body is not None
        self.api.body["metadata"]["generation"] += 1

    @rule(faults=fault_lists, crash_at=crash_points)
    def reconcile(self, faults: list[str | None], crash_at: int | None) -> None:
        self._pass_with(faults, crash_at)

    def held(self) -> bool:
        return self.api.body is not None and bool(self.api.body["metadata"].get("finalizers"))

    @precondition(lambda self: self.held())
    @rule(faults=fault_lists, crash_at=crash_points)
    def delete(self, faults: list[str | None], crash_at: int | None) -> None:
        self._delete()
        self._pass_with(faults, crash_at)

    def _delete(self) -> None:
        if self.api.body is not None:
            meta = self.api.body["metadata"]
            meta.setdefault("deletionTimestamp", "2026-01-01T00:00:01Z")
            if not meta.get("finalizers"):
                self.api.body = None

    @precondition(lambda self: self.api.body is not None)
    @rule(faults=fault_lists, crash_at=crash_points)
    def flip_policy(self, faults: list[str | None], crash_at: int | None) -> None:
        assert self.api.body is not None
        spec = self.api.body["spec"]
        spec["deletionPolicy"] = "Delete" if spec["deletionPolicy"] == "Retain" else "Retain"
        self._bump_generation()
        self._pass_with(faults, crash_at)

    @precondition(lambda self: self.api.body is not None)
    @rule(tags=st.sampled_from(({}, {"team": "a"}, {"team": "b", "cost": "1"})), crash_at=crash_points)
    def change_tags(self, tags: dict[str, str], crash_at: int | None) -> None:
        assert self.api.body is not None
        self.api.body["spec"]["tags"] = dict(tags)
        self._bump_generation()
        self._pass_with([], crash_at)

    @rule(name=st.sampled_from(("s1", "s2")), faults=fault_lists)
    def session_starts_or_ends(self, name: str, faults: list[str | None]) -> None:
        """A session referencing the interpreter comes or goes (its change queues the interpreter)."""
        self.users ^= {name}
        self._pass_with(faults, None)

    @rule(seconds=st.sampled_from((1, 3, 61)), faults=fault_lists, crash_at=crash_points)
    def time_passes(self, seconds: int, faults: list[str | None], crash_at: int | None) -> None:
        self.aws.advance(seconds)
        self._pass_with(faults, crash_at)

    @invariant()
    def exactly_one_interpreter_per_resource(self) -> None:
        made = self.control.made_by(TOKEN)
        assert len(made) <= 1, [i.interpreter_id for i in made]
        if self.adopted:
            assert made == [], "created an interpreter for a resource that adopts one"

    @invariant()
    def released_only_when_deleted_or_retained(self) -> None:
        if self.api.body is None and not self.api.released_under_retain:
            mine = self.control.made_by(TOKEN) + (
                [self.control.interpreters[self.adopted]] if self.adopted else []
            )
            states = [i.status(self.aws.now) for i in mine]
            self.violated = any(state != "DELETED" for state in states)
            assert not self.violated, f"finalizer released with the interpreter {states}"

    @invariant()
    def status_names_only_its_own_interpreter(self) -> None:
        if self.api.body is None:
            return
        named = (self.api.body.get("status") or {}).get("codeInterpreterId")
        assert named is None or named in self.control.interpreters, named

    def check_liveness(self) -> None:
        self.users.clear()
        self._pass()  # the operator has seen the resource (and adopted or created its interpreter)
        self._delete()
        for _ in range(12):
            if self.api.body is None:
                break
            self.aws.advance(1)
            self._pass()
        assert self.api.body is None, f"not released: {self.api.body and self.api.body.get('status')}"
        if not self.api.released_under_retain:
            mine = self.control.made_by(TOKEN) + (
                [self.control.interpreters[self.adopted]] if self.adopted else []
            )
            assert all(i.status(self.aws.now) == "DELETED" for i in mine)


class InterpreterModelWithLiveness(InterpreterModel):
    def teardown(self) -> None:
        try:
            if hasattr(self, "api") and not getattr(self, "violated", False):
                self.check_liveness()
        finally:
            super().teardown()


def _run(examples: int, steps: int) -> None:
    run_model(InterpreterModelWithLiveness, examples, steps)


def test_interpreter_decision_keeps_its_invariants() -> None:
    _run(examples=200, steps=30)


@pytest.mark.slow
def test_interpreter_decision_keeps_its_invariants_at_length() -> None:
    _run(examples=1000, steps=50)
