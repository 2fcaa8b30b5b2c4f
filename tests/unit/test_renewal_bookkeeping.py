"""The session kind's bookkeeping around a renewal: the quota gate counts both sessions of an
overlap, and the restart metric says why each restart began."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from agentcore_operator.api.v1alpha1 import Phase
from agentcore_operator.controller.quota import QuotaGate
from agentcore_operator.controller.reconciler import SessionKind
from agentcore_operator.controller.state_machine import DEFAULT_TIMING, Timing
from agentcore_operator.manager.metrics import Metrics

from tests.unit.test_renewal import RENEWING, draining, ready
from tests.unit.test_state_machine import NOW, OTHER_SESSION, REGION, SESSION, view

KEY = ("team-a", "sandbox")
WAITING = ("team-a", "waiting")
SCOPE = ("", REGION)  # the operator's own account
BODY: dict[str, Any] = {
    "metadata": {"namespace": "team-a", "name": "sandbox", "creationTimestamp": "2026-01-01T00:00:00Z"}
}


def kind(
    quota: QuotaGate | None = None, metrics: Metrics | None = None, timing: Timing = DEFAULT_TIMING
) -> SessionKind:
    return SessionKind(
        sessions=None,  # type: ignore[arg-type]  # no call is made here
        default_region=REGION,
        timing=timing,
        quota=quota,
        metrics=metrics,
        clock=lambda: NOW,
    )


def test_a_stopped_predecessor_frees_its_quota_slot_for_a_waiting_resource() -> None:
    released: list[tuple[str, str]] = []
    gate = QuotaGate(released.append)
    gate.exceeded(SCOPE, WAITING, "2026-01-01T00:00:00Z")
    before = draining()
    kind(gate).settled(KEY, BODY, view(RENEWING), before, replace(before, previous_stop_at=None))
    assert released == [WAITING]


def test_the_predecessor_still_draining_frees_nothing() -> None:
    released: list[tuple[str, str]] = []
    gate = QuotaGate(released.append)
    gate.exceeded(SCOPE, WAITING, "2026-01-01T00:00:00Z")
    kind(gate).settled(KEY, BODY, view(RENEWING), draining(), draining())
    assert released == []


def test_a_renewal_held_back_by_the_quota_waits_in_line_and_keeps_its_requeue() -> None:
    released: list[tuple[str, str]] = []
    gate = QuotaGate(released.append)
    gate.exceeded(SCOPE, WAITING, "2026-01-01T00:00:00Z")
    resource = replace(view(RENEWING), start_blocked=True)
    decision = kind(gate).decide(resource, ready(), None, ready().expires_at - timedelta(seconds=60))  # type: ignore[operator]
    assert decision.action is None and decision.requeue_after is not None
    handover = decision.status.condition("Handover")
    assert handover is not None and handover.reason == "QuotaExceeded"
    parked = kind(gate).settled(KEY, BODY, resource, ready(), decision.status)
    assert parked is False  # its expiry check still comes
    gate.freed(SCOPE)
    gate.freed(SCOPE)
    assert KEY in released


def test_the_restart_metric_says_why() -> None:
    metrics = Metrics()
    session_kind = kind(metrics=metrics)
    renewing = replace(ready(), restart_count=1)
    session_kind.settled(KEY, BODY, view(RENEWING), ready(), renewing)
    expired = replace(ready(), expires_at=NOW - timedelta(seconds=1))
    restarted = replace(expired, session_id=None, phase=Phase.STARTING, restart_count=1)
    session_kind.settled(KEY, BODY, view(RENEWING), expired, restarted)
    stopped = replace(ready(), session_id=OTHER_SESSION)
    session_kind.settled(
        KEY, BODY, view(RENEWING), stopped, replace(stopped, session_id=None, restart_count=1)
    )
    counts = {
        reason: metrics.registry.get_sample_value("agentcore_session_restarts_total", {"reason": reason})
        for reason in ("Renewal", "Expired", "Stopped")
    }
    assert counts == {"Renewal": 1.0, "Expired": 1.0, "Stopped": 1.0}
    assert SESSION  # the session of ready() renewed above


class FakeLedger:
    def __init__(self) -> None:
        self.entries: dict[str, Any] = {}
        self.resolved: list[str] = []

    def record(self, entry: Any) -> None:
        self.entries[entry.session_id] = entry

    def forget(self, session_id: str) -> None:
        self.entries.pop(session_id, None)

    def resolve_intent(self, token: str) -> None:
        self.resolved.append(token)


def ledger_kind(ledger: FakeLedger) -> SessionKind:
    return SessionKind(
        sessions=None,  # type: ignore[arg-type]
        default_region=REGION,
        timing=DEFAULT_TIMING,
        ledger=ledger,  # type: ignore[arg-type]
        clock=lambda: NOW,
    )


def test_a_draining_predecessor_stays_in_the_ledger_and_a_stopped_one_leaves_it() -> None:
    """A predecessor left running by a crash mid-handover is an orphan if its resource goes
    (the sweep stops it); once stopped it is no orphan."""
    ledger = FakeLedger()
    ledger_kind(ledger).settled(KEY, BODY, view(RENEWING), draining(), draining())
    assert set(ledger.entries) == {SESSION, OTHER_SESSION}
    stopped = replace(draining(), previous_stop_at=None)
    ledger_kind(ledger).settled(KEY, BODY, view(RENEWING), draining(), stopped)
    assert set(ledger.entries) == {OTHER_SESSION}


def test_a_successor_being_started_is_in_the_ledger() -> None:
    ledger = FakeLedger()
    renewing = replace(ready(), next_session_id=OTHER_SESSION, restart_count=1)
    ledger_kind(ledger).settled(KEY, BODY, view(RENEWING), ready(), renewing)
    assert set(ledger.entries) == {SESSION, OTHER_SESSION}
