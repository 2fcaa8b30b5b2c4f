"""The resource store: which watch events need a reconcile, and the sweep index."""

from __future__ import annotations

from typing import Any

from agentcore_operator.api.v1alpha1 import Phase
from agentcore_operator.controller.store import Store


def body(
    rv: int, *, generation: int = 1, status: dict[str, Any] | None = None, **meta: Any
) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": "ns",
            "name": "a",
            "uid": "u1",
            "resourceVersion": str(rv),
            "generation": generation,
            **meta,
        },
        "spec": {"sessionTimeoutSeconds": 900},
        "status": status or {},
    }


def test_new_objects_and_spec_changes_trigger_a_reconcile() -> None:
    store = Store()
    assert store.put(body(1))
    assert store.put(body(2, generation=2))


def test_status_only_changes_do_not_trigger_a_reconcile() -> None:
    store = Store()
    store.put(body(1))
    assert not store.put(body(2, status={"phase": "Starting"}))
    assert store.get(("ns", "a"))["status"] == {"phase": "Starting"}  # type: ignore[index]


def test_deletion_and_finalizer_changes_trigger_a_reconcile() -> None:
    store = Store()
    store.put(body(1))
    assert store.put(body(2, finalizers=["agentcore.dev/stop-session"]))
    assert store.put(
        body(3, finalizers=["agentcore.dev/stop-session"], deletionTimestamp="2026-01-01T00:00:00Z")
    )


def test_older_bodies_never_replace_newer_ones() -> None:
    store = Store()
    store.put(body(5, status={"phase": "Ready"}))
    assert not store.put(body(4, status={"phase": "Starting"}))
    assert store.get(("ns", "a"))["status"]["phase"] == "Ready"  # type: ignore[index]


def test_sessions_are_indexed_by_region_and_bare_interpreter_id() -> None:
    store = Store()
    arn = "arn:aws:bedrock-agentcore:us-east-1:123456789012:code-interpreter-custom/datasci_vpc-a1b2c3d4e5"
    status = {"phase": "Ready", "sessionId": "s1", "region": "us-east-1", "codeInterpreterIdentifier": arn}
    store.put(body(1, status=status))
    (group,) = store.tracked().items()
    assert group[0] == ("", "us-east-1", "datasci_vpc-a1b2c3d4e5")  # (account, region, interpreter)
    assert group[1][0].session_id == "s1" and group[1][0].phase is Phase.READY
    store.remove(("ns", "a"))
    assert store.tracked() == {}


def test_a_body_at_the_version_held_is_skipped() -> None:
    """The watch echoing our own write (whose answer the store already holds) changes nothing."""
    store = Store()
    written = body(2, status={"phase": "Starting"})
    store.put(body(1))
    assert not store.put(written)
    echo = body(2, status={"phase": "Starting"})
    assert not store.put(echo)
    assert store.get(("ns", "a")) is written
