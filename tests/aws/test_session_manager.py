"""The AWS adapter against the AgentCore emulator over HTTP: pacing, classification, batching."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from agentcore_operator.aws.clients import ClientFactory
from agentcore_operator.aws.sessions import SessionManager
from agentcore_operator.controller.observations import (
    CallFailed,
    InterpreterMissing,
    InterpreterSeen,
    SessionMissing,
    SessionSeen,
    SessionStarted,
    SessionStopped,
)
from agentcore_operator.controller.state_machine import (
    CheckInterpreter,
    ReadSession,
    StartSession,
    StopSession,
    client_token,
)
from agentcore_operator.local.agentcore import EmulatorConfig, FaultRule, InterpreterSeed
from agentcore_operator.local.agentcore.testing import EmulatorHandle, running_emulator
from agentcore_operator.local.harness import dummy_boto_session
from agentcore_operator.runtime.elector import NotLeader
from agentcore_operator.runtime.errors import ErrorKind
from agentcore_operator.runtime.ratelimit import RateLimiter

BUILTIN = "aws.codeinterpreter.v1"
CUSTOM = "datasci_vpc-a1b2c3d4e5"


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    config = EmulatorConfig(interpreters={CUSTOM: InterpreterSeed()}, tps=0)
    with running_emulator(config) as handle:
        yield handle


def manager_for(emulator: EmulatorHandle, limiter: RateLimiter | None = None) -> SessionManager:
    clients = ClientFactory(endpoint_url=emulator.endpoint_url, session=dummy_boto_session())
    return SessionManager(clients, limiter or RateLimiter(default_rate=1000.0))


def start(uid: str, timeout: int = 900, name: str = "s") -> StartSession:
    return StartSession("us-east-1", BUILTIN, name, timeout, client_token(uid, "start"))


async def test_start_read_stop_round_trip(emulator: EmulatorHandle) -> None:
    manager = manager_for(emulator)
    started = await manager.perform(start("uid-1"))
    assert isinstance(started, SessionStarted)
    seen = await manager.perform(ReadSession("us-east-1", BUILTIN, started.session_id))
    assert isinstance(seen, SessionSeen) and seen.status == "READY"
    stopped = await manager.perform(
        StopSession("us-east-1", BUILTIN, started.session_id, client_token("uid-1", "stop"))
    )
    assert isinstance(stopped, SessionStopped)
    assert [s["status"] for s in emulator.sessions()] == ["TERMINATED"]


async def test_repeated_start_with_the_same_token_returns_the_same_session(emulator: EmulatorHandle) -> None:
    manager = manager_for(emulator)
    first = await manager.perform(start("uid-1"))
    again = await manager.perform(start("uid-1"))
    assert isinstance(first, SessionStarted) and isinstance(again, SessionStarted)
    assert first.session_id == again.session_id
    assert len(emulator.sessions()) == 1


async def test_unknown_session_is_missing_not_an_error(emulator: EmulatorHandle) -> None:
    manager = manager_for(emulator)
    assert isinstance(await manager.perform(ReadSession("us-east-1", BUILTIN, "NOPE")), SessionMissing)
    stop = StopSession("us-east-1", BUILTIN, "NOPE", client_token("u", "stop"))
    assert isinstance(await manager.perform(stop), SessionMissing)


async def test_interpreter_checks(emulator: EmulatorHandle) -> None:
    manager = manager_for(emulator)
    assert await manager.perform(CheckInterpreter("us-east-1", CUSTOM)) == InterpreterSeen("READY", None)
    missing = await manager.perform(CheckInterpreter("us-east-1", "gone_one-a1b2c3d4e5"))
    assert isinstance(missing, InterpreterMissing)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("ThrottlingException", ErrorKind.THROTTLED),
        ("ServiceQuotaExceededException", ErrorKind.QUOTA_EXCEEDED),
        ("InternalServerException", ErrorKind.UNAVAILABLE),
        ("AccessDeniedException", ErrorKind.ACCESS_DENIED),
        ("ValidationException", ErrorKind.INVALID),
        ("ConflictException", ErrorKind.CONFLICT),
    ],
)
async def test_errors_over_the_wire_are_classified(
    emulator: EmulatorHandle, error: str, kind: ErrorKind
) -> None:
    emulator.emulator.add_fault(FaultRule("StartCodeInterpreterSession", error=error, count=1))
    outcome = await manager_for(emulator).perform(start("uid-err"))
    assert isinstance(outcome, CallFailed)
    assert outcome.error.kind is kind
    assert outcome.error.code == error


async def test_timeout_rejected_by_agentcore_is_invalid_request(emulator: EmulatorHandle) -> None:
    outcome = await manager_for(emulator).perform(start("uid-short", timeout=30))
    assert isinstance(outcome, CallFailed) and outcome.error.kind is ErrorKind.INVALID
    assert "60" in outcome.error.message
    assert emulator.sessions() == []


async def test_unreachable_endpoint_is_unavailable() -> None:
    clients = ClientFactory(
        endpoint_url="http://127.0.0.1:9", session=dummy_boto_session(), connect_timeout=0.5, read_timeout=0.5
    )
    outcome = await SessionManager(clients, RateLimiter()).perform(start("uid-x"))
    assert isinstance(outcome, CallFailed) and outcome.error.kind is ErrorKind.UNAVAILABLE


async def test_one_sweep_lists_250_sessions_in_three_calls(emulator: EmulatorHandle) -> None:
    manager = manager_for(emulator)
    for index in range(250):
        assert isinstance(await manager.perform(start(f"uid-{index:03}")), SessionStarted)
    before = emulator.call_count("ListCodeInterpreterSessions")
    summaries = await manager.list_sessions("us-east-1", BUILTIN, status="READY")
    assert emulator.call_count("ListCodeInterpreterSessions") - before == 3
    assert len({s.session_id for s in summaries}) == 250


async def test_pacing_keeps_within_the_servers_rate() -> None:
    """Forty concurrent Gets at a 10 TPS limit: paced by us, never throttled by AgentCore."""
    config = EmulatorConfig(tps=10)
    with running_emulator(config) as emulator:
        manager = manager_for(emulator, RateLimiter(default_rate=10.0))
        started = await manager.perform(start("uid-pace"))
        assert isinstance(started, SessionStarted)
        reads = [ReadSession("us-east-1", BUILTIN, started.session_id) for _ in range(40)]
        outcomes = await asyncio.gather(*(manager.perform(read) for read in reads))
        assert all(isinstance(o, SessionSeen) for o in outcomes), outcomes
        assert emulator.call_count(outcome="ThrottlingException") == 0
        log = [r for r in emulator.emulator.call_log() if r.operation == "GetCodeInterpreterSession"]
        # Any one-second window holds at most rate + 1 calls (one token to start, then 10/s).
        times = sorted(r.at for r in log)
        densest = max(sum(1 for t in times if start_at <= t < start_at + 1.0) for start_at in times)
        assert densest <= 11


async def test_unpaced_burst_is_throttled_by_the_emulator() -> None:
    """The same burst without our pacing trips the server: the test above can fail."""
    with running_emulator(EmulatorConfig(tps=10)) as emulator:
        manager = manager_for(emulator, RateLimiter(default_rate=10_000.0))
        started = await manager.perform(start("uid-burst"))
        assert isinstance(started, SessionStarted)
        reads = [ReadSession("us-east-1", BUILTIN, started.session_id) for _ in range(40)]
        outcomes = await asyncio.gather(*(manager.perform(read) for read in reads))
        throttled = [o for o in outcomes if isinstance(o, CallFailed) and o.error.kind is ErrorKind.THROTTLED]
        assert throttled


async def test_the_fence_refuses_mutating_calls_and_lets_reads_through(emulator: EmulatorHandle) -> None:
    """Checked right before each call goes out: a Start or Stop is never sent once the
    replica may not act; reads go on (a standby may look, it may not touch)."""
    leading = [True]
    clients = ClientFactory(
        endpoint_url=emulator.endpoint_url,
        session=dummy_boto_session(),
        user_agent_extra="agentcore-operator/replica-x",
    )
    manager = SessionManager(clients, RateLimiter(default_rate=1000.0), may_mutate=lambda: leading[0])
    started = await manager.perform(start("uid-fence"))
    assert isinstance(started, SessionStarted)
    leading[0] = False
    with pytest.raises(NotLeader):
        await manager.perform(start("uid-fence-2"))
    with pytest.raises(NotLeader):
        await manager.perform(
            StopSession("us-east-1", BUILTIN, started.session_id, client_token("x", "stop"))
        )
    seen = await manager.perform(ReadSession("us-east-1", BUILTIN, started.session_id))
    assert isinstance(seen, SessionSeen)
    log = emulator.emulator.call_log()
    assert [c.operation for c in log] == ["StartCodeInterpreterSession", "GetCodeInterpreterSession"]
    assert all("agentcore-operator/replica-x" in c.user_agent.split() for c in log)


async def test_a_stopping_replica_drops_mutating_calls_still_waiting_for_their_token(
    emulator: EmulatorHandle,
) -> None:
    """Calls already sent finish; Starts queued behind the rate limiter do not hold up a handover."""
    stopping = asyncio.Event()
    clients = ClientFactory(endpoint_url=emulator.endpoint_url, session=dummy_boto_session())
    manager = SessionManager(clients, RateLimiter(default_rate=0.2), stopping=stopping)
    first = await manager.perform(start("uid-queue-1"))
    assert isinstance(first, SessionStarted)
    queued = asyncio.create_task(manager.perform(start("uid-queue-2")))  # its token is 5 s away
    await asyncio.sleep(0.2)
    stopping.set()
    with pytest.raises(NotLeader):
        await asyncio.wait_for(queued, 1)
    # A read still goes out: the Get that confirms a Start already made is how it gets recorded.
    seen = await manager.perform(ReadSession("us-east-1", BUILTIN, first.session_id))
    assert isinstance(seen, SessionSeen)
    assert [c.operation for c in emulator.emulator.call_log()] == [
        "StartCodeInterpreterSession",
        "GetCodeInterpreterSession",
    ]
