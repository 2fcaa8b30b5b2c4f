"""The session state machine, row by row of the table in its docstring, then as properties.

Every test feeds plain data (a ResourceView, a SessionStatus, an observation, a moment)
into `decide()` and checks the plain data that comes out: the action, the status, the
requeue and the events. Nothing is mocked; nothing reads a clock.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from agentcore_operator.api.v1alpha1 import (
    BUILTIN_INTERPRETER,
    Condition,
    DeletionPolicy,
    Phase,
    SessionSpec,
    SessionStatus,
)
from agentcore_operator.controller.observations import (
    CallFailed,
    InterpreterMissing,
    InterpreterSeen,
    Observation,
    SessionMissing,
    SessionSeen,
    SessionStarted,
    SessionStopped,
    SessionUnconfirmed,
)
from agentcore_operator.controller.state_machine import (
    DEFAULT_TIMING,
    TERMINAL_REASONS,
    AddFinalizer,
    CheckInterpreter,
    Decision,
    ReadSession,
    RemoveFinalizer,
    ResourceView,
    StartSession,
    StopSession,
    Timing,
    client_token,
    decide,
    stop_token,
)
from agentcore_operator.runtime.errors import ApiError, ErrorKind

# --- plain data the tests are made of ------------------------------------------------------------

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(minutes=5)  # when the recorded conditions last changed
UID = "0f8fad5b-d9cb-469f-a165-70867728950e"
NAMESPACE, NAME = "team-a", "sandbox"
SESSION_NAME = "team-a-sandbox"
REGION = "us-west-2"
CUSTOM_ID = "myInterpreter-a1b2c3d4e5"
CUSTOM_ARN = f"arn:aws:bedrock-agentcore:{REGION}:123456789012:code-interpreter-custom/{CUSTOM_ID}"
SESSION = "01JSESSION0000000000000001"
OTHER_SESSION = "01JSESSION0000000000000002"
TIMEOUT = 900
CREATED = NOW - timedelta(seconds=100)
EXPIRES = CREATED + timedelta(seconds=TIMEOUT)
GENERATION = 2

# Distinct waits, so each test can tell which one the state machine chose.
TIMING = Timing(
    start_poll_seconds=2.5,
    interpreter_poll_seconds=11.0,
    quota_retry_seconds=31.0,
    access_denied_retry_seconds=61.0,
    stop_failure_retry_seconds=32.0,
    expiry_slack_seconds=1.5,
)

START_TOKEN = client_token(UID, "start")
STOP_TOKEN = stop_token(UID, SESSION)
LIVE_PHASES = (Phase.PENDING, Phase.STARTING, Phase.READY, Phase.STOPPING)


def make_spec(
    identifier: str = BUILTIN_INTERPRETER,
    *,
    policy: DeletionPolicy = DeletionPolicy.DELETE,
    timeout: int = TIMEOUT,
) -> SessionSpec:
    return SessionSpec(identifier, SESSION_NAME, timeout, REGION, policy)


BUILTIN = make_spec()
CUSTOM = make_spec(CUSTOM_ID)


def view(spec: SessionSpec | None = BUILTIN, **changes: object) -> ResourceView:
    base = ResourceView(
        uid=UID, namespace=NAMESPACE, name=NAME, generation=GENERATION, spec=spec, has_finalizer=True
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def recorded(
    phase: Phase | None,
    reason: str | None = None,
    *,
    session_id: str | None = None,
    ready: bool = False,
    identifier: str = BUILTIN_INTERPRETER,
    started: bool | None = None,
    created_at: datetime | None = None,
    timeout: int = TIMEOUT,
    message: str = "recorded earlier",
) -> SessionStatus:
    """A status as an earlier pass would have persisted it."""
    if started is None:  # Start records the session's parameters before it is sent
        started = session_id is not None or phase in (Phase.STARTING, Phase.READY, Phase.STOPPING)
    status = SessionStatus(phase=phase, observed_generation=GENERATION, message=message if phase else None)
    if started:
        status = replace(
            status,
            code_interpreter_identifier=identifier,
            region=REGION,
            session_name=SESSION_NAME,
            session_timeout_seconds=timeout,
        )
    if session_id is not None:
        created = created_at or CREATED
        status = replace(
            status,
            session_id=session_id,
            created_at=created,
            expires_at=created + timedelta(seconds=timeout),
        )
    if reason is not None:
        condition = Condition(
            type="Ready",
            status="True" if ready else "False",
            reason=reason,
            message=message,
            last_transition_time=EARLIER,
            observed_generation=GENERATION,
        )
        status = replace(status, conditions=(condition,))
    return status


def failed(kind: ErrorKind, operation: str = "StartCodeInterpreterSession") -> CallFailed:
    codes = {
        ErrorKind.THROTTLED: ("ThrottlingException", 429),
        ErrorKind.QUOTA_EXCEEDED: ("ServiceQuotaExceededException", 402),
        ErrorKind.UNAVAILABLE: ("InternalServerException", 500),
        ErrorKind.ACCESS_DENIED: ("AccessDeniedException", 403),
        ErrorKind.INVALID: ("ValidationException", 400),
        ErrorKind.NOT_FOUND: ("ResourceNotFoundException", 404),
        ErrorKind.CONFLICT: ("ConflictException", 409),
        ErrorKind.UNKNOWN: ("SomethingNewException", 418),
    }
    code, http = codes[kind]
    return CallFailed(ApiError(kind, operation, code, f"the {code} message from AWS", http))


def reason_of(status: SessionStatus) -> str | None:
    condition = status.condition("Ready")
    return condition.reason if condition else None


def ready_of(status: SessionStatus) -> str | None:
    condition = status.condition("Ready")
    return condition.status if condition else None


def event_reasons(decision: Decision) -> list[tuple[str, str]]:
    return [(e.type, e.reason) for e in decision.events]


def run(
    resource: ResourceView,
    status: SessionStatus,
    observation: Observation | None = None,
    now: datetime = NOW,
) -> Decision:
    return decide(resource, status, observation, now, TIMING)


EXPECTED_START = StartSession(
    region=REGION,
    interpreter=BUILTIN_INTERPRETER,
    name=SESSION_NAME,
    timeout_seconds=TIMEOUT,
    client_token=START_TOKEN,
)
EXPECTED_READ = ReadSession(region=REGION, interpreter=BUILTIN_INTERPRETER, session_id=SESSION)
EXPECTED_STOP = StopSession(
    region=REGION, interpreter=BUILTIN_INTERPRETER, session_id=SESSION, client_token=STOP_TOKEN
)


# --- the table, not deleting ----------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One row of the table: input, then the expected action, phase, reason, wait and events."""

    resource: ResourceView
    status: SessionStatus
    observation: Observation | None
    action: object
    phase: Phase | None
    reason: str | None
    requeue_after: float | None = None
    backoff: bool = False
    events: tuple[tuple[str, str], ...] = ()


ROWS: dict[str, Row] = {
    "invalid spec -> Failed/InvalidSpec": Row(
        view(spec=None, spec_error="spec.sessionTimeoutSeconds 5 is outside 60..28800"),
        SessionStatus(),
        None,
        None,
        Phase.FAILED,
        "InvalidSpec",
        events=(("Warning", "InvalidSpec"),),
    ),
    "new resource without finalizer -> AddFinalizer": Row(
        view(has_finalizer=False), SessionStatus(), None, AddFinalizer(), None, None
    ),
    "Ready without finalizer -> AddFinalizer, phase kept": Row(
        view(has_finalizer=False),
        recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True),
        None,
        AddFinalizer(),
        Phase.READY,
        "SessionReady",
    ),
    "new, custom interpreter -> CheckInterpreter": Row(
        view(CUSTOM),
        SessionStatus(),
        None,
        CheckInterpreter(REGION, CUSTOM_ID),
        Phase.PENDING,
        "CheckingInterpreter",
    ),
    "Pending, custom interpreter -> CheckInterpreter": Row(
        view(CUSTOM),
        recorded(Phase.PENDING, "InterpreterNotReady"),
        None,
        CheckInterpreter(REGION, CUSTOM_ID),
        Phase.PENDING,
        "CheckingInterpreter",
    ),
    "new, interpreter ARN -> CheckInterpreter with the bare id": Row(
        view(make_spec(CUSTOM_ARN)),
        SessionStatus(),
        None,
        CheckInterpreter(REGION, CUSTOM_ID),
        Phase.PENDING,
        "CheckingInterpreter",
    ),
    "new, built-in interpreter -> Start": Row(
        view(), SessionStatus(), None, EXPECTED_START, Phase.STARTING, "Starting"
    ),
    "Pending, built-in interpreter -> Start": Row(
        view(), recorded(Phase.PENDING, "Starting"), None, EXPECTED_START, Phase.STARTING, "Starting"
    ),
    "Pending/QuotaExceeded, built-in -> Start, the reason kept while retrying": Row(
        view(),
        recorded(Phase.PENDING, "QuotaExceeded"),
        None,
        EXPECTED_START,
        Phase.STARTING,
        "QuotaExceeded",
    ),
    "Pending + interpreter READY -> Start": Row(
        view(CUSTOM),
        recorded(Phase.PENDING, "CheckingInterpreter"),
        InterpreterSeen("READY"),
        replace(EXPECTED_START, interpreter=CUSTOM_ID),
        Phase.STARTING,
        "Starting",
    ),
    "Pending + interpreter CREATING -> wait": Row(
        view(CUSTOM),
        recorded(Phase.PENDING, "CheckingInterpreter"),
        InterpreterSeen("CREATING"),
        None,
        Phase.PENDING,
        "InterpreterNotReady",
        requeue_after=TIMING.interpreter_poll_seconds,
    ),
    "Pending + interpreter in an unknown state -> wait": Row(
        view(CUSTOM),
        recorded(Phase.PENDING, "CheckingInterpreter"),
        InterpreterSeen("UPDATING"),
        None,
        Phase.PENDING,
        "InterpreterNotReady",
        requeue_after=TIMING.interpreter_poll_seconds,
    ),
    "Pending + interpreter missing -> Failed/InterpreterNotFound": Row(
        view(CUSTOM),
        recorded(Phase.PENDING, "CheckingInterpreter"),
        InterpreterMissing(),
        None,
        Phase.FAILED,
        "InterpreterNotFound",
        events=(("Warning", "InterpreterNotFound"),),
    ),
    "Starting without id (resume after a crash) -> Start, same token": Row(
        view(), recorded(Phase.STARTING, "Starting"), None, EXPECTED_START, Phase.STARTING, "Starting"
    ),
    "Starting without id, custom interpreter -> Start, no new check": Row(
        view(CUSTOM),
        recorded(Phase.STARTING, "Starting", identifier=CUSTOM_ID),
        None,
        replace(EXPECTED_START, interpreter=CUSTOM_ID),
        Phase.STARTING,
        "Starting",
    ),
    "Starting + SessionStarted -> wait to settle, id recorded": Row(
        view(),
        recorded(Phase.STARTING, "Starting"),
        SessionStarted(SESSION, CREATED),
        None,
        Phase.STARTING,
        "Starting",
        requeue_after=DEFAULT_TIMING.start_settle_seconds,
        events=(("Normal", "Started"),),
    ),
    "Starting with id, nothing new -> Read": Row(
        view(),
        recorded(Phase.STARTING, "Starting", session_id=SESSION),
        None,
        EXPECTED_READ,
        Phase.STARTING,
        "Starting",
    ),
    "Starting with id, a pass within the second of its createdAt (to the second) -> wait the settle": Row(
        view(),
        recorded(Phase.STARTING, "Starting", session_id=SESSION, created_at=NOW - timedelta(seconds=0.5)),
        None,
        None,
        Phase.STARTING,
        "Starting",
        requeue_after=DEFAULT_TIMING.start_settle_seconds,
    ),
    "Starting with id, the timer's pass a second after its createdAt -> Read": Row(
        view(),
        recorded(Phase.STARTING, "Starting", session_id=SESSION, created_at=NOW - timedelta(seconds=1)),
        None,
        EXPECTED_READ,
        Phase.STARTING,
        "Starting",
    ),
    "Starting with id, a pass 1.5 s after its createdAt (to the second) -> Read, no more waiting": Row(
        view(),
        recorded(Phase.STARTING, "Starting", session_id=SESSION, created_at=NOW - timedelta(seconds=1.5)),
        None,
        EXPECTED_READ,
        Phase.STARTING,
        "Starting",
    ),
    "Starting with id, its createdAt ahead of our clock -> wait no longer than the settle": Row(
        view(),
        recorded(Phase.STARTING, "Starting", session_id=SESSION, created_at=NOW + timedelta(minutes=10)),
        None,
        None,
        Phase.STARTING,
        "Starting",
        requeue_after=DEFAULT_TIMING.start_settle_seconds,
    ),
    "Starting + SessionSeen without status -> wait": Row(
        view(),
        recorded(Phase.STARTING, "Starting", session_id=SESSION),
        SessionSeen(SESSION, None, CREATED),
        None,
        Phase.STARTING,
        "Starting",
        requeue_after=TIMING.start_poll_seconds,
    ),
    "Starting + SessionSeen unknown status -> wait": Row(
        view(),
        recorded(Phase.STARTING, "Starting", session_id=SESSION),
        SessionSeen(SESSION, "ACTIVE", CREATED),
        None,
        Phase.STARTING,
        "Starting",
        requeue_after=TIMING.start_poll_seconds,
    ),
    "Starting + SessionSeen READY -> Ready, wait until expiry": Row(
        view(),
        recorded(Phase.STARTING, "Starting", session_id=SESSION),
        SessionSeen(SESSION, "READY", CREATED),
        None,
        Phase.READY,
        "SessionReady",
        requeue_after=(EXPIRES - NOW).total_seconds() + TIMING.expiry_slack_seconds,
        events=(("Normal", "Ready"),),
    ),
    "Ready + SessionSeen READY -> Ready, no new event": Row(
        view(),
        recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True),
        SessionSeen(SESSION, "READY", CREATED),
        None,
        Phase.READY,
        "SessionReady",
        requeue_after=(EXPIRES - NOW).total_seconds() + TIMING.expiry_slack_seconds,
    ),
    "Ready, before expiresAt -> wait until expiry": Row(
        view(),
        recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True),
        None,
        None,
        Phase.READY,
        "SessionReady",
        requeue_after=(EXPIRES - NOW).total_seconds() + TIMING.expiry_slack_seconds,
    ),
    "Ready, at expiresAt -> Read": Row(
        view(),
        recorded(
            Phase.READY,
            "SessionReady",
            session_id=SESSION,
            ready=True,
            created_at=NOW - timedelta(seconds=TIMEOUT),
        ),
        None,
        EXPECTED_READ,
        Phase.READY,
        "SessionReady",
    ),
    "Ready + SessionUnconfirmed -> Read": Row(
        view(),
        recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True),
        SessionUnconfirmed(SESSION),
        EXPECTED_READ,
        Phase.READY,
        "SessionReady",
    ),
    "Ready + SessionSeen TERMINATED before expiry -> Terminated/SessionStopped": Row(
        view(),
        recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True),
        SessionSeen(SESSION, "TERMINATED", CREATED, last_updated_at=NOW - timedelta(seconds=10)),
        None,
        Phase.TERMINATED,
        "SessionStopped",
        events=(("Warning", "StoppedOutOfBand"),),
    ),
    "Ready + SessionSeen TERMINATED at expiry -> Terminated/SessionExpired": Row(
        view(),
        recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True),
        SessionSeen(SESSION, "TERMINATED", CREATED, last_updated_at=EXPIRES),
        None,
        Phase.TERMINATED,
        "SessionExpired",
        events=(("Normal", "Expired"),),
    ),
    "Ready + SessionMissing before expiry -> Terminated/SessionStopped": Row(
        view(),
        recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True),
        SessionMissing(SESSION),
        None,
        Phase.TERMINATED,
        "SessionStopped",
        events=(("Warning", "StoppedOutOfBand"),),
    ),
    "Starting + SessionMissing -> Terminated/SessionStopped": Row(
        view(),
        recorded(Phase.STARTING, "Starting", session_id=SESSION),
        SessionMissing(SESSION),
        None,
        Phase.TERMINATED,
        "SessionStopped",
        events=(("Warning", "StoppedOutOfBand"),),
    ),
    "Ready + SessionMissing after expiry -> Terminated/SessionExpired": Row(
        view(),
        recorded(
            Phase.READY, "SessionReady", session_id=SESSION, ready=True, created_at=NOW - timedelta(hours=1)
        ),
        SessionMissing(SESSION),
        None,
        Phase.TERMINATED,
        "SessionExpired",
        events=(("Normal", "Expired"),),
    ),
    "Terminated, nothing new -> nothing (never restarted)": Row(
        view(),
        recorded(Phase.TERMINATED, "SessionExpired", session_id=SESSION),
        None,
        None,
        Phase.TERMINATED,
        "SessionExpired",
    ),
    "Failed/InvalidRequest (terminal) -> nothing": Row(
        view(),
        recorded(Phase.FAILED, "InvalidRequest"),
        None,
        None,
        Phase.FAILED,
        "InvalidRequest",
    ),
    "Failed/AccessDenied (retryable), built-in -> Start again, the reason kept": Row(
        view(), recorded(Phase.FAILED, "AccessDenied"), None, EXPECTED_START, Phase.STARTING, "AccessDenied"
    ),
    "Failed/AccessDenied (retryable), custom -> CheckInterpreter again": Row(
        view(CUSTOM),
        recorded(Phase.FAILED, "AccessDenied"),
        None,
        CheckInterpreter(REGION, CUSTOM_ID),
        Phase.PENDING,
        "AccessDenied",  # kept during the retry: no new transition, no second event
    ),
    "Failed/AccessDenied (retryable) with a session -> Read again": Row(
        view(),
        recorded(Phase.FAILED, "AccessDenied", session_id=SESSION),
        None,
        EXPECTED_READ,
        Phase.FAILED,
        "AccessDenied",
    ),
    "Pending + QuotaExceeded -> Pending/QuotaExceeded, wait >= 30 s": Row(
        view(),
        recorded(Phase.STARTING, "Starting"),
        failed(ErrorKind.QUOTA_EXCEEDED),
        None,
        Phase.PENDING,
        "QuotaExceeded",
        requeue_after=TIMING.quota_retry_seconds,
        backoff=True,
    ),
    "new, start blocked by the quota gate -> Pending/QuotaExceeded, no call": Row(
        view(start_blocked=True),
        SessionStatus(),
        None,
        None,
        Phase.PENDING,
        "QuotaExceeded",
    ),
    "Pending + interpreter READY, start blocked -> Pending/QuotaExceeded, no call": Row(
        view(CUSTOM, start_blocked=True),
        recorded(Phase.PENDING, "CheckingInterpreter"),
        InterpreterSeen("READY"),
        None,
        Phase.PENDING,
        "QuotaExceeded",
    ),
    "Starting + AccessDenied -> Failed/AccessDenied, retried after >= 60 s": Row(
        view(),
        recorded(Phase.STARTING, "Starting"),
        failed(ErrorKind.ACCESS_DENIED),
        None,
        Phase.FAILED,
        "AccessDenied",
        requeue_after=TIMING.access_denied_retry_seconds,
        backoff=True,
        events=(("Warning", "AccessDenied"),),
    ),
    "Pending + AccessDenied on GetCodeInterpreter -> Failed/AccessDenied": Row(
        view(CUSTOM),
        recorded(Phase.PENDING, "CheckingInterpreter"),
        failed(ErrorKind.ACCESS_DENIED, "GetCodeInterpreter"),
        None,
        Phase.FAILED,
        "AccessDenied",
        requeue_after=TIMING.access_denied_retry_seconds,
        backoff=True,
        events=(("Warning", "AccessDenied"),),
    ),
    "Ready + AccessDenied on a check -> Ready kept, backoff": Row(
        view(),
        recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True),
        failed(ErrorKind.ACCESS_DENIED, "GetCodeInterpreterSession"),
        None,
        Phase.READY,
        "SessionReady",
        backoff=True,
    ),
    "Starting + ValidationException -> Failed/InvalidRequest": Row(
        view(),
        recorded(Phase.STARTING, "Starting"),
        failed(ErrorKind.INVALID),
        None,
        Phase.FAILED,
        "InvalidRequest",
        events=(("Warning", "InvalidRequest"),),
    ),
    "Starting + NotFound on Start -> Failed/InterpreterNotFound": Row(
        view(),
        recorded(Phase.STARTING, "Starting"),
        failed(ErrorKind.NOT_FOUND),
        None,
        Phase.FAILED,
        "InterpreterNotFound",
        events=(("Warning", "InterpreterNotFound"),),
    ),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_table_row(row: Row) -> None:
    decision = run(row.resource, row.status, row.observation)
    assert decision.action == row.action
    assert decision.status.phase is row.phase
    assert reason_of(decision.status) == row.reason
    if row.requeue_after is None:
        assert decision.requeue_after is None
    else:
        assert decision.requeue_after == pytest.approx(row.requeue_after)
    assert decision.backoff is row.backoff
    assert event_reasons(decision) == list(row.events)


# --- details of the rows that the table compresses ------------------------------------------------


def test_invalid_spec_message_is_the_spec_error() -> None:
    decision = run(view(spec=None, spec_error="spec.region 'mars-1' is not an AWS region"), SessionStatus())
    assert decision.status.message == "spec.region 'mars-1' is not an AWS region"
    assert decision.status.condition("Ready") == Condition(
        "Ready", "False", "InvalidSpec", "spec.region 'mars-1' is not an AWS region", NOW, GENERATION
    )
    assert decision.events[0].message == "spec.region 'mars-1' is not an AWS region"


def test_unreadable_spec_without_a_message_still_says_something() -> None:
    decision = run(view(spec=None), SessionStatus())
    assert decision.status.phase is Phase.FAILED
    assert decision.status.message == "the spec cannot be read"


def test_invalid_spec_is_terminal_on_the_next_pass() -> None:
    first = run(view(spec=None, spec_error="bad"), SessionStatus())
    again = run(view(spec=None, spec_error="bad"), first.status)
    assert again == Decision(None, first.status)


def test_add_finalizer_keeps_the_status_as_it_was() -> None:
    status = recorded(Phase.STARTING, "Starting", session_id=SESSION)
    decision = run(view(has_finalizer=False), status)
    assert decision == Decision(AddFinalizer(), status)


@pytest.mark.parametrize(
    "status",
    [
        recorded(Phase.TERMINATED, "SessionStopped", session_id=SESSION),
        recorded(Phase.FAILED, "InterpreterFailed"),
    ],
    ids=["Terminated", "Failed terminal"],
)
def test_no_finalizer_is_added_to_a_terminal_resource(status: SessionStatus) -> None:
    assert run(view(has_finalizer=False), status) == Decision(None, status)


def test_start_records_the_parameters_of_the_call_before_it_is_sent() -> None:
    """The wiring persists this status before the Start, so a resumed pass knows what was asked."""
    decision = run(view(CUSTOM), recorded(Phase.PENDING, "CheckingInterpreter"), InterpreterSeen("READY"))
    status = decision.status
    assert (status.code_interpreter_identifier, status.region) == (CUSTOM_ID, REGION)
    assert (status.session_name, status.session_timeout_seconds) == (SESSION_NAME, TIMEOUT)
    assert status.session_id is None
    assert decision.action == StartSession(REGION, CUSTOM_ID, SESSION_NAME, TIMEOUT, START_TOKEN)


def test_start_with_an_arn_passes_the_arn_to_start() -> None:
    """StartCodeInterpreterSession takes the identifier as given; only Get needs the bare id."""
    decision = run(view(make_spec(CUSTOM_ARN)), SessionStatus(), InterpreterSeen("READY"))
    assert isinstance(decision.action, StartSession)
    assert decision.action.interpreter == CUSTOM_ARN


def test_a_resumed_start_sends_the_token_of_the_first_attempt() -> None:
    first = run(view(), SessionStatus())
    # The operator crashed after sending Start; the persisted status is all that is left.
    resumed = run(view(), SessionStatus.from_dict(first.status.to_dict()))
    assert isinstance(first.action, StartSession)
    assert resumed.action == first.action
    assert resumed.action.client_token == START_TOKEN


@pytest.mark.parametrize("state", ["CREATE_FAILED", "DELETING", "DELETED", "DELETE_FAILED"])
def test_a_broken_interpreter_fails_the_resource_with_its_failure_reason(state: str) -> None:
    decision = run(
        view(CUSTOM),
        recorded(Phase.PENDING, "CheckingInterpreter"),
        InterpreterSeen(state, "the VPC subnet does not exist"),
    )
    assert decision.action is None
    assert decision.status.phase is Phase.FAILED
    assert reason_of(decision.status) == "InterpreterFailed"
    assert decision.status.message == (
        f"code interpreter {CUSTOM_ID} is {state}: the VPC subnet does not exist"
    )
    assert decision.requeue_after is None
    assert event_reasons(decision) == [("Warning", "InterpreterFailed")]


def test_a_failed_interpreter_without_a_reason_still_says_what_happened() -> None:
    decision = run(view(CUSTOM), SessionStatus(), InterpreterSeen("CREATE_FAILED"))
    assert decision.status.message == f"code interpreter {CUSTOM_ID} is CREATE_FAILED"


@pytest.mark.parametrize(
    ("state", "says"),
    [("CREATING", "still being created"), ("SOMETHING_NEW", "in state SOMETHING_NEW")],
)
def test_a_not_ready_interpreter_is_named_in_the_message(state: str, says: str) -> None:
    decision = run(view(CUSTOM), SessionStatus(), InterpreterSeen(state))
    assert decision.status.message == f"waiting for code interpreter {CUSTOM_ID}: it is {says}"


def test_pending_interpreter_waits_ten_seconds_by_default() -> None:
    decision = decide(view(CUSTOM), SessionStatus(), InterpreterSeen("CREATING"), NOW)
    assert decision.requeue_after == 10.0


def test_default_timing_matches_the_table() -> None:
    assert DEFAULT_TIMING.start_poll_seconds == 2.0
    assert DEFAULT_TIMING.interpreter_poll_seconds == 10.0
    assert DEFAULT_TIMING.quota_retry_seconds >= 30.0
    assert DEFAULT_TIMING.access_denied_retry_seconds >= 60.0
    assert DEFAULT_TIMING.stop_failure_retry_seconds >= 30.0


def test_session_started_records_id_creation_and_expiry() -> None:
    decision = run(view(), recorded(Phase.STARTING, "Starting"), SessionStarted(SESSION, CREATED))
    status = decision.status
    assert status.session_id == SESSION
    assert status.created_at == CREATED
    assert status.expires_at == CREATED + timedelta(seconds=TIMEOUT)
    assert decision.events[0].message == f"Started session {SESSION}"


def test_the_same_session_started_twice_posts_one_event() -> None:
    """A resumed Start with the same token answers with the same session: not news."""
    first = run(view(), recorded(Phase.STARTING, "Starting"), SessionStarted(SESSION, CREATED))
    again = run(view(), first.status, SessionStarted(SESSION, CREATED))
    assert again.events == ()
    assert again.status == first.status


@pytest.mark.parametrize("timeout", [60, 900, 28800])
def test_expiry_is_creation_plus_the_timeout(timeout: int) -> None:
    status = recorded(Phase.STARTING, "Starting", timeout=timeout)
    started = run(view(spec=make_spec(timeout=timeout)), status, SessionStarted(SESSION, CREATED))
    ready = run(view(spec=make_spec(timeout=timeout)), started.status, SessionSeen(SESSION, "READY", CREATED))
    expected = CREATED + timedelta(seconds=timeout)
    assert started.status.expires_at == expected
    assert ready.status.expires_at == expected


@pytest.mark.parametrize(
    "now",
    [CREATED, NOW, EXPIRES - timedelta(seconds=1), EXPIRES - timedelta(microseconds=1)],
    ids=["at creation", "a while after", "a second before expiry", "just before expiry"],
)
def test_a_ready_session_waits_exactly_until_expiry_from_now(now: datetime) -> None:
    status = recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True)
    decision = run(view(), status, None, now)
    expected = (EXPIRES - now).total_seconds() + TIMING.expiry_slack_seconds
    assert decision.action is None
    assert decision.requeue_after == pytest.approx(expected)


@pytest.mark.parametrize(
    "now", [EXPIRES, EXPIRES + timedelta(hours=3)], ids=["at expiry", "long after (operator was down)"]
)
def test_a_ready_session_past_expiry_is_read(now: datetime) -> None:
    status = recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True)
    assert run(view(), status, None, now).action == EXPECTED_READ


def test_a_session_seen_ready_after_its_expiry_waits_only_the_slack() -> None:
    late = EXPIRES + timedelta(minutes=1)
    decision = run(
        view(),
        recorded(Phase.STARTING, "Starting", session_id=SESSION),
        SessionSeen(SESSION, "READY", CREATED),
        late,
    )
    assert decision.requeue_after == pytest.approx(TIMING.expiry_slack_seconds)


def test_ready_status_says_until_when_and_is_true() -> None:
    decision = run(
        view(),
        recorded(Phase.STARTING, "Starting", session_id=SESSION),
        SessionSeen(SESSION, "READY", CREATED),
    )
    assert ready_of(decision.status) == "True"
    assert decision.status.message == f"session {SESSION} is ready until 2026-03-01T12:13:20Z"


def test_ready_session_status_without_status_keeps_ready() -> None:
    """A Get answering with no status (or an unknown one) does not demote a Ready session."""
    status = recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True)
    decision = run(view(), status, SessionSeen(SESSION, None, CREATED))
    assert decision == Decision(None, status, requeue_after=TIMING.start_poll_seconds)


@pytest.mark.parametrize(
    ("moment", "reason"),
    [
        (EXPIRES - timedelta(seconds=2), "SessionStopped"),
        (EXPIRES - timedelta(seconds=1), "SessionExpired"),  # one second of tolerance for clock skew
        (EXPIRES, "SessionExpired"),
        (EXPIRES + timedelta(minutes=5), "SessionExpired"),
    ],
    ids=["2 s before", "1 s before", "at", "after"],
)
def test_expired_or_stopped_is_told_by_the_moment_the_session_ended(moment: datetime, reason: str) -> None:
    status = recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True)
    decision = run(view(), status, SessionSeen(SESSION, "TERMINATED", CREATED, last_updated_at=moment))
    assert reason_of(decision.status) == reason
    assert ready_of(decision.status) == "False"


@pytest.mark.parametrize(
    ("now", "reason"),
    [(EXPIRES - timedelta(minutes=1), "SessionStopped"), (EXPIRES, "SessionExpired")],
    ids=["before expiry", "at expiry"],
)
def test_without_an_end_time_the_moment_is_now(now: datetime, reason: str) -> None:
    status = recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True)
    for observation in (SessionMissing(SESSION), SessionSeen(SESSION, "TERMINATED", CREATED)):
        assert reason_of(run(view(), status, observation, now).status) == reason


def test_terminated_messages_name_the_session_and_what_happens_next() -> None:
    status = recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True)
    stopped = run(view(), status, SessionMissing(SESSION))
    expired = run(view(), status, SessionMissing(SESSION), EXPIRES)
    assert (
        stopped.status.message
        == f"session {SESSION} was stopped outside Kubernetes; it will not be restarted"
    )
    assert expired.status.message == f"session {SESSION} expired at 2026-03-01T12:13:20Z"


ALL_OBSERVATIONS: dict[str, Observation | None] = {
    "nothing": None,
    "interpreter READY": InterpreterSeen("READY"),
    "interpreter CREATING": InterpreterSeen("CREATING"),
    "interpreter CREATE_FAILED": InterpreterSeen("CREATE_FAILED", "boom"),
    "interpreter missing": InterpreterMissing(),
    "session started": SessionStarted(SESSION, CREATED),
    "other session started": SessionStarted(OTHER_SESSION, CREATED),
    "session READY": SessionSeen(SESSION, "READY", CREATED),
    "session no status": SessionSeen(SESSION, None, CREATED),
    "session unknown status": SessionSeen(SESSION, "STOPPING", CREATED),
    "session TERMINATED": SessionSeen(SESSION, "TERMINATED", CREATED, NOW),
    "session missing": SessionMissing(SESSION),
    "session unconfirmed": SessionUnconfirmed(SESSION),
    "session stopped": SessionStopped(SESSION, NOW),
    **{f"failed {kind.value}": failed(kind) for kind in ErrorKind},
}


@pytest.mark.parametrize("observation", ALL_OBSERVATIONS.values(), ids=ALL_OBSERVATIONS.keys())
@pytest.mark.parametrize("spec", [BUILTIN, CUSTOM], ids=["built-in", "custom"])
def test_a_terminated_session_is_never_restarted(observation: Observation | None, spec: SessionSpec) -> None:
    for reason in ("SessionExpired", "SessionStopped", "Stopped"):
        status = recorded(Phase.TERMINATED, reason, session_id=SESSION)
        decision = run(view(spec), status, observation)
        assert decision == Decision(None, status), reason


@pytest.mark.parametrize("observation", ALL_OBSERVATIONS.values(), ids=ALL_OBSERVATIONS.keys())
@pytest.mark.parametrize("reason", sorted(TERMINAL_REASONS))
def test_a_terminally_failed_resource_does_nothing(observation: Observation | None, reason: str) -> None:
    status = recorded(Phase.FAILED, reason)
    assert run(view(CUSTOM), status, observation) == Decision(None, status)


# --- errors ---------------------------------------------------------------------------------------

RETRIED_KINDS = [ErrorKind.THROTTLED, ErrorKind.UNAVAILABLE, ErrorKind.CONFLICT, ErrorKind.UNKNOWN]


@pytest.mark.parametrize("kind", RETRIED_KINDS, ids=str)
@pytest.mark.parametrize(
    ("status", "phase"),
    [
        (SessionStatus(), Phase.PENDING),
        (recorded(Phase.PENDING, "CheckingInterpreter"), Phase.PENDING),
        (recorded(Phase.STARTING, "Starting"), Phase.STARTING),
        (recorded(Phase.STARTING, "Starting", session_id=SESSION), Phase.STARTING),
    ],
    ids=["new", "Pending", "Starting without id", "Starting with id"],
)
def test_transient_errors_keep_the_phase_and_show_the_reason(
    kind: ErrorKind, status: SessionStatus, phase: Phase
) -> None:
    decision = run(view(), status, failed(kind))
    assert decision.action is None
    assert decision.status.phase is phase
    assert reason_of(decision.status) == kind.value
    assert decision.backoff is True
    assert decision.status.session_id == status.session_id
    code = failed(kind).error.code
    assert decision.status.message == (
        f"StartCodeInterpreterSession failed: {code}: the {code} message from AWS; retrying"
    )


def test_a_throttled_start_keeps_the_record_that_a_start_may_have_happened() -> None:
    """Starting-without-id is what makes a delete ask again: a 5xx may have created the session."""
    decision = run(view(), recorded(Phase.STARTING, "Starting"), failed(ErrorKind.UNAVAILABLE))
    assert decision.status.phase is Phase.STARTING
    deleting = run(view(deleting=True), decision.status)
    assert deleting.action == EXPECTED_START


@pytest.mark.parametrize("kind", [*RETRIED_KINDS, ErrorKind.QUOTA_EXCEEDED, ErrorKind.NOT_FOUND], ids=str)
def test_errors_checking_a_ready_session_leave_it_ready(kind: ErrorKind) -> None:
    status = recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True)
    decision = run(view(), status, failed(kind, "GetCodeInterpreterSession"))
    assert decision == Decision(None, status, backoff=True)


def test_quota_exceeded_says_it_will_start_when_capacity_frees_up() -> None:
    decision = run(view(), recorded(Phase.STARTING, "Starting"), failed(ErrorKind.QUOTA_EXCEEDED))
    assert decision.status.message == (
        "StartCodeInterpreterSession failed: ServiceQuotaExceededException: "
        "the ServiceQuotaExceededException message from AWS; will start when capacity frees up"
    )


def test_quota_exceeded_waits_at_least_thirty_seconds_by_default() -> None:
    decision = decide(view(), recorded(Phase.STARTING, "Starting"), failed(ErrorKind.QUOTA_EXCEEDED), NOW)
    assert decision.requeue_after is not None
    assert decision.requeue_after >= 30


def test_access_denied_waits_at_least_a_minute_by_default() -> None:
    decision = decide(view(), recorded(Phase.STARTING, "Starting"), failed(ErrorKind.ACCESS_DENIED), NOW)
    assert decision.requeue_after is not None
    assert decision.requeue_after >= 60


def test_access_denied_shows_the_aws_message_and_is_retried() -> None:
    decision = run(view(), recorded(Phase.STARTING, "Starting"), failed(ErrorKind.ACCESS_DENIED))
    assert decision.status.message == (
        "StartCodeInterpreterSession failed: AccessDeniedException: "
        "the AccessDeniedException message from AWS; retrying"
    )
    assert reason_of(decision.status) not in TERMINAL_REASONS


def test_access_denied_on_the_same_status_posts_no_second_warning() -> None:
    first = run(view(), recorded(Phase.STARTING, "Starting"), failed(ErrorKind.ACCESS_DENIED))
    again = run(view(), first.status, failed(ErrorKind.ACCESS_DENIED))
    assert event_reasons(first) == [("Warning", "AccessDenied")]
    assert again.events == ()


def retry_pass_events(
    resource: ResourceView, status: SessionStatus, error: CallFailed
) -> list[tuple[str, str]]:
    """The events of one reconcile pass that retries a failed call and fails the same way again.

    This is what the reconciler does: decide (-> the call), perform it, decide on the answer,
    collecting the events of every step.
    """
    retry = run(resource, status)
    assert retry.action is not None
    answer = run(resource, retry.status, error)
    return event_reasons(retry) + event_reasons(answer)


def test_access_denied_retried_posts_no_second_warning() -> None:
    first = run(view(), recorded(Phase.STARTING, "Starting"), failed(ErrorKind.ACCESS_DENIED))
    assert event_reasons(first) == [("Warning", "AccessDenied")]
    assert retry_pass_events(view(), first.status, failed(ErrorKind.ACCESS_DENIED)) == []


def test_validation_error_fails_with_the_aws_message() -> None:
    decision = run(view(), recorded(Phase.STARTING, "Starting"), failed(ErrorKind.INVALID))
    assert decision.status.message == (
        "StartCodeInterpreterSession failed: ValidationException: the ValidationException message from AWS"
    )
    assert decision.events[0].message == decision.status.message
    assert reason_of(decision.status) in TERMINAL_REASONS


def test_not_found_for_a_known_session_is_not_a_missing_interpreter() -> None:
    """404 with a recorded session id: the adapter reports SessionMissing; a raw 404 is retried."""
    status = recorded(Phase.STARTING, "Starting", session_id=SESSION)
    decision = run(view(), status, failed(ErrorKind.NOT_FOUND, "GetCodeInterpreterSession"))
    assert decision.status.phase is Phase.STARTING
    assert reason_of(decision.status) == "NotFound"
    assert decision.backoff is True


# --- deletion -------------------------------------------------------------------------------------

LIVE_STATUSES = {
    "Starting with id": recorded(Phase.STARTING, "Starting", session_id=SESSION),
    "Ready": recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True),
    "Failed/AccessDenied with id": recorded(Phase.FAILED, "AccessDenied", session_id=SESSION),
    "Failed/InvalidRequest with id": recorded(Phase.FAILED, "InvalidRequest", session_id=SESSION),
    "Stopping": recorded(Phase.STOPPING, "Stopping", session_id=SESSION),
}


@pytest.mark.parametrize("status", LIVE_STATUSES.values(), ids=LIVE_STATUSES.keys())
def test_deleting_a_live_session_stops_it(status: SessionStatus) -> None:
    decision = run(view(deleting=True), status)
    assert decision.action == EXPECTED_STOP
    assert decision.status.phase is Phase.STOPPING
    assert reason_of(decision.status) == "Stopping"
    assert decision.status.message == f"stopping session {SESSION}"


def test_stop_goes_to_the_region_and_interpreter_the_session_was_started_in() -> None:
    status = replace(
        recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True, identifier=CUSTOM_ARN),
        region="eu-central-1",
    )
    decision = run(view(deleting=True), status)
    assert decision.action == StopSession("eu-central-1", CUSTOM_ARN, SESSION, STOP_TOKEN)


@pytest.mark.parametrize("status", LIVE_STATUSES.values(), ids=LIVE_STATUSES.keys())
def test_deleting_with_retain_leaves_the_session_running(status: SessionStatus) -> None:
    decision = run(view(make_spec(policy=DeletionPolicy.RETAIN), deleting=True), status)
    assert decision.action == RemoveFinalizer()
    assert decision.status.phase is status.phase
    assert decision.status.conditions == status.conditions
    expected = [] if status.phase is Phase.FAILED else [("Normal", "Retained")]
    assert event_reasons(decision) == expected


@pytest.mark.parametrize(
    "status",
    [
        SessionStatus(),
        recorded(Phase.PENDING, "InterpreterNotReady"),
        recorded(Phase.STARTING, "Starting"),
        recorded(Phase.TERMINATED, "SessionExpired", session_id=SESSION),
    ],
    ids=["new", "Pending", "Starting without id", "Terminated"],
)
def test_deleting_with_retain_never_calls_aws(status: SessionStatus) -> None:
    decision = run(view(make_spec(policy=DeletionPolicy.RETAIN), deleting=True), status)
    assert decision.action == RemoveFinalizer()
    assert decision.events == ()


@pytest.mark.parametrize(
    "status",
    [
        SessionStatus(),
        recorded(Phase.PENDING, "InterpreterNotReady"),
        recorded(Phase.PENDING, "QuotaExceeded"),
        recorded(Phase.FAILED, "AccessDenied"),
        recorded(Phase.FAILED, "InterpreterFailed"),
        recorded(Phase.TERMINATED, "SessionExpired", session_id=SESSION),
        recorded(Phase.TERMINATED, "SessionStopped", session_id=SESSION),
    ],
    ids=[
        "new",
        "Pending",
        "Pending/QuotaExceeded",
        "Failed retryable",
        "Failed terminal",
        "Expired",
        "Stopped",
    ],
)
def test_deleting_without_a_live_session_releases_at_once(status: SessionStatus) -> None:
    decision = run(view(deleting=True), status)
    assert decision == Decision(RemoveFinalizer(), replace(status, observed_generation=GENERATION))


def test_deleting_while_a_start_may_have_run_asks_again_then_stops() -> None:
    """Starting without id: the Start's answer may have been lost; the same token reveals it."""
    deleting = view(deleting=True)
    first = run(deleting, recorded(Phase.STARTING, "Starting"))
    assert first.action == EXPECTED_START
    second = run(deleting, first.status, SessionStarted(SESSION, CREATED))
    assert second.action == EXPECTED_STOP
    assert second.status.session_id == SESSION
    assert second.status.phase is Phase.STOPPING
    third = run(deleting, second.status, SessionStopped(SESSION))
    assert third.action == RemoveFinalizer()
    assert third.status.phase is Phase.TERMINATED


def test_deleting_a_start_blocked_resource_still_asks_about_a_possible_session() -> None:
    decision = run(view(deleting=True, start_blocked=True), recorded(Phase.STARTING, "Starting"))
    assert decision.action == EXPECTED_START


def test_deleting_when_the_revealing_start_fails_for_good_releases() -> None:
    decision = run(view(deleting=True), recorded(Phase.STARTING, "Starting"), failed(ErrorKind.INVALID))
    assert decision.action == RemoveFinalizer()


@pytest.mark.parametrize("kind", [*RETRIED_KINDS, ErrorKind.ACCESS_DENIED, ErrorKind.QUOTA_EXCEEDED], ids=str)
def test_deleting_when_the_revealing_start_fails_for_now_retries(kind: ErrorKind) -> None:
    deleting = view(deleting=True)
    replay = run(deleting, recorded(Phase.STARTING, "Starting"))
    decision = run(deleting, replay.status, failed(kind))
    assert decision.action is None
    assert decision.status.phase is Phase.STOPPING
    assert reason_of(decision.status) == kind.value
    assert decision.backoff is True
    assert decision.status.pending_start_token == START_TOKEN
    assert "deletionPolicy to Retain" in (decision.status.message or "")


@pytest.mark.parametrize(
    "observation",
    [SessionStopped(SESSION), SessionMissing(SESSION), SessionSeen(SESSION, "TERMINATED", CREATED)],
    ids=["stopped", "not found is success", "already TERMINATED is success"],
)
def test_a_stopped_session_releases_the_resource(observation: Observation) -> None:
    status = recorded(Phase.STOPPING, "Stopping", session_id=SESSION)
    decision = run(view(deleting=True), status, observation)
    assert decision.action == RemoveFinalizer()
    assert decision.status.phase is Phase.TERMINATED
    assert reason_of(decision.status) == "Stopped"
    assert decision.status.message == f"session {SESSION} stopped"
    assert event_reasons(decision) == [("Normal", "Stopped")]


@pytest.mark.parametrize("kind", RETRIED_KINDS, ids=str)
def test_a_stop_failing_for_now_is_retried_with_backoff(kind: ErrorKind) -> None:
    status = recorded(Phase.STOPPING, "Stopping", session_id=SESSION)
    decision = run(view(deleting=True), status, failed(kind, "StopCodeInterpreterSession"))
    assert decision.action is None
    assert decision.status.phase is Phase.STOPPING
    assert reason_of(decision.status) == kind.value
    assert decision.backoff is True
    assert decision.events == ()


@pytest.mark.parametrize("kind", [ErrorKind.ACCESS_DENIED, ErrorKind.INVALID], ids=str)
def test_a_stop_that_keeps_failing_says_how_to_let_go(kind: ErrorKind) -> None:
    status = recorded(Phase.STOPPING, "Stopping", session_id=SESSION)
    decision = run(view(deleting=True), status, failed(kind, "StopCodeInterpreterSession"))
    assert decision.action is None
    assert decision.status.phase is Phase.STOPPING
    assert reason_of(decision.status) == "StopFailed"
    assert decision.requeue_after == TIMING.stop_failure_retry_seconds
    assert decision.backoff is True
    message = decision.status.message or ""
    assert "spec.deletionPolicy to Retain" in message
    assert failed(kind).error.message in message
    assert event_reasons(decision) == [("Warning", "StopFailed")]
    assert decision.events[0].message == message


def test_a_stop_failing_again_on_the_same_status_posts_no_second_warning() -> None:
    status = recorded(Phase.STOPPING, "Stopping", session_id=SESSION)
    denied = failed(ErrorKind.ACCESS_DENIED, "StopCodeInterpreterSession")
    first = run(view(deleting=True), status, denied)
    again = run(view(deleting=True), first.status, denied)
    assert again.events == ()
    assert reason_of(again.status) == "StopFailed"


def test_a_stop_that_failed_is_sent_again_on_the_next_pass() -> None:
    status = recorded(Phase.STOPPING, "Stopping", session_id=SESSION)
    first = run(view(deleting=True), status, failed(ErrorKind.ACCESS_DENIED, "StopCodeInterpreterSession"))
    assert run(view(deleting=True), first.status).action == EXPECTED_STOP


def test_a_stop_retried_and_failing_again_posts_no_second_warning() -> None:
    status = recorded(Phase.STOPPING, "Stopping", session_id=SESSION)
    denied = failed(ErrorKind.ACCESS_DENIED, "StopCodeInterpreterSession")
    first = run(view(deleting=True), status, denied)
    assert retry_pass_events(view(deleting=True), first.status, denied) == []


def test_switching_to_retain_lets_go_of_a_stuck_resource() -> None:
    status = recorded(Phase.STOPPING, "Stopping", session_id=SESSION)
    stuck = run(view(deleting=True), status, failed(ErrorKind.ACCESS_DENIED, "StopCodeInterpreterSession"))
    released = run(view(make_spec(policy=DeletionPolicy.RETAIN), deleting=True), stuck.status)
    assert released.action == RemoveFinalizer()
    assert event_reasons(released) == [("Normal", "Retained")]


def test_stop_waits_at_least_thirty_seconds_by_default_after_a_denial() -> None:
    status = recorded(Phase.STOPPING, "Stopping", session_id=SESSION)
    decision = decide(view(deleting=True), status, failed(ErrorKind.ACCESS_DENIED), NOW)
    assert decision.requeue_after is not None
    assert decision.requeue_after >= 30


@pytest.mark.parametrize("observation", ALL_OBSERVATIONS.values(), ids=ALL_OBSERVATIONS.keys())
def test_a_resource_deleted_after_its_finalizer_went_is_left_alone(observation: Observation | None) -> None:
    status = recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True)
    assert run(view(deleting=True, has_finalizer=False), status, observation) == Decision(None, status)


def test_deleting_with_an_unreadable_spec_uses_the_recorded_session() -> None:
    status = recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True)
    decision = run(view(spec=None, spec_error="bad", deleting=True), status)
    assert decision.action == EXPECTED_STOP


def test_deleting_starting_without_id_and_an_unreadable_spec_replays_the_recorded_start() -> None:
    decision = run(view(spec=None, spec_error="bad", deleting=True), recorded(Phase.STARTING, "Starting"))
    assert decision.action == EXPECTED_START


def test_deleting_starting_without_id_with_nothing_to_replay_from_releases() -> None:
    status = recorded(Phase.STARTING, "Starting", started=False)
    decision = run(view(spec=None, spec_error="bad", deleting=True), status)
    assert decision.action == RemoveFinalizer()


# --- status bookkeeping ---------------------------------------------------------------------------


def persisted(status: SessionStatus) -> SessionStatus:
    """What the next pass reads back after the reconciler wrote `status`."""
    return SessionStatus.from_dict(status.to_dict())


STEADY: dict[str, tuple[ResourceView, SessionStatus, Observation | None]] = {
    "Pending, interpreter still CREATING": (
        view(CUSTOM),
        recorded(Phase.PENDING, "CheckingInterpreter"),
        InterpreterSeen("CREATING"),
    ),
    "Starting, session has no status yet": (
        view(),
        recorded(Phase.STARTING, "Starting", session_id=SESSION),
        SessionSeen(SESSION, None, CREATED),
    ),
    "Ready, idle": (view(), recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True), None),
    "Ready, confirmed READY again": (
        view(),
        recorded(Phase.STARTING, "Starting", session_id=SESSION),
        SessionSeen(SESSION, "READY", CREATED),
    ),
    "Starting, throttled": (view(), recorded(Phase.STARTING, "Starting"), failed(ErrorKind.THROTTLED)),
    "Pending, quota exceeded": (
        view(),
        recorded(Phase.STARTING, "Starting"),
        failed(ErrorKind.QUOTA_EXCEEDED),
    ),
    "Pending, start blocked by the gate": (view(start_blocked=True), SessionStatus(), None),
    "Failed, access denied": (view(), recorded(Phase.STARTING, "Starting"), failed(ErrorKind.ACCESS_DENIED)),
    "Failed, invalid request": (view(), recorded(Phase.STARTING, "Starting"), failed(ErrorKind.INVALID)),
    "Terminated": (
        view(),
        recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True),
        SessionMissing(SESSION),
    ),
    "Stopping, stop denied": (
        view(deleting=True),
        recorded(Phase.STOPPING, "Stopping", session_id=SESSION),
        failed(ErrorKind.ACCESS_DENIED, "StopCodeInterpreterSession"),
    ),
    "Stopping, stop throttled": (
        view(deleting=True),
        recorded(Phase.STOPPING, "Stopping", session_id=SESSION),
        failed(ErrorKind.THROTTLED, "StopCodeInterpreterSession"),
    ),
}


@pytest.mark.parametrize(("resource", "status", "observation"), STEADY.values(), ids=STEADY.keys())
def test_nothing_changed_means_no_status_write(
    resource: ResourceView, status: SessionStatus, observation: Observation | None
) -> None:
    """The reconciler writes only when to_dict() differs: the same answer again must not differ."""
    first = persisted(run(resource, status, observation).status)
    later = NOW + timedelta(seconds=37)
    again = decide(resource, first, observation, later, TIMING)
    assert again.status.to_dict() == first.to_dict()
    assert again.events == ()


def test_an_idle_ready_session_returns_its_status_unchanged() -> None:
    status = persisted(recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True))
    for now in (NOW, NOW + timedelta(seconds=1), NOW + timedelta(minutes=10)):
        assert run(view(), status, None, now).status == status


def test_a_condition_keeps_its_transition_time_while_its_status_holds() -> None:
    """Starting -> Pending is False -> False: the time stays, while reason and message follow."""
    status = recorded(Phase.STARTING, "Starting")
    decision = run(view(), status, failed(ErrorKind.QUOTA_EXCEEDED))
    condition = decision.status.condition("Ready")
    assert condition is not None
    assert condition.last_transition_time == EARLIER
    assert condition.reason == "QuotaExceeded"
    assert condition.message == decision.status.message


def test_a_condition_gets_a_new_transition_time_when_its_status_flips() -> None:
    starting = recorded(Phase.STARTING, "Starting", session_id=SESSION)
    ready = run(view(), starting, SessionSeen(SESSION, "READY", CREATED)).status
    ready_condition = ready.condition("Ready")
    assert ready_condition is not None
    assert (ready_condition.status, ready_condition.last_transition_time) == ("True", NOW)
    later = NOW + timedelta(minutes=3)
    gone = decide(view(), ready, SessionMissing(SESSION), later, TIMING).status
    gone_condition = gone.condition("Ready")
    assert gone_condition is not None
    assert (gone_condition.status, gone_condition.last_transition_time) == ("False", later)


def test_the_first_condition_is_stamped_now() -> None:
    decision = run(view(), SessionStatus())
    condition = decision.status.condition("Ready")
    assert condition is not None
    assert condition.last_transition_time == NOW
    assert len(decision.status.conditions) == 1


def test_other_conditions_are_kept() -> None:
    other = Condition("Synced", "True", "Whatever", "set by someone else", EARLIER)
    status = replace(recorded(Phase.STARTING, "Starting"), conditions=(other,))
    decision = run(view(), status, failed(ErrorKind.THROTTLED))
    assert decision.status.condition("Synced") == other
    assert decision.status.condition("Ready") is not None


@pytest.mark.parametrize(
    ("status", "observation", "deleting"),
    [
        (SessionStatus(), None, False),
        (recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True), None, False),
        (recorded(Phase.TERMINATED, "SessionExpired", session_id=SESSION), None, False),
        (recorded(Phase.FAILED, "InvalidRequest"), None, False),
        (recorded(Phase.STARTING, "Starting"), failed(ErrorKind.THROTTLED), False),
        (recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True), None, True),
        (recorded(Phase.STOPPING, "Stopping", session_id=SESSION), SessionStopped(SESSION), True),
    ],
    ids=["new", "Ready idle", "Terminated", "Failed terminal", "throttled", "deleting", "stopped"],
)
def test_observed_generation_follows_the_resource(
    status: SessionStatus, observation: Observation | None, deleting: bool
) -> None:
    resource = view(generation=7, deleting=deleting)
    decision = run(resource, replace(status, observed_generation=3), observation)
    assert decision.status.observed_generation == 7


def test_a_condition_set_in_this_pass_carries_the_generation() -> None:
    decision = run(
        view(generation=7),
        recorded(Phase.STARTING, "Starting", session_id=SESSION),
        SessionSeen(SESSION, "READY", CREATED),
    )
    condition = decision.status.condition("Ready")
    assert condition is not None
    assert condition.observed_generation == 7


# --- client tokens --------------------------------------------------------------------------------

CLIENT_TOKEN_RE = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,256}")  # the botocore model's pattern


def valid_token(token: str) -> bool:
    return 33 <= len(token) <= 256 and CLIENT_TOKEN_RE.fullmatch(token) is not None


UIDS = {
    "kubernetes uid": UID,
    "short": "abc",
    "empty": "",
    "only separators": "----",
    "odd characters": "a_b.c/d e",
    "long": "x" * 400,
}


@pytest.mark.parametrize("uid", UIDS.values(), ids=UIDS.keys())
@pytest.mark.parametrize("purpose", ["start", "stop"])
def test_client_tokens_fit_the_api_constraints(uid: str, purpose: str) -> None:
    token = client_token(uid, purpose)
    assert valid_token(token), token


@pytest.mark.parametrize("uid", UIDS.values(), ids=UIDS.keys())
def test_client_tokens_are_deterministic_and_distinct_per_purpose(uid: str) -> None:
    assert client_token(uid, "start") == client_token(uid, "start")
    assert client_token(uid, "start") != client_token(uid, "stop")


def test_client_tokens_differ_between_resources() -> None:
    other = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    assert client_token(UID, "start") != client_token(other, "start")
    assert client_token(UID, "stop") != client_token(other, "stop")


def test_a_kubernetes_uid_token_keeps_the_whole_uid() -> None:
    assert client_token(UID, "start") == f"start-{UID}"


@pytest.mark.parametrize(("uid", "purpose"), [("a" * 26, "start"), ("b" * 27, "stop")], ids=["start", "stop"])
def test_client_token_padding_never_ends_in_a_dash(uid: str, purpose: str) -> None:
    assert valid_token(client_token(uid, purpose)), client_token(uid, purpose)


def test_client_token_truncation_never_ends_in_a_dash() -> None:
    uid = "a" * 249 + "." + "b" * 20  # "start-" + 249 a's + "-" is exactly 256 characters
    assert valid_token(client_token(uid, "start")), client_token(uid, "start")


# --- properties over every combination ------------------------------------------------------------

STATES: dict[str, SessionStatus] = {
    "new": SessionStatus(),
    "Pending": recorded(Phase.PENDING, "CheckingInterpreter"),
    "Pending/QuotaExceeded": recorded(Phase.PENDING, "QuotaExceeded"),
    "Starting without id": recorded(Phase.STARTING, "Starting"),
    "Starting with id": recorded(Phase.STARTING, "Starting", session_id=SESSION),
    "Ready": recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True),
    "Ready, expired": recorded(
        Phase.READY, "SessionReady", session_id=SESSION, ready=True, created_at=NOW - timedelta(hours=2)
    ),
    "Stopping": recorded(Phase.STOPPING, "Stopping", session_id=SESSION),
    "Stopping/StopFailed": recorded(Phase.STOPPING, "StopFailed", session_id=SESSION),
    "Terminated": recorded(Phase.TERMINATED, "SessionExpired", session_id=SESSION),
    "Failed/AccessDenied": recorded(Phase.FAILED, "AccessDenied"),
    "Failed/AccessDenied with id": recorded(Phase.FAILED, "AccessDenied", session_id=SESSION),
    "Failed/InvalidRequest": recorded(Phase.FAILED, "InvalidRequest"),
    "Failed/InvalidSpec": recorded(Phase.FAILED, "InvalidSpec"),
    "Failed/InterpreterFailed": recorded(Phase.FAILED, "InterpreterFailed"),
}

RESOURCES: dict[str, ResourceView] = {
    "built-in": view(),
    "custom": view(CUSTOM),
    "ARN": view(make_spec(CUSTOM_ARN)),
    "retain": view(make_spec(policy=DeletionPolicy.RETAIN)),
    "start blocked": view(start_blocked=True),
    "no finalizer": view(has_finalizer=False),
    "custom, start blocked, no finalizer": view(CUSTOM, start_blocked=True, has_finalizer=False),
}


def combinations(deleting: bool) -> list[tuple[str, ResourceView, SessionStatus, Observation | None]]:
    cases = []
    for (r_id, resource), (s_id, status), (o_id, observation) in itertools.product(
        RESOURCES.items(), STATES.items(), ALL_OBSERVATIONS.items()
    ):
        cases.append((f"{r_id} | {s_id} | {o_id}", replace(resource, deleting=deleting), status, observation))
    return cases


def answers_our_own_call(status: SessionStatus, observation: Observation | None) -> bool:
    """Whether the observation can only be the answer to an action this status could not have led to.

    GetCodeInterpreter is asked only before a session exists, and Start only after its
    parameters were recorded; sweep hints (SessionSeen, SessionUnconfirmed) can come at any time.
    """
    if isinstance(observation, InterpreterSeen | InterpreterMissing):
        return status.session_id is not None
    if isinstance(observation, SessionStarted):
        return status.region is None
    return False


def settled(resource: ResourceView, decision: Decision) -> bool:
    """Will something happen next without an outside event, or is waiting the documented outcome?"""
    status = decision.status
    reason = reason_of(status)
    if decision.action is not None or decision.requeue_after is not None or decision.backoff:
        return True
    if status.phase is Phase.TERMINATED:
        return True
    if status.phase is Phase.FAILED and reason in TERMINAL_REASONS:
        return True
    if resource.start_blocked and reason == "QuotaExceeded" and status.session_id is None:
        return True  # the quota gate requeues it when capacity frees up
    return resource.deleting and not resource.has_finalizer  # the object is gone


@pytest.mark.parametrize("deleting", [False, True], ids=["live", "deleting"])
def test_every_combination_decides_without_raising(deleting: bool) -> None:
    problems = []
    for case, resource, status, observation in combinations(deleting):
        try:
            decision = run(resource, status, observation)
        except Exception as exc:
            problems.append(f"{case}: raised {exc!r}")
            continue
        phase = decision.status.phase
        if not isinstance(phase, Phase) and not (phase is None and status.phase is None):
            problems.append(f"{case}: phase {phase!r}")
        if decision.requeue_after is not None and decision.requeue_after < 0:
            problems.append(f"{case}: negative requeue {decision.requeue_after}")
        if decision.status.observed_generation != GENERATION:
            problems.append(f"{case}: observedGeneration {decision.status.observed_generation}")
    assert problems == []


@pytest.mark.parametrize("deleting", [False, True], ids=["live", "deleting"])
def test_no_combination_leaves_a_resource_stuck(deleting: bool) -> None:
    """An action, a requeue, a terminal phase, or a documented wait (quota gate, object gone)."""
    problems = []
    for case, resource, status, observation in combinations(deleting):
        if answers_our_own_call(status, observation):
            continue
        decision = run(resource, status, observation)
        if not settled(resource, decision):
            problems.append(f"{case}: {decision}")
    assert problems == []


def complete(action: object) -> bool:
    fields = {
        CheckInterpreter: ("region", "interpreter_id"),
        StartSession: ("region", "interpreter", "name", "client_token"),
        ReadSession: ("region", "interpreter", "session_id"),
        StopSession: ("region", "interpreter", "session_id", "client_token"),
    }.get(type(action), ())
    return all(getattr(action, name) for name in fields)


@pytest.mark.parametrize("deleting", [False, True], ids=["live", "deleting"])
def test_every_aws_action_carries_all_its_parameters(deleting: bool) -> None:
    problems = []
    for case, resource, status, observation in combinations(deleting):
        if answers_our_own_call(status, observation):
            continue
        action = run(resource, status, observation).action
        if not complete(action):
            problems.append(f"{case}: {action}")
    assert problems == []


@pytest.mark.parametrize(
    "status",
    [SessionStatus(), recorded(Phase.PENDING, "InterpreterNotReady"), recorded(Phase.STARTING, "Starting")],
    ids=["new", "Pending", "Starting without id"],
)
def test_an_unconfirmed_hint_without_a_recorded_session_reads_nothing(status: SessionStatus) -> None:
    """A stale sweep hint (queued under namespace/name) can reach a re-created resource."""
    action = run(view(), status, SessionUnconfirmed(SESSION)).action
    assert not isinstance(action, ReadSession) or complete(action), action


@pytest.mark.parametrize("deleting", [False, True], ids=["live", "deleting"])
def test_no_combination_restarts_a_terminated_session(deleting: bool) -> None:
    for case, resource, status, observation in combinations(deleting):
        if status.phase is Phase.TERMINATED:
            decision = run(resource, status, observation)
            assert not isinstance(decision.action, StartSession), case


@pytest.mark.parametrize("deleting", [False, True], ids=["live", "deleting"])
def test_every_aws_action_carries_the_token_of_its_purpose(deleting: bool) -> None:
    for case, resource, status, observation in combinations(deleting):
        action = run(resource, status, observation).action
        if isinstance(action, StartSession):
            assert action.client_token == START_TOKEN, case
        if isinstance(action, StopSession):
            assert action.client_token == stop_token(UID, action.session_id), case


@pytest.mark.parametrize("deleting", [False, True], ids=["live", "deleting"])
def test_a_deleting_resource_never_starts_a_fresh_session(deleting: bool) -> None:
    """While deleting, Start is only sent to reveal a session a lost Start may have created."""
    for case, resource, status, observation in combinations(deleting):
        action = run(resource, status, observation).action
        if deleting and isinstance(action, StartSession):
            assert status.phase is Phase.STARTING and status.session_id is None, case


@pytest.mark.parametrize("deleting", [False, True], ids=["live", "deleting"])
def test_every_event_is_normal_or_warning_with_a_message(deleting: bool) -> None:
    for case, resource, status, observation in combinations(deleting):
        for event in run(resource, status, observation).events:
            assert event.type in ("Normal", "Warning"), case
            assert event.reason and event.message, case


def test_access_denied_on_the_interpreter_check_retried_posts_no_second_warning() -> None:
    denied = failed(ErrorKind.ACCESS_DENIED, "GetCodeInterpreter")
    first = run(view(CUSTOM), recorded(Phase.PENDING, "CheckingInterpreter"), denied)
    assert event_reasons(first) == [("Warning", "AccessDenied")]
    assert retry_pass_events(view(CUSTOM), first.status, denied) == []


STALE_HINTS = {
    "seen READY": SessionSeen(OTHER_SESSION, "READY", CREATED),
    "seen TERMINATED": SessionSeen(OTHER_SESSION, "TERMINATED", CREATED, NOW),
    "missing": SessionMissing(OTHER_SESSION),
    "unconfirmed": SessionUnconfirmed(OTHER_SESSION),
    "stopped": SessionStopped(OTHER_SESSION),
}


@pytest.mark.parametrize("hint", STALE_HINTS.values(), ids=STALE_HINTS.keys())
@pytest.mark.parametrize(
    "status",
    [
        recorded(Phase.STARTING, "Starting"),
        recorded(Phase.STARTING, "Starting", session_id=SESSION),
        recorded(Phase.READY, "SessionReady", session_id=SESSION, ready=True),
    ],
    ids=["Starting without id", "Starting", "Ready"],
)
@pytest.mark.parametrize("deleting", [False, True], ids=["live", "deleting"])
def test_news_of_another_session_is_ignored(hint: Observation, status: SessionStatus, deleting: bool) -> None:
    """A sweep hint is queued under namespace/name and can reach a re-created resource."""
    resource = view(deleting=deleting)
    assert run(resource, status, hint) == run(resource, status, None)


# --- a Start whose answer was lost (issue 19) -----------------------------------------------------
# The status names the token of a Start that may have created a session (pendingStartToken) and
# counts the attempts whose outcome is unknown (unansweredStarts). Only an answer settles them.


def unanswered(count: int, phase: Phase = Phase.STARTING, reason: str = "AWSUnavailable") -> SessionStatus:
    return replace(recorded(phase, reason), pending_start_token=START_TOKEN, unanswered_starts=count)


def test_a_start_records_its_token_and_counts_itself_before_it_is_sent() -> None:
    decision = run(view(), SessionStatus())
    assert decision.action == EXPECTED_START
    assert decision.status.pending_start_token == START_TOKEN
    assert decision.status.unanswered_starts == 1
    assert persisted(decision.status) == decision.status


def test_an_answered_start_settles_every_attempt() -> None:
    decision = run(view(), unanswered(3), SessionStarted(SESSION, CREATED))
    assert decision.status.session_id == SESSION
    assert decision.status.pending_start_token is None
    assert decision.status.unanswered_starts == 0


@pytest.mark.parametrize("kind", [ErrorKind.UNAVAILABLE, ErrorKind.UNKNOWN], ids=str)
def test_a_lost_answer_leaves_the_attempt_unresolved_and_the_next_pass_replays_it(kind: ErrorKind) -> None:
    first = run(view(), SessionStatus())
    lost = run(view(), first.status, failed(kind))
    assert lost.status.pending_start_token == START_TOKEN
    assert lost.status.unanswered_starts == 1
    replay = run(view(), persisted(lost.status))
    assert replay.action == EXPECTED_START
    assert replay.status.unanswered_starts == 2


@pytest.mark.parametrize(
    "kind",
    [ErrorKind.THROTTLED, ErrorKind.ACCESS_DENIED, ErrorKind.QUOTA_EXCEEDED, ErrorKind.CONFLICT],
    ids=str,
)
def test_a_refused_attempt_created_nothing_but_settles_no_earlier_one(kind: ErrorKind) -> None:
    alone = run(view(), unanswered(1), failed(kind))
    assert alone.status.unanswered_starts == 0
    assert alone.status.pending_start_token is None
    after_a_lost_one = run(view(), unanswered(2), failed(kind))
    assert after_a_lost_one.status.unanswered_starts == 1
    assert after_a_lost_one.status.pending_start_token == START_TOKEN


@pytest.mark.parametrize("kind", [ErrorKind.INVALID, ErrorKind.NOT_FOUND], ids=str)
def test_an_invalid_start_or_a_missing_interpreter_settles_every_attempt(kind: ErrorKind) -> None:
    decision = run(view(), unanswered(3), failed(kind))
    assert decision.status.unanswered_starts == 0
    assert decision.status.pending_start_token is None
    assert decision.status.phase is Phase.FAILED


def test_a_failure_of_another_call_settles_nothing() -> None:
    status = unanswered(1, Phase.PENDING)
    decision = run(view(spec=CUSTOM), status, failed(ErrorKind.NOT_FOUND, "GetCodeInterpreter"))
    assert decision.status.unanswered_starts == 1
    assert decision.status.pending_start_token == START_TOKEN


def test_an_unresolved_start_is_replayed_before_checking_a_custom_interpreter() -> None:
    status = replace(unanswered(1, Phase.PENDING), code_interpreter_identifier=CUSTOM_ID)
    decision = run(view(spec=CUSTOM), status)
    assert isinstance(decision.action, StartSession)
    assert decision.action.client_token == START_TOKEN


def test_the_quota_gate_does_not_hold_back_a_replay() -> None:
    decision = run(view(start_blocked=True), unanswered(1))
    assert decision.action == EXPECTED_START


def test_a_replay_sends_what_the_lost_attempt_sent() -> None:
    status = replace(unanswered(1), session_name="named-back-then", session_timeout_seconds=120)
    decision = run(view(), status)
    assert isinstance(decision.action, StartSession)
    assert (decision.action.name, decision.action.timeout_seconds) == ("named-back-then", 120)


def test_deleting_during_an_unresolved_start_never_lets_go_on_a_5xx() -> None:
    """The reported leak: Starting without id, the replay gets a 500, the next pass let go."""
    deleting = view(deleting=True)
    status = recorded(Phase.STARTING, "Starting")  # persisted, then the Start's answer was lost
    for _ in range(3):
        replay = run(deleting, persisted(status))
        assert replay.action == EXPECTED_START
        status = run(deleting, replay.status, failed(ErrorKind.UNAVAILABLE)).status
        assert status.phase is Phase.STOPPING
        assert status.pending_start_token == START_TOKEN
    found = run(deleting, run(deleting, persisted(status)).status, SessionStarted(SESSION, CREATED))
    assert found.action == EXPECTED_STOP
    assert (found.status.session_id, found.status.pending_start_token) == (SESSION, None)


def test_deleting_after_a_definite_refusal_of_the_only_attempt_lets_go_at_once() -> None:
    deleting = view(deleting=True)
    refused = run(view(), unanswered(1), failed(ErrorKind.QUOTA_EXCEEDED))
    assert run(deleting, persisted(refused.status)).action == RemoveFinalizer()


def test_deleting_an_unresolved_start_under_retain_lets_go() -> None:
    decision = run(view(spec=make_spec(policy=DeletionPolicy.RETAIN), deleting=True), unanswered(2))
    assert decision.action == RemoveFinalizer()


def test_access_denied_while_resolving_on_delete_waits_at_least_the_denied_retry() -> None:
    deleting = view(deleting=True)
    replay = run(deleting, unanswered(1, Phase.STOPPING))
    decision = run(deleting, replay.status, failed(ErrorKind.ACCESS_DENIED))
    assert decision.requeue_after == TIMING.access_denied_retry_seconds
    assert event_reasons(decision) == [("Warning", "AccessDenied")]
