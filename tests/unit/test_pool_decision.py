"""The CodeInterpreterSessionPool's decision, row by row of the table in its docstring.

Plain data in (a PoolView, a PoolStatus, an observation, a moment), plain data out (the
action, the status, the requeue, the events). Nothing is mocked.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from agentcore_operator.api.v1alpha1.pool import PoolSpec, PoolStatus
from agentcore_operator.pools.decision import (
    CONFLICT_RETRY_SECONDS,
    Child,
    ChildCreated,
    ChildDeleted,
    CreateChild,
    DeleteChild,
    PoolDecision,
    PoolObservation,
    PoolTiming,
    PoolView,
    WriteFailed,
    decide,
    mutates,
    refresh_lead,
)
from agentcore_operator.runtime.meta import ResourceMeta

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
UID = "5b2d8e63-9d8f-4a8e-8b66-3e2d1c8f0a21"
TIMING = PoolTiming(
    refresh_lead_seconds=30.0,
    failure_backoff_seconds=5.0,
    failure_backoff_cap_seconds=40.0,
    resync_seconds=60.0,
)
SPEC = PoolSpec(
    replicas=3,
    template_spec={"sessionTimeoutSeconds": 900},
    session_timeout_seconds=900,
    min_remaining_seconds=60,
    template_labels={"team": "data"},
)
HASH = SPEC.template_hash


def child(
    name: str, phase: str | None = "Ready", *, left: float = 600.0, age: float = 300.0, **changes: object
) -> Child:
    made = Child(
        name=name,
        uid=f"uid-{name}",
        resource_version="7",
        phase=phase,
        created_at=NOW - timedelta(seconds=age),
        expires_at=NOW + timedelta(seconds=left) if phase is not None else None,
        template=HASH,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def ready(*names: str, left: float = 600.0) -> tuple[Child, ...]:
    return tuple(child(n, left=left) for n in names)


def view(
    *children: Child, spec: PoolSpec | None = SPEC, deleting: bool = False, generation: int = 2
) -> PoolView:
    meta = ResourceMeta(UID, "team-a", "p", generation, deleting=deleting, has_finalizer=False)
    return PoolView(meta, spec, tuple(children), next_name="p-new01", spec_error=None if spec else "bad spec")


def run(
    pool: PoolView,
    status: PoolStatus | None = None,
    observation: PoolObservation | None = None,
    now: datetime = NOW,
) -> PoolDecision:
    return decide(pool, status or PoolStatus(observed_generation=2), observation, now, TIMING)


def reason(decision: PoolDecision) -> str | None:
    condition = decision.status.condition("Ready")
    return condition.reason if condition else None


def deleted(decision: PoolDecision) -> tuple[str, str]:
    assert isinstance(decision.action, DeleteChild), decision.action
    return decision.action.name, decision.action.why


# --- the rows, in table order ------------------------------------------------------------------


def test_a_pool_being_deleted_does_nothing_garbage_collection_deletes_the_children() -> None:
    status = PoolStatus(replicas=3)
    decision = run(view(*ready("a", "b"), deleting=True), status)
    assert decision.action is None and decision.status == status and decision.requeue_after is None


def test_an_invalid_spec_is_a_condition_with_its_message_and_no_write() -> None:
    decision = run(view(*ready("a"), spec=None))
    assert decision.action is None and reason(decision) == "InvalidSpec"
    condition = decision.status.condition("Ready")
    assert condition is not None and condition.status == "False" and condition.message == "bad spec"
    assert [e.type for e in decision.events] == ["Warning"]


def test_a_failed_child_is_deleted_and_the_next_create_backs_off() -> None:
    failed = child("c", "Failed", reason="InvalidRequest", message="no such interpreter")
    decision = run(view(*ready("a", "b"), failed))
    assert deleted(decision) == ("c", "Failed")
    assert decision.status.child_failures == 1
    assert decision.status.retry_after == NOW + timedelta(seconds=5)
    assert reason(decision) == "ChildFailed"
    condition = decision.status.condition("Ready")
    assert condition is not None and "InvalidRequest: no such interpreter" in condition.message
    assert [(e.type, e.reason) for e in decision.events] == [("Warning", "ChildFailed")]


def test_failures_in_a_row_double_the_backoff_up_to_its_cap() -> None:
    failed = child("c", "Failed")
    second = run(view(failed), PoolStatus(observed_generation=2, child_failures=1))
    assert second.status.retry_after == NOW + timedelta(seconds=10)
    many = run(view(failed), PoolStatus(observed_generation=2, child_failures=9))
    assert many.status.retry_after == NOW + timedelta(seconds=40)


def test_a_terminated_child_is_deleted_without_counting_a_failure() -> None:
    decision = run(view(*ready("a", "b"), child("c", "Terminated")))
    assert deleted(decision) == ("c", "Terminated")
    assert decision.status.child_failures is None and decision.status.retry_after is None


def test_a_missing_child_is_created_from_the_template_with_the_pools_labels_and_owner() -> None:
    decision = run(view(*ready("a", "b")))
    action = decision.action
    assert isinstance(action, CreateChild) and action.name == "p-new01" and action.namespace == "team-a"
    manifest = action.manifest
    assert manifest["kind"] == "CodeInterpreterSession" and manifest["spec"] == {"sessionTimeoutSeconds": 900}
    meta = manifest["metadata"]
    assert meta["name"] == "p-new01" and meta["namespace"] == "team-a"
    assert meta["labels"] == {
        "team": "data",
        "agentcore.dev/pool": "p",
        "agentcore.dev/pool-state": "free",
        "agentcore.dev/pool-template": HASH,
    }
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "agentcore.dev/v1alpha1",
            "kind": "CodeInterpreterSessionPool",
            "name": "p",
            "uid": UID,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def test_children_starting_or_pending_count_as_supply() -> None:
    decision = run(view(child("a", "Starting"), child("b", "Pending"), child("c", None)))
    assert decision.action is None and reason(decision) == "Filling"


def test_a_create_not_yet_seen_counts_as_supply() -> None:
    decision = run(view(*ready("a", "b"), Child("p-x", unseen=True)))
    assert decision.action is None


def test_while_backing_off_no_child_is_created_until_retry_after() -> None:
    status = run(view(child("c", "Failed"))).status
    decision = run(view(), status, now=NOW + timedelta(seconds=2))
    assert decision.action is None and reason(decision) == "ChildFailed"
    assert decision.requeue_after == pytest.approx(3.0)
    after = run(view(), status, now=NOW + timedelta(seconds=6))
    assert isinstance(after.action, CreateChild)


def test_a_due_child_is_deleted_once_the_fresh_ones_are_handable() -> None:
    old = child("old", left=80.0)  # 80 s left < 60 s minimum + 30 s lead: due
    decision = run(view(*ready("a", "b", "c"), old))
    assert deleted(decision) == ("old", "Refresh")


def test_a_due_child_still_handable_is_kept_until_its_replacement_is() -> None:
    old = child("old", left=80.0)
    decision = run(view(*ready("a", "b"), child("c", "Starting"), old))
    assert decision.action is None  # the replacement exists but is not Ready: old can still be handed out


def test_a_due_child_gets_its_replacement_first() -> None:
    decision = run(view(*ready("a", "b"), child("old", left=80.0)))
    assert isinstance(decision.action, CreateChild)


def test_a_due_child_no_longer_handable_is_deleted_once_its_replacement_exists() -> None:
    expired = child("old", left=30.0)  # under minRemainingSeconds: never handed out again
    decision = run(view(*ready("a", "b"), child("c", "Starting"), expired))
    assert deleted(decision) == ("old", "Refresh")


def test_older_than_max_session_age_is_due() -> None:
    spec = replace(SPEC, max_session_age_seconds=600)
    decision = run(view(*ready("a", "b", "c"), child("old", age=601.0), spec=spec))
    assert deleted(decision) == ("old", "Refresh")


def test_a_child_of_another_template_is_due() -> None:
    decision = run(view(*ready("a", "b", "c"), child("old", template="0123456789")))
    assert deleted(decision) == ("old", "Refresh")


def test_scaled_down_the_not_ready_go_first_then_the_soonest_to_expire() -> None:
    spec = replace(SPEC, replicas=1)
    starting = run(view(child("a", left=500.0), child("b", left=400.0), child("s", "Starting"), spec=spec))
    assert deleted(starting) == ("s", "ScaleDown")
    soonest = run(view(child("a", left=500.0), child("b", left=400.0), spec=spec))
    assert deleted(soonest) == ("b", "ScaleDown")


def test_scaled_to_zero_every_free_child_goes() -> None:
    decision = run(view(*ready("a"), spec=replace(SPEC, replicas=0)))
    assert deleted(decision) == ("a", "ScaleDown")
    assert reason(decision) == "Draining"


def test_a_create_not_yet_seen_is_never_deleted() -> None:
    decision = run(view(Child("p-x", unseen=True), spec=replace(SPEC, replicas=0)))
    assert decision.action is None


def test_children_being_deleted_do_not_count_and_are_not_deleted_again() -> None:
    decision = run(view(*ready("a", "b"), child("c", deleting=True)))
    assert isinstance(decision.action, CreateChild)
    assert decision.status.replicas == 2


def test_otherwise_it_waits_until_the_next_child_is_due() -> None:
    decision = run(view(*ready("a", "b"), child("c", left=120.0)))
    assert decision.action is None and reason(decision) == "PoolReady"
    assert decision.requeue_after == pytest.approx(120.0 - 60.0 - 30.0)


def test_a_settled_pool_is_looked_at_again_after_the_resync() -> None:
    decision = run(view(*ready("a", "b", "c", left=800.0)))
    assert decision.requeue_after == TIMING.resync_seconds


# --- observations -----------------------------------------------------------------------------


@pytest.mark.parametrize("observation", [ChildCreated("p-new01"), ChildDeleted("old")])
def test_a_write_done_asks_for_a_new_pass_at_once(observation: PoolObservation) -> None:
    decision = run(view(*ready("a", "b")), observation=observation)
    assert decision.action is None and decision.requeue_after == 0.0 and not decision.backoff


def test_a_conflict_is_retried_soon_without_backoff() -> None:
    decision = run(view(*ready("a")), observation=WriteFailed("a", "delete", "changed", conflict=True))
    assert (
        decision.action is None and decision.requeue_after == CONFLICT_RETRY_SECONDS and not decision.backoff
    )


@pytest.mark.parametrize(("operation", "expected"), [("create", "CreateFailed"), ("delete", "DeleteFailed")])
def test_a_refused_write_backs_off_and_says_why(operation: str, expected: str) -> None:
    decision = run(view(*ready("a")), observation=WriteFailed("p-new01", operation, "forbidden"))
    assert decision.backoff and reason(decision) == expected
    condition = decision.status.condition("Ready")
    assert condition is not None and "forbidden" in condition.message
    assert [(e.type, e.reason) for e in decision.events] == [("Warning", expected)]


# --- the status ---------------------------------------------------------------------------


def test_the_status_counts_free_and_handable_children_and_names_the_selector() -> None:
    decision = run(view(*ready("a"), child("b", left=30.0), child("c", "Starting"), child("d", "Failed")))
    status = decision.status
    assert status.replicas == 4  # free children in any phase, not being deleted
    assert status.ready_replicas == 1  # b has less than minRemainingSeconds left
    assert status.selector == "agentcore.dev/pool=p,agentcore.dev/pool-state=free"
    assert status.observed_generation == 2


def test_ready_when_the_handable_children_reach_replicas() -> None:
    decision = run(view(*ready("a", "b", "c")))
    condition = decision.status.condition("Ready")
    assert (
        condition is not None
        and condition.status == "True"
        and condition.message == "3/3 free sessions Ready"
    )
    assert [(e.type, e.reason) for e in decision.events] == [("Normal", "PoolReady")]
    again = run(view(*ready("a", "b", "c")), decision.status)
    assert again.events == ()  # events only when the reason changes


def test_the_failure_count_resets_when_the_pool_is_full() -> None:
    status = PoolStatus(observed_generation=2, child_failures=3, retry_after=NOW - timedelta(seconds=1))
    decision = run(view(*ready("a", "b", "c")), status)
    assert decision.status.child_failures is None and decision.status.retry_after is None


def test_a_new_spec_gets_a_fresh_start() -> None:
    status = PoolStatus(observed_generation=1, child_failures=3, retry_after=NOW + timedelta(seconds=30))
    decision = run(view(*ready("a", "b")), status)
    assert isinstance(decision.action, CreateChild) and decision.status.child_failures is None


def test_every_action_is_a_write_with_the_status_persisted_first() -> None:
    assert mutates(CreateChild("ns", "p-x", {})) and mutates(DeleteChild("ns", "p-x", "u", "1", "ScaleDown"))


def test_a_child_is_never_due_at_birth() -> None:
    """The refresh lead is at most half a child's handable life: no replacement loop."""
    short = replace(SPEC, session_timeout_seconds=120, min_remaining_seconds=100)
    assert refresh_lead(short, TIMING) == 10.0
    decision = run(view(*(child(n, left=120.0, age=0.0) for n in "abc"), spec=short))
    assert decision.action is None
