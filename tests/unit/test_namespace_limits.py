"""The session decision's tenancy rows: a namespace's limits and the account a session runs in.

One test per row of the "namespace's limits" table in controller/state_machine.py, and the
rule that every call about a session goes to the account recorded in its status. Plain data
in, plain data out, as in test_state_machine.py (whose helpers these reuse).
"""

from __future__ import annotations

from dataclasses import replace

from agentcore_operator.api.v1alpha1 import BUILTIN_INTERPRETER, Phase, SessionSpec
from agentcore_operator.controller.observations import SessionMissing, SessionStarted
from agentcore_operator.controller.state_machine import (
    CheckInterpreter,
    ReadSession,
    StartSession,
    StopSession,
)
from agentcore_operator.tenancy.index import UNBOUND, NamespaceTenancy
from agentcore_operator.tenancy.policy import NO_LIMITS, Identity, Limits

from .test_state_machine import (
    CREATED,
    CUSTOM,
    CUSTOM_ARN,
    CUSTOM_ID,
    NOW,
    SESSION,
    TIMEOUT,
    event_reasons,
    reason_of,
    recorded,
    run,
    view,
)

ACCOUNT_A = "111122223333"
ACCOUNT_B = "444455556666"
ROLE_A = Identity(f"arn:aws:iam::{ACCOUNT_A}:role/agentcore-team-a")


def bound(limits: Limits = NO_LIMITS, *, account: str = ACCOUNT_A) -> NamespaceTenancy:
    return NamespaceTenancy("team-a-policy", account, ROLE_A, None, 1, limits)


# -- allowedInterpreters ---------------------------------------------------------------------


def test_an_interpreter_not_allowed_fails_without_a_call() -> None:
    tenancy = bound(Limits(allowed_interpreters=frozenset({"other_interp-abcdefghij"})))
    decision = run(view(tenancy=tenancy), recorded(None))
    assert decision.action is None
    assert decision.status.phase is Phase.FAILED
    assert reason_of(decision.status) == "InterpreterNotAllowed"
    assert "team-a-policy" in (decision.status.message or "")
    assert event_reasons(decision) == [("Warning", "InterpreterNotAllowed")]
    assert decision.requeue_after is None  # a policy change requeues it


def test_a_custom_interpreter_not_allowed_fails_before_get_code_interpreter() -> None:
    tenancy = bound(Limits(allowed_interpreters=frozenset({BUILTIN_INTERPRETER})))
    decision = run(view(CUSTOM, tenancy=tenancy), recorded(None))
    assert decision.action is None
    assert reason_of(decision.status) == "InterpreterNotAllowed"


def test_interpreters_are_allowed_by_id_arn_or_codeinterpreter_name() -> None:
    by_arn = bound(Limits(allowed_interpreters=frozenset({CUSTOM_ARN})))
    assert run(view(CUSTOM, tenancy=by_arn), recorded(None)).action == CheckInterpreter(
        CUSTOM.region, CUSTOM_ID, ACCOUNT_A
    )
    by_name = bound(Limits(allowed_interpreters=frozenset({"data-science"})))
    referenced = replace(CUSTOM, code_interpreter_ref="data-science")
    assert isinstance(run(view(referenced, tenancy=by_name), recorded(None)).action, CheckInterpreter)


def test_a_refused_interpreter_starts_once_the_policy_allows_it() -> None:
    refusing = bound(Limits(allowed_interpreters=frozenset({"other_interp-abcdefghij"})))
    failed = run(view(tenancy=refusing), recorded(None)).status
    decision = run(view(tenancy=bound()), failed)
    assert isinstance(decision.action, StartSession)
    assert decision.status.phase is Phase.STARTING


# -- maxSessionTimeoutSeconds ----------------------------------------------------------------


def test_a_timeout_over_the_maximum_fails() -> None:
    decision = run(view(tenancy=bound(Limits(max_session_timeout_seconds=TIMEOUT - 1))), recorded(None))
    assert decision.action is None
    assert decision.status.phase is Phase.FAILED
    assert reason_of(decision.status) == "TimeoutNotAllowed"
    assert str(TIMEOUT - 1) in (decision.status.message or "")


def test_a_timeout_at_the_maximum_starts() -> None:
    decision = run(view(tenancy=bound(Limits(max_session_timeout_seconds=TIMEOUT))), recorded(None))
    assert isinstance(decision.action, StartSession)


# -- maxSessions -------------------------------------------------------------------------------


def test_a_full_namespace_waits_pending_without_a_requeue() -> None:
    decision = run(view(tenancy=bound(Limits(max_sessions=2)), namespace_live=2), recorded(None))
    assert decision.action is None
    assert decision.status.phase is Phase.PENDING
    assert reason_of(decision.status) == "NamespaceLimitReached"
    assert decision.requeue_after is None  # a session of the namespace ending requeues it
    assert event_reasons(decision) == [("Normal", "NamespaceLimitReached")]


def test_waiting_again_posts_no_second_event() -> None:
    full = view(tenancy=bound(Limits(max_sessions=1)), namespace_live=1)
    waiting = run(full, recorded(None)).status
    again = run(full, waiting)
    assert again.status == waiting
    assert again.events == ()


def test_room_in_the_namespace_starts_in_the_policys_account() -> None:
    decision = run(view(tenancy=bound(Limits(max_sessions=2)), namespace_live=1), recorded(None))
    assert isinstance(decision.action, StartSession)
    assert decision.action.account == ACCOUNT_A
    assert decision.status.account_id == ACCOUNT_A
    assert decision.status.phase is Phase.STARTING


def test_a_waiting_session_starts_when_room_frees() -> None:
    limits = Limits(max_sessions=1)
    waiting = run(view(tenancy=bound(limits), namespace_live=1), recorded(None)).status
    decision = run(view(tenancy=bound(limits), namespace_live=0), waiting)
    assert isinstance(decision.action, StartSession)


def test_an_unresolved_start_is_replayed_whatever_the_limit() -> None:
    """The replay may only find the session the lost attempt started: it is not a new one."""
    status = replace(
        recorded(Phase.STARTING), pending_start_token="t" * 40, unanswered_starts=1, account_id=ACCOUNT_B
    )
    decision = run(view(tenancy=bound(Limits(max_sessions=0)), namespace_live=5), status)
    assert isinstance(decision.action, StartSession)
    assert decision.action.account == ACCOUNT_B  # where the lost attempt went


def test_no_policy_no_limits_and_the_operators_own_account() -> None:
    decision = run(view(tenancy=UNBOUND, namespace_live=10_000), recorded(None))
    assert isinstance(decision.action, StartSession)
    assert decision.action.account == ""
    assert decision.status.account_id is None


# -- the account of a session's calls ------------------------------------------------------------


def test_reads_and_stops_go_to_the_recorded_account_whoever_binds_the_namespace_now() -> None:
    status = replace(recorded(Phase.STARTING, "Starting", session_id=SESSION), account_id=ACCOUNT_A)
    rebound = view(tenancy=bound(account=ACCOUNT_B))
    read = run(rebound, status).action
    assert isinstance(read, ReadSession) and read.account == ACCOUNT_A
    stop = run(replace(rebound, deleting=True), replace(status, phase=Phase.READY)).action
    assert isinstance(stop, StopSession) and stop.account == ACCOUNT_A


def test_a_started_session_keeps_its_account() -> None:
    status = replace(recorded(Phase.STARTING), pending_start_token="t" * 40, unanswered_starts=1)
    status = replace(status, account_id=ACCOUNT_A)
    decision = run(view(tenancy=bound()), status, SessionStarted(SESSION, CREATED))
    assert decision.status.account_id == ACCOUNT_A
    assert decision.status.session_id == SESSION


def test_a_restart_is_held_to_the_namespaces_limit() -> None:
    always = SessionSpec(BUILTIN_INTERPRETER, "team-a-sandbox", TIMEOUT, "us-west-2", CUSTOM.deletion_policy)
    always = replace(always, restart_policy=always.restart_policy.ALWAYS)
    status = replace(
        recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True, created_at=NOW.replace(hour=1)),
        account_id=ACCOUNT_A,
    )
    decision = run(
        view(always, tenancy=bound(Limits(max_sessions=1)), namespace_live=1), status, SessionMissing(SESSION)
    )
    assert decision.action is None
    assert reason_of(decision.status) == "NamespaceLimitReached"
