"""The quota gate: park when AgentCore says the session quota is reached, release oldest first."""

from __future__ import annotations

from agentcore_operator.controller.quota import QuotaGate


def make_gate() -> tuple[QuotaGate, list[tuple[str, str]]]:
    released: list[tuple[str, str]] = []
    return QuotaGate(released.append), released


def test_an_open_gate_blocks_nothing() -> None:
    gate, released = make_gate()
    assert not gate.blocked("us-east-1", ("ns", "a"))
    assert released == []


def test_quota_exceeded_closes_the_region_only() -> None:
    gate, _ = make_gate()
    gate.exceeded("us-east-1", ("ns", "a"), "2026-01-01T00:00:01Z")
    assert gate.blocked("us-east-1", ("ns", "b"))
    assert not gate.blocked("eu-west-1", ("ns", "b"))


def test_freed_capacity_releases_the_oldest_parked_first() -> None:
    gate, released = make_gate()
    gate.exceeded("r", ("ns", "second"), "2026-01-01T00:00:02Z")
    gate.park("r", ("ns", "third"), "2026-01-01T00:00:03Z")
    gate.park("r", ("ns", "first"), "2026-01-01T00:00:01Z")
    gate.freed("r")
    assert released == [("ns", "first")]
    # The released one holds a permit through the closed gate; the others still wait.
    assert not gate.blocked("r", ("ns", "first"))
    assert gate.blocked("r", ("ns", "second"))
    gate.freed("r", 2)
    assert released == [("ns", "first"), ("ns", "second"), ("ns", "third")]


def test_parking_twice_keeps_one_place_in_line() -> None:
    gate, released = make_gate()
    gate.exceeded("r", ("ns", "a"), "1")
    gate.park("r", ("ns", "a"), "1")
    assert gate.waiting("r") == 1
    gate.freed("r", 5)
    assert released == [("ns", "a")]


def test_a_successful_start_opens_the_gate_and_releases_everyone() -> None:
    gate, released = make_gate()
    gate.exceeded("r", ("ns", "a"), "1")
    gate.park("r", ("ns", "b"), "2")
    gate.freed("r")
    gate.started("r", ("ns", "a"))
    assert not gate.is_closed("r")
    assert released == [("ns", "a"), ("ns", "b")]
    assert not gate.blocked("r", ("ns", "zzz"))


def test_a_refused_permit_holder_goes_back_in_line() -> None:
    gate, released = make_gate()
    gate.exceeded("r", ("ns", "a"), "1")
    gate.freed("r")
    assert released == [("ns", "a")]
    gate.exceeded("r", ("ns", "a"), "1")  # its Start was refused again
    assert gate.blocked("r", ("ns", "a"))
    assert gate.waiting("r") == 1


def test_forgotten_resources_leave_the_line() -> None:
    gate, released = make_gate()
    gate.exceeded("r", ("ns", "a"), "1")
    gate.park("r", ("ns", "b"), "2")
    gate.forget(("ns", "a"))
    gate.freed("r")
    assert released == [("ns", "b")]
