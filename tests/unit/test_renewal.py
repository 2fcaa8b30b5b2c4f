"""restartPolicy, renewal with overlap, ttlSecondsAfterFinished and export: the new rows of
the state-machine table (controller/state_machine.py), as plain data in and out of decide()."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from agentcore_operator.api.v1alpha1 import Phase, RestartPolicy, SessionSpec, SessionStatus, SpecError
from agentcore_operator.controller.observations import (
    Exported,
    ExportRefused,
    SessionMissing,
    SessionSeen,
    SessionStarted,
    SessionStopped,
)
from agentcore_operator.controller.state_machine import (
    DeleteResource,
    ExportConfigMap,
    ReadSession,
    RemoveFinalizer,
    StartSession,
    StopSession,
    export_data,
    start_token,
    stop_token,
)
from agentcore_operator.runtime.errors import ErrorKind

from tests.unit.test_state_machine import (
    BUILTIN,
    CREATED,
    EXPIRES,
    NOW,
    OTHER_SESSION,
    REGION,
    SESSION,
    SESSION_NAME,
    TIMEOUT,
    event_reasons,
    failed,
    reason_of,
    recorded,
    run,
    view,
)

ALWAYS = replace(BUILTIN, restart_policy=RestartPolicy.ALWAYS)
RENEWING = replace(ALWAYS, renew_before_seconds=120, renew_grace_seconds=30)
RENEW_AT = EXPIRES - timedelta(seconds=120)
THIRD = "01JSESSION0000000000000003"
UID = view().uid


def ready(**changes: object) -> SessionStatus:
    return replace(recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True), **changes)  # type: ignore[arg-type]


def handover_of(status: SessionStatus) -> tuple[str, str] | None:
    condition = status.condition("Handover")
    return (condition.status, condition.reason) if condition else None


def successor_start(count: int = 1) -> StartSession:
    return StartSession(
        REGION, BUILTIN.code_interpreter_identifier, SESSION_NAME, TIMEOUT, start_token(UID, count)
    )


# --- tokens ----------------------------------------------------------------------------------------


def test_the_first_session_keeps_the_token_of_operators_without_restarts() -> None:
    assert start_token(UID, 0) == f"start-{UID}"
    assert len({start_token(UID, n) for n in range(50)}) == 50


def test_each_session_is_stopped_with_a_token_of_its_own() -> None:
    assert stop_token(UID, SESSION) != stop_token(UID, OTHER_SESSION)
    assert stop_token(UID, SESSION) == stop_token(UID, SESSION)


# --- renewal -----------------------------------------------------------------------------------------


def test_ready_with_renewal_waits_until_the_renewal_point() -> None:
    decision = run(view(RENEWING), ready())
    assert decision.action is None
    assert decision.requeue_after == pytest.approx((RENEW_AT - NOW).total_seconds())


def test_at_the_renewal_point_the_successor_starts_with_its_own_token_and_the_session_stays_ready() -> None:
    decision = run(view(RENEWING), ready(), now=RENEW_AT)
    assert decision.action == successor_start(1)
    status = decision.status
    assert (status.phase, status.session_id, status.restart_count) == (Phase.READY, SESSION, 1)
    assert (status.pending_start_token, status.unanswered_starts) == (start_token(UID, 1), 1)
    assert handover_of(status) == ("True", "StartingSuccessor")


def test_the_successor_started_is_recorded_as_next() -> None:
    renewing = run(view(RENEWING), ready(), now=RENEW_AT).status
    decision = run(view(RENEWING), renewing, SessionStarted(OTHER_SESSION, RENEW_AT), RENEW_AT)
    status = decision.status
    assert (status.session_id, status.next_session_id, status.pending_start_token) == (
        SESSION,
        OTHER_SESSION,
        None,
    )
    assert event_reasons(decision) == [("Normal", "Started")]
    # the next pass reads the successor, not the session
    following = run(view(RENEWING), status, None, RENEW_AT + timedelta(seconds=1))
    assert following.action == ReadSession(REGION, BUILTIN.code_interpreter_identifier, OTHER_SESSION)


def test_a_lost_successor_start_is_replayed_with_the_same_token() -> None:
    renewing = run(view(RENEWING), ready(), now=RENEW_AT).status
    lost = run(view(RENEWING), renewing, failed(ErrorKind.UNAVAILABLE), RENEW_AT)
    assert lost.status.phase is Phase.READY and lost.backoff
    again = run(view(RENEWING), lost.status, None, RENEW_AT + timedelta(seconds=2))
    assert again.action == successor_start(1)
    assert again.status.unanswered_starts == 2


def test_the_ready_successor_takes_over_and_its_predecessor_drains() -> None:
    status = ready(restart_count=1, next_session_id=OTHER_SESSION)
    decision = run(view(RENEWING), status, SessionSeen(OTHER_SESSION, "READY", RENEW_AT), RENEW_AT)
    new = decision.status
    assert (new.phase, new.session_id, new.previous_session_id) == (Phase.READY, OTHER_SESSION, SESSION)
    assert new.next_session_id is None
    assert new.previous_stop_at == RENEW_AT + timedelta(seconds=30)
    assert new.expires_at == RENEW_AT + timedelta(seconds=TIMEOUT)
    assert handover_of(new) == ("True", "DrainingPredecessor")
    assert event_reasons(decision) == [("Normal", "Restarted")]
    assert SESSION in decision.events[0].message and OTHER_SESSION in decision.events[0].message
    assert decision.requeue_after == pytest.approx(30)


def draining() -> SessionStatus:
    return replace(
        ready(restart_count=1, previous_session_id=SESSION, previous_stop_at=NOW),
        session_id=OTHER_SESSION,
    )


def test_the_predecessor_is_stopped_after_the_grace_with_its_own_token() -> None:
    decision = run(view(RENEWING), draining())
    assert decision.action == StopSession(
        REGION, BUILTIN.code_interpreter_identifier, SESSION, stop_token(UID, SESSION)
    )
    assert decision.status.phase is Phase.READY


def test_the_predecessor_stopped_ends_the_handover() -> None:
    decision = run(view(RENEWING), draining(), SessionStopped(SESSION, NOW))
    assert decision.status.previous_stop_at is None
    assert decision.status.previous_session_id == SESSION  # kept: the last one
    assert handover_of(decision.status) == ("False", "Complete")
    assert decision.action == ReadSession(REGION, BUILTIN.code_interpreter_identifier, OTHER_SESSION)


def test_no_renewal_starts_while_a_predecessor_still_runs() -> None:
    status = replace(draining(), previous_stop_at=NOW + timedelta(seconds=500))
    decision = run(view(RENEWING), status, None, RENEW_AT)
    assert not isinstance(decision.action, StartSession)


def test_a_successor_that_ends_before_it_is_ready_is_retried_after_a_backoff() -> None:
    status = ready(restart_count=1, next_session_id=OTHER_SESSION)
    decision = run(view(RENEWING), status, SessionMissing(OTHER_SESSION), RENEW_AT)
    assert decision.status.next_session_id is None
    assert decision.status.restart_after == RENEW_AT + timedelta(seconds=10)
    assert event_reasons(decision) == [("Warning", "RestartBackOff")]
    later = run(view(RENEWING), decision.status, None, RENEW_AT + timedelta(seconds=10))
    assert later.action == successor_start(2)


def test_the_session_ending_while_its_successor_starts_hands_over_to_it() -> None:
    status = ready(restart_count=1, next_session_id=OTHER_SESSION)
    decision = run(view(RENEWING), status, SessionSeen(SESSION, "TERMINATED", CREATED, EXPIRES), EXPIRES)
    assert decision.status.session_id == OTHER_SESSION
    assert decision.status.previous_session_id == SESSION
    assert decision.status.phase is Phase.STARTING
    assert ("Normal", "Restarted") in event_reasons(decision)


# --- restart without overlap ------------------------------------------------------------------------


def test_always_restarts_an_expired_session_with_the_next_token() -> None:
    decision = run(view(ALWAYS), ready(), SessionSeen(SESSION, "TERMINATED", CREATED, EXPIRES), EXPIRES)
    assert decision.action == successor_start(1)
    status = decision.status
    assert (status.phase, status.session_id, status.previous_session_id, status.restart_count) == (
        Phase.STARTING,
        None,
        SESSION,
        1,
    )
    assert ("Normal", "Expired") in event_reasons(decision)


def test_the_restarted_session_posts_restarted_with_both_ids() -> None:
    status = replace(recorded(Phase.STARTING, "Starting"), previous_session_id=SESSION, restart_count=1)
    decision = run(view(ALWAYS), status, SessionStarted(OTHER_SESSION, NOW))
    assert event_reasons(decision) == [("Normal", "Restarted")]
    assert SESSION in decision.events[0].message and OTHER_SESSION in decision.events[0].message


def test_never_keeps_todays_terminated() -> None:
    decision = run(view(), ready(), SessionSeen(SESSION, "TERMINATED", CREATED, EXPIRES), EXPIRES)
    assert decision.status.phase is Phase.TERMINATED and decision.action is None


def test_a_session_stopped_soon_after_it_started_restarts_after_a_growing_backoff() -> None:
    young = ready(created_at=NOW - timedelta(seconds=20), expires_at=NOW + timedelta(seconds=880))
    decision = run(view(ALWAYS), young, SessionStopped(SESSION, NOW))
    assert decision.action is None
    assert (decision.status.phase, reason_of(decision.status)) == (Phase.PENDING, "RestartBackOff")
    assert decision.requeue_after == 10
    waiting = run(view(ALWAYS), decision.status, None, NOW + timedelta(seconds=5))
    assert waiting.action is None and waiting.requeue_after == pytest.approx(5)
    started = run(view(ALWAYS), decision.status, None, NOW + timedelta(seconds=10))
    assert started.action == successor_start(1)
    again = replace(young, restart_count=1, restart_backoff_seconds=10)
    assert run(view(ALWAYS), again, SessionStopped(SESSION, NOW)).requeue_after == 20
    capped = replace(young, restart_count=9, restart_backoff_seconds=300)
    assert run(view(ALWAYS), capped, SessionStopped(SESSION, NOW)).requeue_after == 300


def test_switching_a_terminated_session_to_always_brings_it_back() -> None:
    ended = recorded(Phase.TERMINATED, "SessionExpired", session_id=SESSION)
    decision = run(view(ALWAYS), ended, None, EXPIRES + timedelta(hours=1))
    assert decision.action == successor_start(1)


# --- deleting during a handover --------------------------------------------------------------------


def test_deleting_stops_the_successor_first() -> None:
    status = ready(restart_count=1, next_session_id=OTHER_SESSION)
    decision = run(view(RENEWING, deleting=True), status)
    assert isinstance(decision.action, StopSession) and decision.action.session_id == OTHER_SESSION


def test_deleting_stops_a_draining_predecessor_before_letting_go() -> None:
    decision = run(view(RENEWING, deleting=True), draining())
    assert isinstance(decision.action, StopSession) and decision.action.session_id == SESSION
    after = run(view(RENEWING, deleting=True), draining(), SessionStopped(SESSION, NOW))
    assert not isinstance(after.action, RemoveFinalizer)
    assert after.status.previous_stop_at is None
    last = run(view(RENEWING, deleting=True), after.status)
    assert isinstance(last.action, StopSession) and last.action.session_id == OTHER_SESSION


def test_deleting_replays_an_unresolved_successor_start_then_stops_it() -> None:
    renewing = run(view(RENEWING), ready(), now=RENEW_AT).status
    decision = run(view(RENEWING, deleting=True), renewing, None, RENEW_AT)
    assert decision.action == successor_start(1)
    started = run(view(RENEWING, deleting=True), renewing, SessionStarted(THIRD, RENEW_AT), RENEW_AT)
    assert isinstance(started.action, StopSession) and started.action.session_id == THIRD


def test_the_session_stopped_never_lets_go_while_another_may_run() -> None:
    status = ready(restart_count=1, next_session_id=OTHER_SESSION)
    decision = run(view(RENEWING, deleting=True), status, SessionStopped(SESSION, NOW))
    assert decision.action is None and decision.requeue_after == 0


# --- ttlSecondsAfterFinished -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "finished",
    [
        recorded(Phase.TERMINATED, "SessionExpired", session_id=SESSION),
        recorded(Phase.FAILED, "InterpreterNotFound"),
    ],
    ids=["Terminated", "Failed"],
)
def test_a_finished_resource_is_deleted_ttl_seconds_later(finished: SessionStatus) -> None:
    spec = replace(BUILTIN, ttl_seconds_after_finished=5)
    first = run(view(spec), finished)
    assert first.status.finished_at == NOW and first.requeue_after == 5
    assert run(view(spec), first.status, None, NOW + timedelta(seconds=4)).action is None
    due = run(view(spec), first.status, None, NOW + timedelta(seconds=5))
    assert due.action == DeleteResource(view().namespace, view().name, UID)


def test_without_ttl_a_finished_resource_stays_and_its_status_is_unchanged() -> None:
    finished = recorded(Phase.TERMINATED, "SessionExpired", session_id=SESSION)
    assert run(view(), finished).status == replace(finished)


# --- export ------------------------------------------------------------------------------------------


EXPORTING = replace(RENEWING, export_config_map_name="sandbox-session")


def test_a_waiting_decision_first_brings_the_export_up_to_date_and_keeps_its_wait() -> None:
    decision = run(view(EXPORTING), ready())
    action = decision.action
    assert isinstance(action, ExportConfigMap)
    assert dict(action.data) == {
        "sessionId": SESSION,
        "codeInterpreterIdentifier": BUILTIN.code_interpreter_identifier,
        "region": REGION,
        "expiresAt": "2026-03-01T12:13:20Z",
        "phase": "Ready",
    }
    assert (action.name, action.owner_uid, action.requeue_after) == (
        "sandbox-session",
        UID,
        decision.requeue_after,
    )
    done = run(view(EXPORTING), decision.status, Exported(action.fingerprint, action.requeue_after))
    assert done.status.exported == action.fingerprint and done.requeue_after == action.requeue_after
    assert run(view(EXPORTING), done.status).action is None  # up to date: nothing to write


def test_the_export_names_no_session_while_none_is_ready() -> None:
    data = dict(export_data(EXPORTING, recorded(Phase.STARTING, "Starting")))
    assert data["sessionId"] == "" and data["phase"] == "Starting" and data["expiresAt"] == ""


def test_a_foreign_configmap_is_reported_once_and_left_alone() -> None:
    action = run(view(EXPORTING), ready()).action
    assert isinstance(action, ExportConfigMap)
    refused = ExportRefused(action.fingerprint, "ExportConflict", "not ours", action.requeue_after)
    decision = run(view(EXPORTING), ready(), refused)
    condition = decision.status.condition("Exported")
    assert condition is not None and (condition.status, condition.reason) == ("False", "ExportConflict")
    assert event_reasons(decision) == [("Warning", "ExportConflict")]
    assert run(view(EXPORTING), decision.status).action is None  # not retried until the data changes


# --- the spec ----------------------------------------------------------------------------------------


def body(**spec: object) -> dict[str, object]:
    return {"metadata": {"namespace": "ns", "name": "n"}, "spec": {"sessionTimeoutSeconds": 60, **spec}}


def test_the_new_fields_default_to_todays_behaviour() -> None:
    spec = SessionSpec.from_resource(body(), default_region=REGION)
    assert (spec.restart_policy, spec.renew_before_seconds, spec.renew_grace_seconds) == (
        RestartPolicy.NEVER,
        0,
        30,
    )
    assert spec.ttl_seconds_after_finished is None and spec.export_config_map_name is None


@pytest.mark.parametrize(
    "fields",
    [
        {"restartPolicy": "Sometimes"},
        {"restartPolicy": "Always", "renewBeforeSeconds": -1},
        {"restartPolicy": "Always", "renewBeforeSeconds": 60},
        {"renewBeforeSeconds": 10},
        {"restartPolicy": "Always", "ttlSecondsAfterFinished": 5},
        {"ttlSecondsAfterFinished": -1},
        {"renewGraceSeconds": 601},
        {"export": {"configMapName": "Not_A_Name"}},
    ],
)
def test_bad_new_fields_are_refused_with_the_field_named(fields: dict[str, object]) -> None:
    with pytest.raises(SpecError) as refused:
        SessionSpec.from_resource(body(**fields), default_region=REGION)
    assert any(name in str(refused.value) for name in fields)
