"""Which pooled child a claim may take, and which one it holds, from the operator's cache (claims/children.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from agentcore_operator.claims.children import RESERVATION_SECONDS, ChildIndex
from agentcore_operator.claims.decision import Pool
from agentcore_operator.claims.kind import its_child
from agentcore_operator.controller.store import Store

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POOL = Pool("p", {"spec": {}}, min_remaining_seconds=60)


def child(
    name: str,
    *,
    left: int = 600,
    state: str = "free",
    claim: str | None = None,
    owner: tuple[str, str, str] = ("CodeInterpreterSessionPool", "p", "pool-uid"),
    phase: str = "Ready",
    version: str = "1",
    deleting: bool = False,
) -> dict[str, Any]:
    labels = {"agentcore.dev/pool": "p", "agentcore.dev/pool-state": state}
    if claim:
        labels["agentcore.dev/claim"] = claim
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "ns",
        "uid": f"uid-{name}",
        "resourceVersion": version,
        "labels": labels,
        "ownerReferences": [{"kind": owner[0], "name": owner[1], "uid": owner[2], "controller": True}],
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-03-01T12:00:00Z"
    expires = (NOW + timedelta(seconds=left)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"metadata": meta, "status": {"phase": phase, "sessionId": f"s-{name}", "expiresAt": expires}}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def index_of(*bodies: dict[str, Any]) -> tuple[ChildIndex, Store, Clock]:
    store, clock = Store(), Clock()
    index = ChildIndex(store, clock)
    for body in bodies:
        store.put(body)
        index.observe({"type": "ADDED", "object": body})
    return index, store, clock


def test_the_free_ready_child_with_the_most_time_left_is_reserved() -> None:
    index, _, _ = index_of(child("a", left=300), child("b", left=900), child("c", left=600))
    picked = index.reserve_free("ns", POOL, ("ns", "claim-1"), NOW)
    assert picked is not None and picked.name == "b"
    # ... so another claim's pass in this process takes the next one, not the same.
    second = index.reserve_free("ns", POOL, ("ns", "claim-2"), NOW)
    assert second is not None and second.name == "c"


def test_a_reservation_lapses_and_can_be_released() -> None:
    index, _, clock = index_of(child("a"))
    assert index.reserve_free("ns", POOL, ("ns", "c1"), NOW) is not None
    assert index.reserve_free("ns", POOL, ("ns", "c2"), NOW) is None
    assert index.reserve_free("ns", POOL, ("ns", "c1"), NOW) is not None  # its own again
    clock.now += RESERVATION_SECONDS + 1
    assert index.reserve_free("ns", POOL, ("ns", "c2"), NOW) is not None
    index.release("ns", "a")
    assert index.reserve_free("ns", POOL, ("ns", "c3"), NOW) is not None


def test_only_free_ready_children_of_the_pool_with_enough_time_left_are_taken() -> None:
    index, _, _ = index_of(
        child("short", left=59),
        child("bound", state="bound", claim="other"),
        child("starting", phase="Starting"),
        child("deleting", deleting=True),
        child("foreign", owner=("CodeInterpreterSessionPool", "q", "q-uid")),
        child("claimed", owner=("CodeInterpreterSessionClaim", "x", "x-uid")),
    )
    assert index.reserve_free("ns", POOL, ("ns", "c"), NOW) is None
    index2, _, _ = index_of(child("ok", left=61))
    assert index2.reserve_free("ns", POOL, ("ns", "c"), NOW) is not None


def test_a_child_a_bind_lost_at_is_skipped_until_a_newer_version_is_seen() -> None:
    index, store, _ = index_of(child("a", version="5"))
    index.release("ns", "a", lost_at="5")
    assert index.reserve_free("ns", POOL, ("ns", "c"), NOW) is None
    store.put(child("a", version="6"))
    assert index.reserve_free("ns", POOL, ("ns", "c"), NOW) is not None


def test_the_child_held_by_a_claim_is_found_by_label_and_owner_uid() -> None:
    mine = child(
        "p-1", state="bound", claim="task", owner=("CodeInterpreterSessionClaim", "task", "uid-task")
    )
    old = child("p-2", state="bound", claim="task", owner=("CodeInterpreterSessionClaim", "task", "uid-old"))
    index, _, _ = index_of(old, mine)
    assert [c.name for c in index.held_by("ns", "task", "uid-task")] == ["p-1"]
    assert index.held_by("ns", "task", "uid-new") == []  # a claim re-created with the name: not its
    index.observe({"type": "DELETED", "object": mine})
    assert index.held_by("ns", "task", "uid-task") == []


def test_its_child_is_the_one_its_status_names_else_a_ready_one() -> None:
    starting = child(
        "c-1", state="bound", claim="t", phase="Starting", owner=("CodeInterpreterSessionClaim", "t", "u")
    )
    ready = child("p-2", state="bound", claim="t", owner=("CodeInterpreterSessionClaim", "t", "u"))
    index, _, _ = index_of(starting, ready)
    held = index.held_by("ns", "t", "u")
    chosen, extra = its_child(held, None)
    assert chosen is not None and chosen.name == "p-2" and [c.name for c in extra] == ["c-1"]
    chosen, extra = its_child(held, "c-1")
    assert chosen is not None and chosen.name == "c-1" and [c.name for c in extra] == ["p-2"]
    assert its_child([], "x") == (None, ())
