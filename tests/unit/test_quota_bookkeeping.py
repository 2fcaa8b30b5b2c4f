"""The session kind and the quota gate: a first Start waits for its turn, a replay never does,
a pooled session waits for cold ones, and the scope is the namespace's (account, region)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from agentcore_operator.api.v1alpha1 import FINALIZER
from agentcore_operator.controller.observations import CallFailed, Observation, SessionStarted
from agentcore_operator.controller.quota import QuotaGate
from agentcore_operator.controller.reconciler import SessionKind
from agentcore_operator.controller.state_machine import DEFAULT_TIMING, AwsAction, StartSession, start_token
from agentcore_operator.runtime.errors import ErrorKind

from tests.unit.test_state_machine import REGION

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
TOKEN = start_token("uid-team-a-replay", 0)
ACCOUNTS = {"team-a": ("111122223333", 3), "team-b": ("444455556666", 1)}


class Sessions:
    """Answers Starts; counts what was sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.answer: asyncio.Event | None = None

    async def perform(self, action: AwsAction) -> Observation:
        assert isinstance(action, StartSession)
        self.sent.append(action.client_token)
        if self.answer is not None:
            await self.answer.wait()
        return SessionStarted(f"session-{len(self.sent)}", NOW)


def body(
    namespace: str, name: str, *, pooled: bool = False, status: dict[str, Any] | None = None
) -> dict[str, Any]:
    labels = {"agentcore.dev/pool": "p", "agentcore.dev/pool-state": "free"} if pooled else {}
    return {
        "metadata": {
            "namespace": namespace,
            "name": name,
            "uid": f"uid-{namespace}-{name}",
            "generation": 1,
            "creationTimestamp": "2026-03-01T11:59:00Z",
            "finalizers": [FINALIZER],
            "labels": labels,
        },
        "spec": {"region": REGION},
        "status": status or {},
    }


def session_kind(gate: QuotaGate, sessions: Sessions) -> SessionKind:
    return SessionKind(
        sessions=sessions,  # type: ignore[arg-type]
        default_region=REGION,
        timing=DEFAULT_TIMING,
        quota=gate,
        clock=lambda: NOW,
        share_of=lambda namespace: ACCOUNTS.get(namespace, ("", 1)),
    )


async def start(
    kind: SessionKind, resource: dict[str, Any]
) -> tuple[StartSession | None, Observation | None]:
    """One pass up to the Start's answer, as the reconcile loop makes it."""
    key = (resource["metadata"]["namespace"], resource["metadata"]["name"])
    view = kind.view(resource)
    decision = kind.decide(view, kind.read_status(resource["status"]), None, NOW)
    action = decision.action
    if not isinstance(action, StartSession):
        return None, None
    await kind.prepare(key, resource, view, action)
    observation = await kind.perform(action)
    kind.acted(key, resource, action, observation)
    return action, observation


async def one_sent_one_waiting(
    first: str, second: str
) -> tuple[QuotaGate, Sessions, SessionKind, asyncio.Future[Any], asyncio.Future[Any]]:
    """A window of one: `first`'s Start is sent and not yet answered; `second`'s waits its turn."""
    gate = QuotaGate(lambda key: None, window=1)
    sessions = Sessions()
    sessions.answer = asyncio.Event()
    kind = session_kind(gate, sessions)
    sent = asyncio.ensure_future(start(kind, body("team-a", first)))
    waiting = asyncio.ensure_future(start(kind, body("team-a", second)))
    await asyncio.sleep(0.01)
    return gate, sessions, kind, sent, waiting


def test_a_first_start_waits_for_its_turn() -> None:
    async def scenario() -> None:
        gate, sessions, _, first, second = await one_sent_one_waiting("one", "two")
        assert len(sessions.sent) == 1  # the second waits for the first's answer
        assert gate.waiting(("111122223333", REGION)) == 1
        sessions.answer.set()
        await asyncio.gather(first, second)
        assert len(sessions.sent) == 2

    asyncio.run(scenario())


def test_a_replayed_start_never_waits() -> None:
    async def scenario() -> None:
        gate = QuotaGate(lambda key: None)
        gate.exceeded(("111122223333", REGION), ("team-a", "other"), "1")  # the quota is full
        sessions = Sessions()
        kind = session_kind(gate, sessions)
        unresolved = {
            "phase": "Starting",
            "pendingStartToken": TOKEN,
            "unansweredStarts": 1,
            "region": REGION,
            "codeInterpreterIdentifier": "aws.codeinterpreter.v1",
            "sessionName": "team-a-replay",
            "sessionTimeoutSeconds": 900,
        }
        action, observation = await start(kind, body("team-a", "replay", status=unresolved))
        assert action is not None and action.client_token == TOKEN
        assert isinstance(observation, SessionStarted)
        assert sessions.sent == [TOKEN]

    asyncio.run(scenario())


def test_a_start_waiting_when_the_quota_fills_is_answered_without_being_sent() -> None:
    async def scenario() -> None:
        gate, sessions, _, first, second = await one_sent_one_waiting("one", "two")
        gate.exceeded(("111122223333", REGION), ("team-a", "one"), "1")  # one's Start was refused
        _, observation = await second
        assert isinstance(observation, CallFailed)
        assert observation.error.kind is ErrorKind.QUOTA_EXCEEDED
        assert observation.error.code == "ServiceQuotaExceededException"
        assert "not sent" in observation.error.message
        assert len(sessions.sent) == 1
        assert gate.waiting(("111122223333", REGION)) == 2  # both wait in line for a session to end
        sessions.answer.set()
        await first

    asyncio.run(scenario())


def test_the_scope_is_the_namespaces_account_and_region() -> None:
    async def scenario() -> None:
        gate = QuotaGate(lambda key: None)
        kind = session_kind(gate, Sessions())
        gate.exceeded(("111122223333", REGION), ("team-a", "full"), "1")
        assert kind.view(body("team-a", "waits")).start_blocked
        assert not kind.view(body("team-b", "other-account")).start_blocked
        assert not kind.view(body("team-c", "own-account")).start_blocked
        _, observation = await start(kind, body("team-b", "starts"))
        assert isinstance(observation, SessionStarted)

    asyncio.run(scenario())


def test_a_free_pool_child_waits_while_a_cold_session_waits() -> None:
    async def scenario() -> None:
        _, sessions, kind, first, cold = await one_sent_one_waiting("first", "cold")
        assert kind.view(body("team-a", "p-abcde", pooled=True)).start_blocked
        assert not kind.view(body("team-a", "p-abcde")).start_blocked  # claimed: an ordinary session
        assert not kind.view(body("team-b", "p-fghij", pooled=True)).start_blocked  # another account
        sessions.answer.set()
        await asyncio.gather(first, cold)
        assert not kind.view(body("team-a", "p-abcde", pooled=True)).start_blocked

    asyncio.run(scenario())


def test_a_start_refused_before_any_session_frees_no_slot() -> None:
    """A pass that began in Starting (a retry, a replay) and ends refused for quota, Pending,
    ended no session of ours: the gate's line gets no extra turn from it."""
    scope = ("111122223333", REGION)
    released: list[tuple[str, str]] = []
    gate = QuotaGate(released.append)
    gate.exceeded(scope, ("team-a", "waiting"), "1")
    kind = session_kind(gate, Sessions())
    starting = {"phase": "Starting", "region": REGION, "pendingStartToken": TOKEN}
    refused = {"phase": "Pending", "region": REGION}
    resource = body("team-a", "replay", status=starting)
    kind.settled(
        ("team-a", "replay"),
        resource,
        kind.view(resource),
        kind.read_status(starting),
        kind.read_status(refused),
    )
    assert released == []
    ready = {"phase": "Ready", "region": REGION, "sessionId": "s-1"}
    ended = {"phase": "Terminated", "region": REGION, "sessionId": "s-1"}
    kind.settled(
        ("team-a", "ended"), resource, kind.view(resource), kind.read_status(ready), kind.read_status(ended)
    )
    assert released == [("team-a", "waiting")]
