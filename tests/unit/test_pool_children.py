"""Which sessions a pool counts as its free children, and its writes not yet seen in the watch."""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

from agentcore_operator.controller.store import Store
from agentcore_operator.pools.children import (
    PoolChildren,
    child_name,
    child_of,
    child_signature,
    pool_keys_of,
)

POOL_UID = "pool-uid"
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def session(
    name: str, *, state: str = "free", owner: str = POOL_UID, rv: str = "1", **status: Any
) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": "ns",
            "name": name,
            "uid": f"uid-{name}",
            "resourceVersion": rv,
            "creationTimestamp": "2026-03-01T12:00:00Z",
            "labels": {"agentcore.dev/pool": "p", "agentcore.dev/pool-state": state},
            "ownerReferences": [
                {"uid": owner, "controller": True, "kind": "X", "name": "p", "apiVersion": "v"}
            ],
        },
        "status": status,
    }


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def setup(*bodies: dict[str, Any]) -> tuple[PoolChildren, Store, Clock]:
    store, clock = Store(), Clock()
    children = PoolChildren(store, expect_seconds=30.0, clock=clock)
    for body in bodies:
        store.put(body)
        children.observe({"type": "ADDED", "object": body})
    return children, store, clock


def names(children: PoolChildren) -> list[str]:
    return [c.name for c in children.free_children("ns", "p", POOL_UID)]


def test_only_free_children_owned_by_this_pool_count() -> None:
    children, _, _ = setup(
        session("p-a"),
        session("p-b", state="bound"),
        session("p-c", owner="an-older-pool-of-the-same-name"),
    )
    assert names(children) == ["p-a"]


def test_a_session_whose_pool_label_was_edited_away_is_not_counted() -> None:
    children, store, _ = setup(session("p-a"), session("p-b"))
    edited = session("p-a", rv="2")
    edited["metadata"]["labels"]["agentcore.dev/pool"] = "other"
    store.put(edited)
    children.observe({"type": "MODIFIED", "object": edited})
    assert names(children) == ["p-b"]


def test_a_bound_child_leaves_the_free_set() -> None:
    children, store, _ = setup(session("p-a"), session("p-b"))
    bound = session("p-a", state="bound", rv="2")
    store.put(bound)
    children.observe({"type": "MODIFIED", "object": bound})
    assert names(children) == ["p-b"]


def test_a_deleted_child_leaves_the_index_even_when_the_event_carries_only_its_key() -> None:
    children, store, _ = setup(session("p-a"), session("p-b"))
    store.remove(("ns", "p-a"))
    children.observe({"type": "DELETED", "object": {"metadata": {"namespace": "ns", "name": "p-a"}}})
    assert names(children) == ["p-b"] and children.counts() == {("ns", "p"): 1}


def test_a_create_counts_until_the_watch_shows_it_or_it_times_out() -> None:
    children, store, clock = setup()
    children.expect_created(("ns", "p"), "p-new")
    assert [(c.name, c.unseen) for c in children.free_children("ns", "p", POOL_UID)] == [("p-new", True)]
    body = session("p-new")
    store.put(body)
    children.observe({"type": "ADDED", "object": body})
    assert [(c.name, c.unseen) for c in children.free_children("ns", "p", POOL_UID)] == [("p-new", False)]
    children.expect_created(("ns", "p"), "p-lost")
    clock.now = 31.0
    assert names(children) == ["p-new"]


def test_a_delete_counts_as_going_until_the_watch_shows_it() -> None:
    children, store, _ = setup(session("p-a"))
    children.expect_deleted(("ns", "p"), "uid-p-a")
    (child,) = children.free_children("ns", "p", POOL_UID)
    assert child.deleting
    going = session("p-a", rv="2")
    going["metadata"]["deletionTimestamp"] = "2026-03-01T12:01:00Z"
    store.put(going)
    children.observe({"type": "MODIFIED", "object": going})
    (child,) = children.free_children("ns", "p", POOL_UID)
    assert child.deleting


def test_a_child_reads_its_phase_expiry_and_failure() -> None:
    body = session(
        "p-a",
        phase="Failed",
        createdAt="2026-03-01T12:00:05Z",
        expiresAt="2026-03-01T12:15:05Z",
        conditions=[{"type": "Ready", "status": "False", "reason": "InvalidRequest", "message": "nope"}],
    )
    child = child_of(body)
    assert child.phase == "Failed" and child.reason == "InvalidRequest" and child.message == "nope"
    assert child.created_at is not None and child.created_at.second == 5
    assert child.expires_at is not None and child.expires_at.minute == 15


def test_the_watch_queues_the_pool_when_free_state_phase_or_expiry_change() -> None:
    free = session("p-a", phase="Starting")
    assert pool_keys_of(free) == [("ns", "p")]
    assert child_signature(free) != child_signature(session("p-a", phase="Ready"))
    assert child_signature(free) != child_signature(session("p-a", state="bound"))
    bound_starting = session("p-a", state="bound", phase="Starting")
    assert child_signature(bound_starting) == child_signature(session("p-a", state="bound", phase="Ready"))
    assert pool_keys_of({"metadata": {"namespace": "ns", "name": "plain"}}) == []


def test_child_names_are_the_pool_and_five_random_characters() -> None:
    made = {child_name("p") for _ in range(50)}
    assert len(made) > 45
    # Membership, not str.islower(): an all-digit suffix ("p-40817", 1 name in ~600) is valid and not "lower".
    assert all(
        n.startswith("p-") and len(n) == 7 and set(n[2:]) <= set(string.ascii_lowercase + string.digits)
        for n in made
    )


def test_an_all_digit_suffix_is_a_valid_child_name(monkeypatch: Any) -> None:
    monkeypatch.setattr(secrets, "choice", lambda alphabet: "7")
    assert child_name("p") == "p-77777"
    assert DNS_LABEL.fullmatch(child_name("p"))
