"""A simulated AgentCore and API server for model-checking the real reconciler.

The simulation keeps only what the invariants need: AgentCore's sessions with their
clientTokens (idempotency first, for good: a replayed token returns the session it made,
even once that session has ended, as the emulator does), expiry on a simulated clock,
out-of-band stops, and faults. A fault is chosen per call: 5xx, 429 and AccessDenied are
refused before anything happens; `lost` acts and then loses the answer (the caller sees a
5xx), the case that makes a Start's outcome unknowable without replaying its token.

The API server is one resource: finalizers, deletionTimestamp, spec and status. A crash is
an exception raised at a chosen effect (before or after a write, after an AWS call acted),
which ends the pass as SIGKILL would: whatever was not yet persisted is lost.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from agentcore_operator.api.v1alpha1 import FINALIZER
from agentcore_operator.controller.observations import (
    CallFailed,
    InterpreterMissing,
    InterpreterSeen,
    Observation,
    SessionMissing,
    SessionSeen,
    SessionStarted,
    SessionStopped,
)
from agentcore_operator.controller.state_machine import (
    AwsAction,
    CheckInterpreter,
    EventNote,
    ReadSession,
    StartSession,
    StopSession,
)
from agentcore_operator.interpreters.decision import InterpreterCall
from agentcore_operator.interpreters.observations import InterpreterAnswer, InterpreterObservation, TagsKnown
from agentcore_operator.runtime.errors import ApiError, ErrorKind
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
FAULTS = ("5xx", "429", "denied", "quota", "lost")
_REFUSALS = {
    "5xx": (ErrorKind.UNAVAILABLE, "InternalServerException", 500),
    "429": (ErrorKind.THROTTLED, "ThrottlingException", 429),
    "denied": (ErrorKind.ACCESS_DENIED, "AccessDeniedException", 403),
    "quota": (ErrorKind.QUOTA_EXCEEDED, "ServiceQuotaExceededException", 402),
}


class Crash(BaseException):
    """The operator process dies here (BaseException: no handler of ours may swallow it)."""


@dataclass
class SimSession:
    session_id: str
    token: str
    created_at: datetime
    expires_at: datetime
    status: str = "READY"


@dataclass
class CrashPlan:
    """Die at the `at`-th effect of this pass (None: live through it)."""

    at: int | None = None
    effects: int = 0

    def effect(self) -> None:
        if self.at is not None and self.effects == self.at:
            self.effects += 1
            raise Crash(f"crash at effect {self.at}")
        self.effects += 1


@dataclass
class SimAgentCore:
    now: datetime = EPOCH
    sessions: dict[str, SimSession] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    faults: list[str | None] = field(default_factory=list)  # one per call, then none
    calls: list[tuple[str, str | None]] = field(default_factory=list)
    crash: CrashPlan = field(default_factory=CrashPlan)
    start_tokens: list[str] = field(default_factory=list)  # every Start's token, in order
    _seq: int = 0

    def clock(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        for session in self.sessions.values():
            if session.status == "READY" and self.now >= session.expires_at:
                session.status = "TERMINATED"

    def stop_out_of_band(self, session_id: str | None = None) -> None:
        for session in self.sessions.values():
            if session_id is None or session.session_id == session_id:
                session.status = "TERMINATED"

    def live(self) -> list[SimSession]:
        return [s for s in self.sessions.values() if s.status == "READY"]

    async def perform(self, action: AwsAction) -> Observation:
        """SessionManager.perform's contract: one observation per call, failures as CallFailed."""
        operation = {
            CheckInterpreter: "GetCodeInterpreter",
            StartSession: "StartCodeInterpreterSession",
            ReadSession: "GetCodeInterpreterSession",
            StopSession: "StopCodeInterpreterSession",
        }[type(action)]
        fault = self.faults.pop(0) if self.faults else None
        self.calls.append((operation, fault))
        if isinstance(action, StartSession):
            self.start_tokens.append(action.client_token)
        if fault == "quota" and (not isinstance(action, StartSession) or action.client_token in self.tokens):
            fault = None  # only a Start can meet the quota, and idempotency comes first
        if fault in _REFUSALS:
            kind, code, status = _REFUSALS[fault]
            return CallFailed(ApiError(kind, operation, code, "simulated", status))
        observation = self._act(action)
        self.crash.effect()  # the call acted; the process may die before it hears the answer
        if fault == "lost":
            return CallFailed(
                ApiError(ErrorKind.UNAVAILABLE, operation, "InternalServerException", "lost answer", 500)
            )
        return observation

    def _act(self, action: AwsAction) -> Observation:
        match action:
            case CheckInterpreter():
                return InterpreterSeen("READY")
            case StartSession(client_token=token, timeout_seconds=timeout):
                known = self.tokens.get(token)
                if known is None:
                    self._seq += 1
                    known = f"s{self._seq:04d}"
                    self.sessions[known] = SimSession(
                        known, token, self.now, self.now + timedelta(seconds=timeout)
                    )
                    self.tokens[token] = known
                session = self.sessions[known]
                return SessionStarted(session.session_id, session.created_at)
            case ReadSession(session_id=sid):
                found = self.sessions.get(sid)
                if found is None:
                    return SessionMissing(sid)
                return SessionSeen(sid, found.status, found.created_at, None)
            case StopSession(session_id=sid):
                found = self.sessions.get(sid)
                if found is None:
                    return SessionMissing(sid)
                found.status = "TERMINATED"
                return SessionStopped(sid, self.now)
        raise AssertionError(action)  # pragma: no cover


@dataclass
class SimApiServer:
    """One CodeInterpreterSession in an API server, and the operator's writes to it."""

    body: dict[str, Any] | None
    crash: CrashPlan
    released_under_retain: bool = False
    events: list[EventNote] = field(default_factory=list)
    finalizer: str = FINALIZER  # the kind's (the interpreter model passes its own)
    _rv: int = 1

    def snapshot(self) -> dict[str, Any] | None:
        return copy.deepcopy(self.body)

    def _bump(self) -> dict[str, Any]:
        assert self.body is not None
        self._rv += 1
        self.body["metadata"]["resourceVersion"] = str(self._rv)
        if self.body["metadata"].get("deletionTimestamp") and not self.body["metadata"].get("finalizers"):
            retain = (self.body.get("spec") or {}).get("deletionPolicy") == "Retain"
            self.released_under_retain = retain
            self.body = None
            return {}
        return copy.deepcopy(self.body)

    # The KubeWriter methods the reconciler calls.
    async def patch_status(
        self, body: dict[str, Any], old: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any] | None:
        self.crash.effect()
        if self.body is None:
            return None
        self.body["status"] = copy.deepcopy(new)
        written = self._bump()
        self.crash.effect()
        return written or None

    async def add_finalizer(self, body: dict[str, Any]) -> dict[str, Any] | None:
        self.crash.effect()
        if self.body is None:
            return None
        finalizers = self.body["metadata"].setdefault("finalizers", [])
        if self.finalizer not in finalizers:
            finalizers.append(self.finalizer)
        written = self._bump()
        self.crash.effect()
        return written or None

    async def remove_finalizer(self, body: dict[str, Any]) -> dict[str, Any] | None:
        self.crash.effect()
        if self.body is None:
            return None
        finalizers = self.body["metadata"].get("finalizers") or []
        self.body["metadata"]["finalizers"] = [f for f in finalizers if f != self.finalizer]
        written = self._bump()
        self.crash.effect()
        return written or None

    async def post_event(self, body: dict[str, Any], note: EventNote) -> None:
        self.events.append(note)


# -- the control plane's code interpreters ---------------------------------------------------


@dataclass
class SimInterpreter:
    interpreter_id: str
    token: str | None  # None: made outside the operator (adopted)
    created_at: datetime
    ready_at: datetime
    deleted_at: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return (
            f"arn:aws:bedrock-agentcore:us-east-1:123456789012:code-interpreter-custom/{self.interpreter_id}"
        )

    def status(self, now: datetime) -> str:
        if self.deleted_at is not None:
            return "DELETED" if now >= self.deleted_at else "DELETING"
        return "READY" if now >= self.ready_at else "CREATING"


@dataclass
class SimControlPlane:
    """CreateCodeInterpreter and friends: clientToken idempotency, CREATING and DELETING delays.

    Shares the sessions' clock (`agentcore.now`), faults and crash plan, so one model step
    can fault or crash a call of either plane.
    """

    agentcore: SimAgentCore
    delay: timedelta = timedelta(seconds=2)
    interpreters: dict[str, SimInterpreter] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    on_delete: Any = None  # called with the interpreter id before a Delete acts (a model's check)
    _seq: int = 0

    def adopt_one(self) -> str:
        """An interpreter made with boto3 by someone else."""
        interpreter = SimInterpreter("handmade-a1b2c3d4e5", None, self.agentcore.now, self.agentcore.now)
        self.interpreters[interpreter.interpreter_id] = interpreter
        return interpreter.interpreter_id

    def made_by(self, token: str) -> list[SimInterpreter]:
        return [i for i in self.interpreters.values() if i.token == token]

    async def perform(self, call: InterpreterCall) -> InterpreterObservation:
        """InterpreterManager.perform's contract: one observation per call, failures as CallFailed."""
        aws = self.agentcore
        fault = aws.faults.pop(0) if aws.faults else None
        aws.calls.append((call.operation, fault))
        if fault == "quota" and (
            call.operation != "CreateCodeInterpreter" or call.params["clientToken"] in self.tokens
        ):
            fault = None
        if fault in _REFUSALS:
            kind, code, status = _REFUSALS[fault]
            return CallFailed(ApiError(kind, call.operation, code, "simulated", status))
        observation = self._act(call)
        aws.crash.effect()
        if fault == "lost":
            return CallFailed(
                ApiError(ErrorKind.UNAVAILABLE, call.operation, "InternalServerException", "lost answer", 500)
            )
        return observation

    def _answer(self, operation: str, interpreter: SimInterpreter) -> InterpreterAnswer:
        now = self.agentcore.now
        return InterpreterAnswer(
            operation,
            interpreter.status(now),
            interpreter.interpreter_id,
            interpreter.arn,
            interpreter.created_at,
        )

    def _live(self, interpreter_id: object) -> SimInterpreter | None:
        found = self.interpreters.get(str(interpreter_id))
        return found if found is not None and found.status(self.agentcore.now) != "DELETED" else None

    def _act(self, call: InterpreterCall) -> InterpreterObservation:
        now, params = self.agentcore.now, call.params
        if call.operation == "CreateCodeInterpreter":
            token = str(params["clientToken"])
            known = self.tokens.get(token)
            if known is None:
                self._seq += 1
                known = f"sim_{self._seq}-a1b2c3d4e5"
                tags = dict(params.get("tags") or {})  # type: ignore[call-overload]
                self.interpreters[known] = SimInterpreter(known, token, now, now + self.delay, tags=tags)
                self.tokens[token] = known
            return self._answer(call.operation, self.interpreters[known])
        if call.operation in ("GetCodeInterpreter", "DeleteCodeInterpreter"):
            found = self._live(params["codeInterpreterId"])
            if found is None:
                return InterpreterMissing()
            if call.operation == "DeleteCodeInterpreter":
                if self.on_delete is not None:
                    self.on_delete(found.interpreter_id)
                found.deleted_at = found.deleted_at or now + self.delay
            return self._answer(call.operation, found)
        found = next((i for i in self.interpreters.values() if i.arn == params["resourceArn"]), None)
        if found is None:
            return CallFailed(
                ApiError(ErrorKind.NOT_FOUND, call.operation, "ResourceNotFoundException", "no", 404)
            )
        if call.operation == "TagResource":
            found.tags.update(params["tags"])  # type: ignore[call-overload]
        elif call.operation == "UntagResource":
            for key in params["tagKeys"]:  # type: ignore[attr-defined]
                found.tags.pop(key, None)
        return TagsKnown(dict(found.tags))


def run_model(machine: type[RuleBasedStateMachine], examples: int, steps: int) -> None:
    """Run a model: derandomized (the same examples every run) unless MODELCHECK_RANDOM is set."""
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            derandomize=os.environ.get("MODELCHECK_RANDOM") is None,
            database=None,
        ),
    )
