"""The session kind's tenancy bookkeeping (controller/reconciler.py): the region and account a
namespace's policy gives, the live count its limit is checked against (Starts decided but not
yet written included), and the wake-up of a full namespace's waiting sessions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agentcore_operator.api.v1alpha1 import FINALIZER, SessionStatus
from agentcore_operator.controller.reconciler import SessionKind
from agentcore_operator.controller.state_machine import StartSession, Timing
from agentcore_operator.controller.store import Key, Store
from agentcore_operator.tenancy.index import TenancyIndex

NOW = datetime(2026, 3, 1, tzinfo=UTC)
ROLE = "arn:aws:iam::111122223333:role/agentcore-team-a"


def body(name: str, phase: str | None = None, reason: str | None = None, **spec: Any) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if phase:
        status["phase"] = phase
    if reason:
        status["conditions"] = [{"type": "Ready", "status": "False", "reason": reason, "message": "m"}]
    return {
        "metadata": {
            "name": name,
            "namespace": "team-a",
            "uid": f"uid-{name}",
            "generation": 1,
            "resourceVersion": "1",
            "finalizers": [FINALIZER],
        },
        "spec": spec,
        "status": status,
    }


def kind_with(limit: int | None, *bodies: dict[str, Any]) -> tuple[SessionKind, Store, list[Key]]:
    index = TenancyIndex("123456789012")
    index.put_namespace({"metadata": {"name": "team-a"}})
    limits = {"maxSessions": limit} if limit is not None else {}
    index.put_policy(
        {
            "metadata": {"name": "a"},
            "spec": {
                "namespaceSelector": {"names": ["team-a"]},
                "identity": {"roleArn": ROLE},
                "region": "eu-west-1",
                "limits": limits,
            },
        }
    )
    store = Store()
    for item in bodies:
        store.put(item)
    requeued: list[Key] = []
    kind = SessionKind(
        sessions=None,  # type: ignore[arg-type]
        default_region="us-east-1",
        timing=Timing(),
        tenancy=index,
        store=store,
        requeue=requeued.append,
    )
    return kind, store, requeued


def test_the_policy_gives_the_region_and_account_of_new_sessions() -> None:
    kind, _, _ = kind_with(None)
    view = kind.view(body("s"))
    assert view.spec is not None and view.spec.region == "eu-west-1"
    assert view.tenancy.account_id == "111122223333"
    explicit = kind.view(body("t", region="ap-south-1"))
    assert explicit.spec is not None and explicit.spec.region == "ap-south-1"


def test_live_sessions_of_the_others_are_counted_and_a_decided_start_reserves_its_place() -> None:
    kind, _, _ = kind_with(
        2,
        body("ready", "Ready"),
        body("starting", "Starting"),
        body("gone", "Terminated"),
        body("new"),
        body("other"),
    )
    assert kind.namespace_live("team-a", ("team-a", "new")) == 2
    assert kind.namespace_live("team-a", ("team-a", "ready")) == 1  # not itself
    kind_one, _, _ = kind_with(1, body("first"), body("second"))
    first = kind_one.decide(kind_one.view(body("first")), SessionStatus(), None, NOW)
    assert isinstance(first.action, StartSession)
    # "first" has not written Starting yet: "second" must still see it.
    second = kind_one.decide(kind_one.view(body("second")), SessionStatus(), None, NOW)
    assert second.action is None
    assert second.status.condition("Ready").reason == "NamespaceLimitReached"  # type: ignore[union-attr]


def test_a_session_ending_wakes_the_namespaces_waiting_sessions_only() -> None:
    ready = body("ready", "Ready")
    kind, _, requeued = kind_with(
        1,
        ready,
        body("waiting", "Pending", "NamespaceLimitReached"),
        body("quota", "Pending", "QuotaExceeded"),
    )
    before = SessionStatus.from_dict({"phase": "Ready"})
    after = SessionStatus.from_dict({"phase": "Terminated"})
    kind.settled(("team-a", "ready"), ready, kind.view(ready), before, after)
    assert requeued == [("team-a", "waiting")]
    requeued.clear()
    kind.settled(("team-a", "ready"), ready, kind.view(ready), before, before)  # still live: nothing
    assert requeued == []
    kind.room_freed("team-a")  # the resource went (the watch's DELETED)
    assert requeued == [("team-a", "waiting")]
