"""Model-checking the session decision together with the reconciler's persistence rules.

Hypothesis drives the real `Reconciler` and `decide()` against a simulated AgentCore and
API server (tests/modelcheck/sim.py), with faults on any call, crashes at any effect, and
deletes, policy flips, expiries and out-of-band stops at any step.

The resource is `restartPolicy: Never` or `Always`, with or without renewal (an overlap of
`renewBeforeSeconds`, a predecessor kept `renewGraceSeconds`), and the policy can flip.

Invariants, checked after every step:
1. The finalizer is removed only when no session of this resource can be live, or the
   policy was Retain when it went.
2. No resource ever has more than two live sessions, and two only during a handover:
   every live session is one the status names (the session, its successor, a predecessor
   still to be stopped) or the one an unresolved Start (pendingStartToken) may have made.
3. The status never names a session that is not its own.
4. No Start token is used for two sessions: the tokens only move forward (a replay repeats
   the last one; a restart takes the next number, never an earlier one).
And at the end, with faults gone: every predecessor is stopped once its grace is over, a
deleted resource is released, and nothing it started is left running (unless Retain).

`make test` runs enough examples to find a lost Start in well under a minute; the `slow`
marker runs many more.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agentcore_operator.controller.reconciler import Reconciler
from agentcore_operator.controller.state_machine import Timing, start_token
from agentcore_operator.controller.store import Store, key_of
from agentcore_operator.runtime.backoff import Backoff
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from tests.modelcheck.sim import FAULTS, Crash, CrashPlan, SimAgentCore, SimApiServer, run_model

UID = "0b7c6a4e-5f1d-4c11-9b7a-2f9e0c3d1a55"
CUSTOM = "team_tools-a1b2c3d4e5"
TIMING = Timing(
    start_poll_seconds=1,
    start_settle_seconds=0,
    interpreter_poll_seconds=1,
    quota_retry_seconds=1,
    access_denied_retry_seconds=1,
    stop_failure_retry_seconds=1,
    expiry_slack_seconds=0,
)
# The faults of a pass's first calls (a pass makes at most a few), and the effect it dies at.
fault_lists = st.lists(st.sampled_from((None, *FAULTS)), max_size=2)
crash_points = st.sampled_from((None, None, None, 0, 1, 2, 3, 4, 5))


class SessionModel(RuleBasedStateMachine):
    @initialize(
        interpreter=st.sampled_from(("aws.codeinterpreter.v1", CUSTOM)),
        retain=st.sampled_from((False, False, True)),
        restart=st.sampled_from(("Never", "Always", "Always")),
        renew_before=st.sampled_from((0, 20, 20, 20)),
        grace=st.sampled_from((0, 5, 30)),
        timeout=st.sampled_from((60, 60, 900)),
    )
    def create(
        self, interpreter: str, retain: bool, restart: str, renew_before: int, grace: int, timeout: int
    ) -> None:
        self.crash = CrashPlan()
        self.aws = SimAgentCore(crash=self.crash)
        body: dict[str, Any] = {
            "apiVersion": "agentcore.dev/v1alpha1",
            "kind": "CodeInterpreterSession",
            "metadata": {
                "name": "s",
                "namespace": "team",
                "uid": UID,
                "generation": 1,
                "resourceVersion": "1",
                "creationTimestamp": "2026-01-01T00:00:00Z",
            },
            "spec": {
                "codeInterpreterIdentifier": interpreter,
                "region": "us-east-1",
                "sessionTimeoutSeconds": timeout,
                "deletionPolicy": "Retain" if retain else "Delete",
                "restartPolicy": restart,
                "renewBeforeSeconds": renew_before if restart == "Always" else 0,
                "renewGraceSeconds": grace,
            },
        }
        self.grace = grace
        self.api = SimApiServer(body, self.crash)
        self.loop = asyncio.new_event_loop()

    def teardown(self) -> None:
        if hasattr(self, "loop"):
            self.loop.close()

    def _pass(self) -> None:
        """One reconcile pass by a freshly started operator: it knows only what was persisted."""
        body = self.api.snapshot()
        if body is None:
            return
        store = Store()
        store.put(body)
        reconciler = Reconciler(
            store=store,
            kube=self.api,  # type: ignore[arg-type]
            sessions=self.aws,  # type: ignore[arg-type]
            default_region="us-east-1",
            timing=TIMING,
            backoff=Backoff(),
            clock=self.aws.clock,
        )
        try:
            self.loop.run_until_complete(reconciler.reconcile(key_of(body)))
        except Crash:
            pass
        finally:
            self.crash.at, self.crash.effects = None, 0

    def _pass_with(self, faults: list[str | None], crash_at: int | None) -> None:
        self.aws.faults = list(faults)
        self.crash.at = crash_at
        self._pass()
        self.aws.faults = []

    # Every change below is followed by the pass its watch event (or requeue) brings, with
    # its own faults and crash point: the operator sees each change, sometimes dying on it.
    @rule(faults=fault_lists, crash_at=crash_points)
    def reconcile(self, faults: list[str | None], crash_at: int | None) -> None:
        self._pass_with(faults, crash_at)

    def held(self) -> bool:
        return self.api.body is not None and bool(self.api.body["metadata"].get("finalizers"))

    # A delete before the finalizer is on just removes the resource: nothing to check there.
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
                self.api.body = None  # nothing holds it: the API server removes it at once

    @rule(faults=fault_lists, crash_at=crash_points)
    def flip_policy(self, faults: list[str | None], crash_at: int | None) -> None:
        if self.api.body is not None:
            spec = self.api.body["spec"]
            spec["deletionPolicy"] = "Delete" if spec["deletionPolicy"] == "Retain" else "Retain"
        self._pass_with(faults, crash_at)

    @rule(faults=fault_lists, crash_at=crash_points, renew=st.booleans())
    def flip_restart_policy(self, faults: list[str | None], crash_at: int | None, renew: bool) -> None:
        if self.api.body is not None:
            spec = self.api.body["spec"]
            spec["restartPolicy"] = "Never" if spec["restartPolicy"] == "Always" else "Always"
            spec["renewBeforeSeconds"] = 20 if renew and spec["restartPolicy"] == "Always" else 0
        self._pass_with(faults, crash_at)

    @rule(seconds=st.sampled_from((1, 5, 20, 31, 45, 61, 901)), faults=fault_lists, crash_at=crash_points)
    def time_passes(self, seconds: int, faults: list[str | None], crash_at: int | None) -> None:
        self.aws.advance(seconds)
        self._pass_with(faults, crash_at)

    @rule(faults=fault_lists, crash_at=crash_points, only_current=st.booleans())
    def stopped_out_of_band(self, faults: list[str | None], crash_at: int | None, only_current: bool) -> None:
        current = (self.status().get("sessionId") or "-") if only_current else None
        self.aws.stop_out_of_band(current)
        self._pass_with(faults, crash_at)

    def status(self) -> dict[str, Any]:
        return dict((self.api.body or {}).get("status") or {})

    @invariant()
    def released_only_when_nothing_can_be_live(self) -> None:
        if self.api.body is None and not self.api.released_under_retain:
            live = [s.session_id for s in self.aws.live()]
            self.violated = bool(live)
            assert live == [], f"resource released with sessions still running: {live}"

    @invariant()
    def at_most_two_sessions_and_two_only_in_a_handover(self) -> None:
        live = [s for s in self.aws.live()]
        assert len(live) <= 2, [s.session_id for s in live]
        if self.api.body is None:
            return  # released: checked by the invariant above (Retain leaves them running)
        status = self.status()
        named = {status.get("sessionId"), status.get("nextSessionId")}
        if status.get("previousSessionStopAt"):
            named.add(status.get("previousSessionId"))
        unresolved = status.get("pendingStartToken") if status.get("unansweredStarts") else None
        for session in live:
            assert session.session_id in named or session.token == unresolved, (
                f"live session {session.session_id} is not accounted for by the status {status}"
            )

    @invariant()
    def start_tokens_only_move_forward(self) -> None:
        order = {start_token(UID, n): n for n in range(64)}
        numbers = [order[token] for token in self.aws.start_tokens]
        assert numbers == sorted(numbers), f"a Start token was used again after a later one: {numbers}"

    @invariant()
    def status_names_only_its_own_session(self) -> None:
        if self.api.body is None:
            return
        named = (self.api.body.get("status") or {}).get("sessionId")
        assert named is None or named in self.aws.sessions, f"status names a session not its own: {named}"

    def check_liveness(self) -> None:
        """With faults gone: every predecessor is stopped after its grace; then a delete ends
        with the resource released and nothing left running."""
        for _ in range(4):
            if self.api.body is None:
                break
            self.aws.advance(self.grace + 1)
            self._pass()
        if self.api.body is not None and not self.api.body["metadata"].get("deletionTimestamp"):
            status = self.status()
            previous = status.get("previousSessionId")
            live = {s.session_id for s in self.aws.live()}
            draining = status.get("previousSessionStopAt") is not None
            assert draining or previous not in live, f"predecessor {previous} left running: {status}"
            if self.api.body["spec"]["restartPolicy"] == "Always" and status.get("phase") != "Failed":
                self.check_always_comes_back()
        self._delete()
        for _ in range(12):
            if self.api.body is None:
                break
            self.aws.advance(1)
            self._pass()
        assert self.api.body is None, f"not released: {self.api.body and self.api.body.get('status')}"
        meta_retained = self.api.released_under_retain
        assert meta_retained or self.aws.live() == [], [s.session_id for s in self.aws.live()]

    def check_always_comes_back(self) -> None:
        """restartPolicy Always: whatever happened, a Ready session of its own comes back.

        The model has no drift sweep, so a session stopped out of band is noticed at its
        expiry: the steps cover the longest timeout (900 s) and the longest back-off."""
        for step in range(120):
            status = self.status()
            live = {s.session_id for s in self.aws.live()}
            if status.get("phase") == "Ready" and status.get("sessionId") in live:
                return
            self.aws.advance(58 if step % 3 == 2 else 1)  # short steps see Ready; long ones reach expiry
            self._pass()
        raise AssertionError(f"restartPolicy Always, but no Ready session came back: {self.status()}")


class SessionModelWithLiveness(SessionModel):
    def teardown(self) -> None:
        try:
            # After a broken invariant the liveness check would only hide the report.
            if hasattr(self, "api") and not getattr(self, "violated", False):
                self.check_liveness()
        finally:
            super().teardown()


class RenewalModel(SessionModelWithLiveness):
    """The same model held in the handover: Always, a 60 s session renewed 20 s before its end."""

    @initialize(
        interpreter=st.sampled_from(("aws.codeinterpreter.v1", CUSTOM)),
        retain=st.sampled_from((False, False, False, True)),
        restart=st.just("Always"),
        renew_before=st.sampled_from((20, 20, 45)),
        grace=st.sampled_from((5, 30, 50)),
        timeout=st.just(60),
    )
    def create(
        self, interpreter: str, retain: bool, restart: str, renew_before: int, grace: int, timeout: int
    ) -> None:
        super().create(interpreter, retain, restart, renew_before, grace, timeout)
        # Start the first session and come close to its renewal, so the steps play out in
        # the overlap and the grace after it.
        self._pass()
        self._pass()
        self.aws.advance(36)

    def flip_restart_policy(self, faults: list[str | None], crash_at: int | None, renew: bool) -> None:
        """Not a rule here: this model stays in restartPolicy Always."""

    # Small steps, so that passes fall inside the 20 s overlap and the grace after it.
    @rule(seconds=st.sampled_from((1, 5, 10, 20)), faults=fault_lists, crash_at=crash_points)
    def time_passes(self, seconds: int, faults: list[str | None], crash_at: int | None) -> None:
        self.aws.advance(seconds)
        self._pass_with(faults, crash_at)


def _run(examples: int, steps: int, machine: type[SessionModel] = SessionModelWithLiveness) -> None:
    run_model(machine, examples, steps)


def test_session_decision_keeps_its_invariants() -> None:
    _run(examples=300, steps=30)


def test_renewal_keeps_its_invariants() -> None:
    _run(examples=200, steps=30, machine=RenewalModel)


@pytest.mark.slow
# About 100 s alone; the suite's 120 s default is too tight when another worker shares the CPU.
@pytest.mark.timeout(400)
def test_session_decision_keeps_its_invariants_at_length() -> None:
    _run(examples=1000, steps=50)
    _run(examples=1000, steps=50, machine=RenewalModel)
