"""The CodeInterpreterSessionClaim's decision, row by row of the table in its docstring.

Plain data in (a ClaimView, a ClaimStatus, an observation, a moment), plain data out (the
action, the status, the requeue, the events). Nothing is mocked.
"""

from __future__ import annotations

import string
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from agentcore_operator.api.v1alpha1.claim import ClaimPhase, ClaimSpec, ClaimStatus, LaunchType
from agentcore_operator.claims.decision import (
    BindChild,
    BindLost,
    Child,
    ChildBound,
    ChildCreated,
    ClaimDecision,
    ClaimObservation,
    ClaimTiming,
    ClaimView,
    CreateChild,
    DeleteChild,
    DeleteClaim,
    Deleted,
    Pool,
    WriteFailed,
    cold_child,
    cold_child_name,
    decide,
)
from agentcore_operator.runtime.conditions import ready_reason, with_ready
from agentcore_operator.runtime.meta import ResourceMeta

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
CREATED = NOW - timedelta(seconds=5)
UID = "9f0e1d2c-3b4a-5968-7a6b-5c4d3e2f1a0b"
META = ResourceMeta(uid=UID, namespace="team-a", name="task-1", generation=1, has_finalizer=False)
TIMING = ClaimTiming(sync_wait_seconds=0.3, retry_seconds=1.5)
POOL = Pool(
    name="p",
    template={
        "metadata": {"labels": {"team": "a"}, "annotations": {"note": "x"}},
        "spec": {"sessionTimeoutSeconds": 900},
    },
    min_remaining_seconds=60,
)
EXPIRES = NOW + timedelta(minutes=14)
FREE = Child("p-abcde", "uid-free", "41", "Ready", "sess-free", EXPIRES)
COLD_NAME = cold_child_name("task-1", UID)
MINE_READY = Child(COLD_NAME, "uid-cold", "57", "Ready", "sess-cold", EXPIRES)
MINE_STARTING = Child(COLD_NAME, "uid-cold", "50", "Starting", None, None, reason="Starting")
WARM_HELD = Child("p-abcde", "uid-free", "42", "Ready", "sess-free", EXPIRES)


def view(**changes: object) -> ClaimView:
    base = ClaimView(META, CREATED, ClaimSpec("p", ttl_seconds_unbound=30), pool=POOL)
    return replace(base, **changes)  # type: ignore[arg-type]


def run(
    v: ClaimView,
    status: ClaimStatus | None = None,
    observation: ClaimObservation | None = None,
    now: datetime = NOW,
) -> ClaimDecision:
    return decide(v, status or ClaimStatus(), observation, now, TIMING)


def in_phase(phase: ClaimPhase, reason: str, **fields: object) -> ClaimStatus:
    status = replace(ClaimStatus(observed_generation=1), **fields)  # type: ignore[arg-type]
    return with_ready(status, phase, reason, "earlier", CREATED, ready=phase is ClaimPhase.BOUND)


BOUND = in_phase(
    ClaimPhase.BOUND,
    "Bound",
    session_name="p-abcde",
    session_id="sess-free",
    expires_at=EXPIRES,
    launch_type=LaunchType.WARM,
    bound_at=NOW - timedelta(seconds=60),
)


def reasons(decision: ClaimDecision) -> list[str]:
    return [note.reason for note in decision.events]


# -- rows ----------------------------------------------------------------------------------


def test_claim_being_deleted_is_left_to_garbage_collection() -> None:
    decision = run(view(meta=replace(META, deleting=True), candidate=FREE))
    assert decision.action is None
    assert decision.status.phase is None


def test_invalid_spec_fails_with_invalid_spec() -> None:
    decision = run(view(spec=None, spec_error="spec.poolRef.name must name a CodeInterpreterSessionPool"))
    assert decision.action is None
    assert decision.status.phase is ClaimPhase.FAILED
    assert ready_reason(decision.status) == "InvalidSpec"
    assert "poolRef" in (decision.status.message or "")
    assert reasons(decision) == ["InvalidSpec"]


def test_a_name_too_long_for_a_label_fails_with_invalid_spec() -> None:
    decision = run(view(meta=replace(META, name="x" * 64), candidate=FREE))
    assert decision.action is None
    assert ready_reason(decision.status) == "InvalidSpec"
    assert "63" in (decision.status.message or "")


def test_shutdown_time_passed_deletes_the_claim() -> None:
    spec = ClaimSpec("p", shutdown_time=NOW - timedelta(seconds=1))
    decision = run(view(spec=spec), BOUND)
    assert decision.action == DeleteClaim("team-a", "task-1", UID)
    assert reasons(decision) == ["ShutdownTime"]


def test_bound_and_ttl_after_bound_passed_deletes_the_claim() -> None:
    spec = ClaimSpec("p", ttl_seconds_after_bound=60)
    decision = run(view(spec=spec, child=WARM_HELD), BOUND)
    assert decision.action == DeleteClaim("team-a", "task-1", UID)
    assert reasons(decision) == ["Expired"]


def test_delete_claim_done_waits() -> None:
    spec = ClaimSpec("p", ttl_seconds_after_bound=60)
    decision = run(view(spec=spec, child=WARM_HELD), BOUND, Deleted())
    assert decision.action is None
    assert decision.status == BOUND


def test_session_cache_not_listed_waits_briefly() -> None:
    decision = run(view(synced=False), ClaimStatus())
    assert decision.action is None
    assert decision.requeue_after == TIMING.sync_wait_seconds


def test_write_failed_retries_with_backoff_and_says_why() -> None:
    decision = run(view(), ClaimStatus(), WriteFailed("CreateChild failed: 500"))
    assert decision.action is None
    assert decision.backoff is True
    assert decision.requeue_after == TIMING.retry_seconds
    assert decision.status.message == "CreateChild failed: 500"


def test_failed_unbound_with_its_cold_child_still_there_deletes_the_child() -> None:
    failed = in_phase(ClaimPhase.FAILED, "Unbound")
    decision = run(view(child=MINE_STARTING), failed)
    assert decision.action == DeleteChild("team-a", COLD_NAME, "uid-cold")
    assert run(view(child=MINE_STARTING), failed, Deleted()).action is None
    assert run(view(child=replace(MINE_STARTING, deleting=True)), failed).action is None


@pytest.mark.parametrize("reason", ["InvalidSpec", "Unbound", "SessionEnded"])
def test_failed_is_final(reason: str) -> None:
    failed = in_phase(ClaimPhase.FAILED, reason)
    decision = run(view(candidate=FREE), failed)
    assert decision.action is None
    assert decision.status == failed


def test_its_child_ready_binds_warm() -> None:
    decision = run(view(candidate=None), ClaimStatus(phase=ClaimPhase.PENDING), ChildBound(WARM_HELD))
    status = decision.status
    assert decision.action is None
    assert status.phase is ClaimPhase.BOUND
    assert ready_reason(status) == "Bound"
    assert (status.session_name, status.session_id, status.expires_at) == ("p-abcde", "sess-free", EXPIRES)
    assert status.launch_type is LaunchType.WARM
    assert status.bound_at == NOW
    assert status.condition("Ready").status == "True"  # type: ignore[union-attr]
    assert reasons(decision) == ["Bound"]
    assert decision.requeue_after is None


def test_its_child_ready_found_after_a_crash_is_adopted() -> None:
    """The child patch landed, the status write did not: the child's labels say whose it is."""
    decision = run(view(child=WARM_HELD, candidate=FREE), ClaimStatus())
    assert decision.action is None
    assert decision.status.phase is ClaimPhase.BOUND
    assert decision.status.session_name == "p-abcde"
    assert decision.status.launch_type is LaunchType.WARM


def test_another_child_labelled_with_it_is_deleted() -> None:
    """Two processes bound for it at once (a leader handover): it keeps one, deletes the spare."""
    spare = replace(MINE_STARTING, name="task-1-spare", uid="uid-spare")
    decision = run(view(child=WARM_HELD, extra=(spare,)), BOUND)
    assert decision.action == DeleteChild("team-a", "task-1-spare", "uid-spare")
    assert decision.status.phase is ClaimPhase.BOUND and decision.status.session_name == "p-abcde"
    assert run(view(child=WARM_HELD, extra=(spare,)), BOUND, Deleted()).action is None


def test_its_cold_child_ready_binds_cold_and_asks_back_for_its_ttl() -> None:
    spec = ClaimSpec("p", ttl_seconds_after_bound=600)
    decision = run(view(spec=spec, child=MINE_READY), in_phase(ClaimPhase.PENDING, "Starting"))
    assert decision.status.phase is ClaimPhase.BOUND
    assert decision.status.launch_type is LaunchType.COLD
    assert decision.requeue_after == 600


@pytest.mark.parametrize(
    "child",
    [
        replace(WARM_HELD, deleting=True),
        replace(WARM_HELD, phase="Stopping"),
        replace(WARM_HELD, phase="Terminated"),
    ],
    ids=["deleted", "stopping", "terminated"],
)
def test_its_child_ended_fails_with_session_ended(child: Child) -> None:
    decision = run(view(child=child), BOUND)
    assert decision.status.phase is ClaimPhase.FAILED
    assert ready_reason(decision.status) == "SessionEnded"
    assert reasons(decision) == ["SessionEnded"]


def test_bound_and_its_child_gone_fails_with_session_ended() -> None:
    decision = run(view(child=None, candidate=FREE), BOUND)
    assert decision.action is None
    assert ready_reason(decision.status) == "SessionEnded"
    assert "p-abcde" in (decision.status.message or "")


def test_bound_and_its_child_not_ready_keeps_bound() -> None:
    decision = run(view(child=replace(WARM_HELD, phase="Starting")), BOUND)
    assert decision.action is None
    assert decision.status == BOUND


def test_unbound_ttl_passed_with_a_child_deletes_it_and_fails() -> None:
    decision = run(
        view(child=MINE_STARTING),
        in_phase(ClaimPhase.PENDING, "Starting"),
        now=CREATED + timedelta(seconds=30),
    )
    assert decision.action == DeleteChild("team-a", COLD_NAME, "uid-cold")
    assert decision.status.phase is ClaimPhase.FAILED
    assert ready_reason(decision.status) == "Unbound"
    assert reasons(decision) == ["Unbound"]


def test_unbound_ttl_passed_without_a_child_fails() -> None:
    decision = run(
        view(pool=None), in_phase(ClaimPhase.PENDING, "PoolNotFound"), now=CREATED + timedelta(seconds=31)
    )
    assert decision.action is None
    assert ready_reason(decision.status) == "Unbound"


def test_its_cold_child_starting_waits_for_its_watch_until_the_unbound_deadline() -> None:
    decision = run(view(child=MINE_STARTING), ClaimStatus())
    assert decision.action is None
    assert decision.status.phase is ClaimPhase.PENDING
    assert ready_reason(decision.status) == "Starting"
    assert COLD_NAME in (decision.status.message or "")
    assert decision.requeue_after == 25  # created 5 s ago, ttlSecondsUnbound 30
    created = run(view(), ClaimStatus(), ChildCreated(MINE_STARTING))
    assert created.action is None and ready_reason(created.status) == "Starting"


def test_a_lost_bind_looks_again_at_once() -> None:
    decision = run(view(candidate=None), ClaimStatus(phase=ClaimPhase.PENDING), BindLost("p-abcde"))
    assert decision.action is None
    assert decision.requeue_after == 0.0
    assert decision.status.phase is ClaimPhase.PENDING


def test_pool_not_found_waits_for_it() -> None:
    decision = run(view(pool=None))
    assert decision.action is None
    assert decision.status.phase is ClaimPhase.PENDING
    assert ready_reason(decision.status) == "PoolNotFound"
    assert reasons(decision) == ["PoolNotFound"]
    assert decision.requeue_after == 25
    no_ttl = run(view(pool=None, spec=ClaimSpec("p")))
    assert no_ttl.requeue_after is None


def test_a_free_ready_child_is_bound_with_its_resource_version() -> None:
    decision = run(view(candidate=FREE))
    assert decision.action == BindChild("team-a", "p-abcde", "41", "task-1", UID)
    assert decision.status.phase is ClaimPhase.PENDING
    patch = decision.action.patch()  # type: ignore[union-attr]
    assert patch["metadata"]["resourceVersion"] == "41"
    assert patch["metadata"]["labels"] == {
        "agentcore.dev/pool-state": "bound",
        "agentcore.dev/claim": "task-1",
    }
    (owner,) = patch["metadata"]["ownerReferences"]
    assert owner == {
        "apiVersion": "agentcore.dev/v1alpha1",
        "kind": "CodeInterpreterSessionClaim",
        "name": "task-1",
        "uid": UID,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def test_none_free_creates_a_cold_child_from_the_template() -> None:
    decision = run(view(candidate=None))
    assert isinstance(decision.action, CreateChild)
    assert decision.action.manifest == cold_child(META, POOL)
    manifest = decision.action.manifest
    assert manifest["metadata"]["name"] == COLD_NAME
    assert manifest["metadata"]["labels"] == {
        "team": "a",
        "agentcore.dev/pool": "p",
        "agentcore.dev/pool-state": "bound",
        "agentcore.dev/claim": "task-1",
    }
    assert manifest["metadata"]["annotations"] == {"note": "x"}
    assert manifest["metadata"]["ownerReferences"][0]["uid"] == UID
    assert manifest["spec"] == {"sessionTimeoutSeconds": 900}
    assert ready_reason(decision.status) == "Starting"
    assert reasons(decision) == ["Starting"]


def test_its_create_found_it_existing_waits_for_its_watch() -> None:
    decision = run(view(candidate=None), in_phase(ClaimPhase.PENDING, "Starting"), ChildCreated(None))
    assert decision.action is None
    assert ready_reason(decision.status) == "Starting"


def test_the_cold_child_name_is_the_claims_own_and_stable() -> None:
    assert cold_child_name("task-1", UID) == cold_child_name("task-1", UID)
    assert cold_child_name("task-1", UID) != cold_child_name("task-1", "another-uid")
    suffix = COLD_NAME.removeprefix("task-1-")
    assert len(suffix) == 5 and set(suffix) <= set(string.ascii_lowercase + string.digits)
