"""The CodeInterpreter's decision, row by row of the table in its docstring.

Plain data in (an InterpreterView, an InterpreterStatus, an observation, a moment), plain
data out (the action, the status, the requeue, the events). Nothing is mocked.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from agentcore_operator.api.v1alpha1 import Condition, DeletionPolicy
from agentcore_operator.api.v1alpha1.interpreter import InterpreterPhase, InterpreterSpec, InterpreterStatus
from agentcore_operator.controller.observations import CallFailed, InterpreterMissing
from agentcore_operator.controller.state_machine import client_token
from agentcore_operator.interpreters.decision import (
    AddFinalizer,
    InterpreterCall,
    InterpreterDecision,
    InterpreterTiming,
    InterpreterView,
    RemoveFinalizer,
    create_token,
    decide,
    mutates,
)
from agentcore_operator.interpreters.observations import (
    CREATE,
    DELETE,
    GET,
    LIST_TAGS,
    TAG,
    UNTAG,
    InterpreterAnswer,
    InterpreterObservation,
    TagsKnown,
)
from agentcore_operator.runtime.errors import ApiError, ErrorKind
from agentcore_operator.runtime.meta import ResourceMeta

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(minutes=5)
UID = "4a1c7f52-8c7e-4f7e-9a55-2d1c0b7e9f10"
REGION = "us-west-2"
ID = "team_a_tools-a1b2c3d4e5"
ARN = f"arn:aws:bedrock-agentcore:{REGION}:123456789012:code-interpreter-custom/{ID}"
ADOPT = "handmade-z9y8x7w6v5"
TIMING = InterpreterTiming(
    create_poll_seconds=2.5,
    delete_poll_seconds=3.5,
    resync_seconds=301.0,
    quota_retry_seconds=31.0,
    access_denied_retry_seconds=61.0,
    delete_failure_retry_seconds=32.0,
)
TOKEN = create_token(UID)

SPEC = InterpreterSpec(
    name="team_a_tools",
    region=REGION,
    network_configuration={"networkMode": "SANDBOX"},
    deletion_policy=DeletionPolicy.DELETE,
    tags={"team": "a"},
)


def view(*, deleting: bool = False, has_finalizer: bool = True, **changes: object) -> InterpreterView:
    meta = ResourceMeta(UID, "team-a", "tools", 3, deleting=deleting, has_finalizer=has_finalizer)
    return replace(InterpreterView(meta, SPEC), **changes)  # type: ignore[arg-type]


def read(interpreter_id: str = ID) -> InterpreterCall:
    return InterpreterCall(GET, REGION, {"codeInterpreterId": interpreter_id})


def created_answer(state: str = "CREATING") -> InterpreterAnswer:
    return InterpreterAnswer(CREATE, state, ID, ARN, EARLIER)


def list_tags() -> InterpreterCall:
    return InterpreterCall(LIST_TAGS, REGION, {"resourceArn": ARN})


def tag(tags: dict[str, str], after: dict[str, str]) -> InterpreterCall:
    return InterpreterCall(TAG, REGION, {"resourceArn": ARN, "tags": tags}, after)


def untag(keys: list[str], after: dict[str, str]) -> InterpreterCall:
    return InterpreterCall(UNTAG, REGION, {"resourceArn": ARN, "tagKeys": keys}, after)


DELETE_CALL = InterpreterCall(
    DELETE, REGION, {"codeInterpreterId": ID, "clientToken": client_token(UID, "delete")}
)


def ready_condition(reason: str, status: str = "False") -> Condition:
    return Condition("Ready", status, reason, reason, EARLIER, 3)


def created(**changes: object) -> InterpreterStatus:
    """A status that knows its interpreter (id, ARN, region, tags as sent)."""
    base = InterpreterStatus(
        phase=InterpreterPhase.CREATING,
        code_interpreter_id=ID,
        code_interpreter_arn=ARN,
        status="CREATING",
        region=REGION,
        tags={"team": "a"},
        conditions=(ready_condition("Creating"),),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def ready(**changes: object) -> InterpreterStatus:
    fields: dict[str, object] = {
        "phase": InterpreterPhase.READY,
        "status": "READY",
        "conditions": (ready_condition("InterpreterReady", "True"),),
    }
    return created(**{**fields, **changes})


def run(
    v: InterpreterView, status: InterpreterStatus, seen: InterpreterObservation | None = None
) -> InterpreterDecision:
    return decide(v, status, seen, NOW, TIMING)


def reason(d: InterpreterDecision) -> str | None:
    condition = d.status.condition("Ready")
    return condition.reason if condition else None


def failed(kind: ErrorKind, operation: str = "GetCodeInterpreter") -> CallFailed:
    return CallFailed(ApiError(kind, operation, kind.value + "Code", "no"))


def described(state: str, why: str | None = None) -> InterpreterAnswer:
    return InterpreterAnswer(GET, state, ID, ARN, EARLIER, why)


# -- not deleting ---------------------------------------------------------------------------


def test_invalid_spec_without_an_interpreter_fails() -> None:
    d = run(view(spec=None, spec_error="spec.name is bad"), InterpreterStatus())
    assert d.action is None and d.status.phase is InterpreterPhase.FAILED
    assert reason(d) == "InvalidSpec" and d.status.message == "spec.name is bad"
    assert [e.reason for e in d.events] == ["InvalidSpec"]


def test_a_missing_finalizer_is_added_first() -> None:
    assert run(view(has_finalizer=False), InterpreterStatus()).action == AddFinalizer()


def test_adoption_reads_the_named_interpreter() -> None:
    d = run(view(spec=replace(SPEC, adopt_id=ADOPT)), InterpreterStatus())
    assert d.action == read(ADOPT)
    assert (d.status.phase, reason(d)) == (InterpreterPhase.CREATING, "Adopting")


def test_no_interpreter_yet_creates_one_with_the_uid_token_and_records_it_first() -> None:
    d = run(view(), InterpreterStatus())
    assert isinstance(d.action, InterpreterCall) and mutates(d.action)
    assert (d.action.operation, d.action.region) == (CREATE, REGION)
    assert d.action.params == {
        "name": "team_a_tools",
        "networkConfiguration": {"networkMode": "SANDBOX"},
        "clientToken": TOKEN,
        "tags": {"team": "a"},
    }
    assert d.status.pending_create_token == TOKEN and d.status.tags == {"team": "a"}
    assert (d.status.phase, reason(d)) == (InterpreterPhase.CREATING, "Creating")
    assert len(TOKEN) >= 33 and create_token(UID) == TOKEN  # deterministic: one interpreter per resource


def test_a_create_repeated_after_a_crash_sends_the_recorded_tags_not_the_new_ones() -> None:
    recorded = InterpreterStatus(pending_create_token=TOKEN, tags={"team": "old"}, region=REGION)
    d = run(view(spec=replace(SPEC, tags={"team": "new"})), recorded)
    assert isinstance(d.action, InterpreterCall) and d.action.operation == CREATE
    assert d.action.params["tags"] == {"team": "old"} and d.action.params["clientToken"] == TOKEN


def test_created_records_the_id_and_polls() -> None:
    sent = run(view(), InterpreterStatus()).status
    d = run(view(), sent, created_answer())
    assert d.action is None and d.requeue_after == TIMING.create_poll_seconds
    assert (d.status.code_interpreter_id, d.status.code_interpreter_arn) == (ID, ARN)
    assert d.status.pending_create_token is None and d.status.created_at == EARLIER
    assert [e.reason for e in d.events] == ["Created"]
    again = run(view(), d.status, created_answer())
    assert again.events == ()  # the same answer twice is one event


def test_a_known_interpreter_is_read() -> None:
    assert run(view(), created()).action == read()


def test_an_adopted_interpreter_is_recorded_with_an_event() -> None:
    spec = replace(SPEC, adopt_id=ADOPT)
    adopting = run(view(spec=spec), InterpreterStatus()).status
    d = run(view(spec=spec), adopting, InterpreterAnswer(GET, "READY", ADOPT, ARN, EARLIER))
    assert d.status.code_interpreter_id == ADOPT and d.status.tags is None
    assert d.action == list_tags()  # its tags are not known yet
    assert [e.reason for e in d.events] == ["Adopted", "Ready"]


def test_creating_polls() -> None:
    d = run(view(), created(), described("CREATING"))
    assert d.action is None and d.requeue_after == TIMING.create_poll_seconds
    assert (d.status.phase, reason(d)) == (InterpreterPhase.CREATING, "Creating")


def test_ready_with_unknown_tags_reads_them() -> None:
    d = run(view(), created(tags=None), described("READY"))
    assert d.action == list_tags()
    assert (d.status.phase, reason(d)) == (InterpreterPhase.READY, "InterpreterReady")
    assert d.status.condition("Ready").status == "True"  # type: ignore[union-attr]
    assert [e.reason for e in d.events] == ["Ready"]


def test_ready_with_tags_to_add_tags() -> None:
    spec = replace(SPEC, tags={"team": "a", "cost": "42"})
    d = run(view(spec=spec), ready(), described("READY"))
    assert d.action == tag({"cost": "42"}, {"team": "a", "cost": "42"})
    assert d.events == ()  # already Ready: no new transition


def test_ready_with_tags_to_remove_untags() -> None:
    d = run(view(spec=replace(SPEC, tags={})), ready(), described("READY"))
    assert d.action == untag(["team"], {})


def test_ready_with_tags_in_sync_waits_for_the_resync() -> None:
    d = run(view(), ready(), described("READY"))
    assert d.action is None and d.requeue_after == TIMING.resync_seconds


@pytest.mark.parametrize(
    ("seen", "expected"),
    [
        (TagsKnown({"team": "a"}), None),
        (TagsKnown({"team": "b", "x": "y"}), tag({"team": "a"}, {"team": "a", "x": "y"})),
        (TagsKnown({"team": "a", "x": "y"}), untag(["x"], {"team": "a"})),
    ],
)
def test_tags_seen_or_changed_are_recorded_and_the_rest_synced(
    seen: InterpreterObservation, expected: object
) -> None:
    d = run(view(), ready(tags=None), seen)
    assert d.action == expected
    assert d.status.tags == seen.tags  # type: ignore[union-attr]
    if expected is None:
        assert d.requeue_after == TIMING.resync_seconds


def test_create_failed_is_terminal_with_the_reason() -> None:
    d = run(view(), created(), described("CREATE_FAILED", "subnet not found"))
    assert (d.status.phase, reason(d)) == (InterpreterPhase.FAILED, "CreateFailed")
    assert "subnet not found" in (d.status.message or "") and d.status.failure_reason == "subnet not found"
    assert [e.type for e in d.events] == ["Warning"]
    assert run(view(), d.status).action is None  # terminal: nothing more until the spec changes


@pytest.mark.parametrize("state", ["DELETING", "DELETED", "DELETE_FAILED"])
def test_deleted_outside_the_resource_is_terminal(state: str) -> None:
    d = run(view(), ready(), described(state))
    assert (d.status.phase, reason(d)) == (InterpreterPhase.FAILED, "DeletedOutOfBand")


def test_gone_is_not_found() -> None:
    d = run(view(), ready(), InterpreterMissing())
    assert (d.status.phase, reason(d)) == (InterpreterPhase.FAILED, "NotFound") and ID in (
        d.status.message or ""
    )


@pytest.mark.parametrize(
    "kind", [ErrorKind.THROTTLED, ErrorKind.UNAVAILABLE, ErrorKind.CONFLICT, ErrorKind.UNKNOWN]
)
def test_transient_errors_back_off_and_keep_the_phase(kind: ErrorKind) -> None:
    d = run(view(), ready(), failed(kind))
    assert d.action is None and d.backoff and d.requeue_after is None
    assert (d.status.phase, reason(d)) == (InterpreterPhase.READY, kind.value)
    assert [e.reason for e in d.events] == [kind.value]
    assert run(view(), d.status, failed(kind)).events == ()  # the retry posts no second event


def test_quota_exceeded_waits_at_least_30_s() -> None:
    sent = run(view(), InterpreterStatus()).status
    d = run(view(), sent, failed(ErrorKind.QUOTA_EXCEEDED, "CreateCodeInterpreter"))
    assert d.backoff and d.requeue_after == TIMING.quota_retry_seconds
    assert (d.status.phase, reason(d)) == (InterpreterPhase.CREATING, "QuotaExceeded")
    assert d.status.pending_create_token == TOKEN  # kept: the next Create uses the same token
    retry = run(view(), d.status)
    assert retry.action is not None and retry.action.operation == CREATE  # type: ignore[union-attr]
    assert reason(retry) == "QuotaExceeded"


def test_access_denied_waits_at_least_60_s() -> None:
    d = run(view(), created(), failed(ErrorKind.ACCESS_DENIED))
    assert d.backoff and d.requeue_after == TIMING.access_denied_retry_seconds
    assert reason(d) == "AccessDenied"


def test_an_invalid_create_fails_and_settles_the_token() -> None:
    sent = run(view(), InterpreterStatus()).status
    d = run(view(), sent, failed(ErrorKind.INVALID, "CreateCodeInterpreter"))
    assert (d.status.phase, reason(d)) == (InterpreterPhase.FAILED, "InvalidRequest")
    assert d.status.pending_create_token is None and not d.backoff


def test_a_terminal_failure_does_nothing_more() -> None:
    status = created(phase=InterpreterPhase.FAILED, conditions=(ready_condition("CreateFailed"),))
    d = run(view(), status)
    assert d.action is None and d.requeue_after is None and d.events == ()


# -- deleting -------------------------------------------------------------------------------


def test_retain_lets_go_and_says_so() -> None:
    d = run(view(deleting=True, spec=replace(SPEC, deletion_policy=DeletionPolicy.RETAIN)), ready())
    assert d.action == RemoveFinalizer() and [e.reason for e in d.events] == ["Retained"]


def test_retain_lets_go_even_while_sessions_use_it() -> None:
    spec = replace(SPEC, deletion_policy=DeletionPolicy.RETAIN)
    assert run(view(deleting=True, spec=spec, users=("s1",)), ready()).action == RemoveFinalizer()


def test_in_use_keeps_the_finalizer_and_names_the_sessions() -> None:
    d = run(view(deleting=True, users=("b-session", "a-session")), ready())
    assert d.action is None and d.requeue_after is None  # a session's change queues it again
    assert (d.status.phase, reason(d)) == (InterpreterPhase.DELETING, "InUse")
    assert "a-session, b-session" in (d.status.message or "")
    assert [e.reason for e in d.events] == ["InUse"]


def test_deleting_with_a_create_unanswered_replays_it_to_learn_the_id() -> None:
    sent = run(view(), InterpreterStatus()).status
    d = run(view(deleting=True), sent)
    assert isinstance(d.action, InterpreterCall) and d.action.params["clientToken"] == TOKEN
    then = run(view(deleting=True), d.status, created_answer("READY"))
    assert then.action == DELETE_CALL and then.status.pending_create_token is None


def test_deleting_an_adopted_interpreter_never_read_deletes_it_under_delete() -> None:
    d = run(view(deleting=True, spec=replace(SPEC, adopt_id=ADOPT)), InterpreterStatus())
    assert d.action is not None and d.action.params["codeInterpreterId"] == ADOPT  # type: ignore[union-attr]
    assert d.action.operation == DELETE  # type: ignore[union-attr]


def test_deleting_with_nothing_created_lets_go() -> None:
    assert run(view(deleting=True), InterpreterStatus()).action == RemoveFinalizer()


def test_deleting_a_known_interpreter_deletes_it() -> None:
    d = run(view(deleting=True), ready())
    assert d.action == DELETE_CALL
    assert (d.status.phase, reason(d)) == (InterpreterPhase.DELETING, "Deleting")
    assert [e.reason for e in d.events] == ["Deleting"]


def test_deleting_while_agentcore_deletes_reads() -> None:
    status = ready(status="DELETING", phase=InterpreterPhase.DELETING)
    assert run(view(deleting=True), status).action == read()


@pytest.mark.parametrize("seen", [InterpreterAnswer(DELETE, "DELETING", ID), described("DELETING")])
def test_deleting_polls_until_deleted(seen: InterpreterObservation) -> None:
    d = run(view(deleting=True), ready(), seen)
    assert d.action is None and d.requeue_after == TIMING.delete_poll_seconds
    assert d.status.status == "DELETING" and d.status.phase is InterpreterPhase.DELETING


@pytest.mark.parametrize(
    "seen",
    [
        InterpreterAnswer(DELETE, "DELETED", ID),
        described("DELETED"),
        InterpreterMissing(),
        failed(ErrorKind.NOT_FOUND, "DeleteCodeInterpreter"),
    ],
)
def test_deleted_releases_the_finalizer(seen: InterpreterObservation) -> None:
    d = run(view(deleting=True), ready(), seen)
    assert d.action == RemoveFinalizer() and [e.reason for e in d.events] == ["Deleted"]


def test_a_replayed_create_refused_as_invalid_lets_go() -> None:
    sent = run(view(), InterpreterStatus()).status
    d = run(view(deleting=True), sent, failed(ErrorKind.INVALID, "CreateCodeInterpreter"))
    assert d.action == RemoveFinalizer() and d.status.pending_create_token is None


@pytest.mark.parametrize("kind", [ErrorKind.THROTTLED, ErrorKind.UNAVAILABLE, ErrorKind.CONFLICT])
def test_a_delete_throttled_backs_off(kind: ErrorKind) -> None:
    d = run(view(deleting=True), ready(), failed(kind, "DeleteCodeInterpreter"))
    assert d.action is None and d.backoff and reason(d) == kind.value


@pytest.mark.parametrize("kind", [ErrorKind.ACCESS_DENIED, ErrorKind.INVALID])
def test_a_delete_refused_says_how_to_let_go(kind: ErrorKind) -> None:
    d = run(view(deleting=True), ready(), failed(kind, "DeleteCodeInterpreter"))
    assert d.backoff and d.requeue_after == TIMING.delete_failure_retry_seconds
    assert reason(d) == "DeleteFailed" and "deletionPolicy to Retain" in (d.status.message or "")
    assert [e.type for e in d.events] == ["Warning"]
    retry = run(view(deleting=True), d.status)
    assert retry.action == DELETE_CALL and reason(retry) == "DeleteFailed"  # kept while retried


def test_without_the_finalizer_a_deleted_resource_is_left_alone() -> None:
    assert run(view(deleting=True, has_finalizer=False), ready()).action is None


def test_every_status_round_trips_through_the_api_form() -> None:
    d = run(view(), ready(), described("READY"))
    assert InterpreterStatus.from_dict(d.status.to_dict()) == d.status


# -- tenancy: the interpreter's account -------------------------------------------------------------


def test_the_first_call_goes_to_the_namespaces_account_and_records_it() -> None:
    first = decide(view(account="111122223333"), InterpreterStatus(), None, NOW)
    assert isinstance(first.action, InterpreterCall)
    assert first.action.account == "111122223333"
    assert first.status.account_id == "111122223333"
    # Rebound later: the interpreter stays where it was made.
    later = decide(view(account="444455556666"), first.status, None, NOW)
    assert isinstance(later.action, InterpreterCall) and later.action.account == "111122223333"


def test_unbound_namespaces_call_as_the_operator_and_record_nothing() -> None:
    decision = decide(view(), InterpreterStatus(), None, NOW)
    assert isinstance(decision.action, InterpreterCall) and decision.action.account == ""
    assert decision.status.account_id is None
