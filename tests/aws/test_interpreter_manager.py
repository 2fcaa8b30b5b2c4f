"""The interpreter adapter against the AgentCore emulator over HTTP: one observation per call,
paced by the same limiter and counted by the same metrics as the session calls."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from agentcore_operator.aws.clients import ClientFactory
from agentcore_operator.aws.sessions import SessionManager
from agentcore_operator.controller.observations import CallFailed, InterpreterMissing
from agentcore_operator.interpreters.adapter import InterpreterManager
from agentcore_operator.interpreters.decision import InterpreterCall, create_token
from agentcore_operator.interpreters.observations import (
    CREATE,
    DELETE,
    GET,
    LIST_TAGS,
    TAG,
    UNTAG,
    InterpreterAnswer,
    TagsKnown,
)
from agentcore_operator.local.agentcore import EmulatorConfig
from agentcore_operator.local.agentcore.testing import EmulatorHandle, running_emulator
from agentcore_operator.local.harness import dummy_boto_session
from agentcore_operator.manager.metrics import Metrics
from agentcore_operator.runtime.errors import ErrorKind
from agentcore_operator.runtime.ratelimit import CONTROL_PLANE_WRITE_TPS, RateLimiter

REGION = "us-east-1"


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    with running_emulator(EmulatorConfig(tps=0)) as handle:
        yield handle


def adapter(
    emulator: EmulatorHandle, limiter: RateLimiter, metrics: Metrics | None = None
) -> InterpreterManager:
    clients = ClientFactory(endpoint_url=emulator.endpoint_url, session=dummy_boto_session())
    return InterpreterManager(SessionManager(clients, limiter, metrics))


def create(uid: str, name: str) -> InterpreterCall:
    params = {
        "name": name,
        "networkConfiguration": {"networkMode": "SANDBOX"},
        "clientToken": create_token(uid),
    }
    return InterpreterCall(CREATE, REGION, {**params, "tags": {"team": "a"}})


async def test_create_get_tag_delete_round_trip(emulator: EmulatorHandle) -> None:
    metrics = Metrics()
    manager = adapter(emulator, RateLimiter(default_rate=1000.0), metrics)
    made = await manager.perform(create("uid-1", "tools"))
    assert (
        isinstance(made, InterpreterAnswer)
        and made.status == "READY"
        and made.arn.endswith(made.interpreter_id)
    )
    again = await manager.perform(create("uid-1", "tools"))
    assert again == made  # the token: one interpreter however often the Create is sent
    got = await manager.perform(InterpreterCall(GET, REGION, {"codeInterpreterId": made.interpreter_id}))
    assert isinstance(got, InterpreterAnswer) and got.operation == GET and got.created_at == made.created_at
    arn = {"resourceArn": made.arn}
    assert await manager.perform(InterpreterCall(LIST_TAGS, REGION, arn)) == TagsKnown({"team": "a"})
    tagged = await manager.perform(
        InterpreterCall(TAG, REGION, {**arn, "tags": {"x": "1"}}, {"team": "a", "x": "1"})
    )
    assert tagged == TagsKnown({"team": "a", "x": "1"})
    await manager.perform(InterpreterCall(UNTAG, REGION, {**arn, "tagKeys": ["team", "x"]}, {}))
    assert emulator.emulator.backend.interpreters()[-1]["tags"] == {}
    deleted = await manager.perform(
        InterpreterCall(
            DELETE, REGION, {"codeInterpreterId": made.interpreter_id, "clientToken": create_token("d")}
        )
    )
    assert isinstance(deleted, InterpreterAnswer) and deleted.status == "DELETED"
    gone = await manager.perform(InterpreterCall(GET, REGION, {"codeInterpreterId": made.interpreter_id}))
    assert gone == InterpreterMissing()
    assert metrics.api_calls.labels(CREATE, "Success")._value.get() == 2


async def test_failures_are_classified_observations(emulator: EmulatorHandle) -> None:
    manager = adapter(emulator, RateLimiter(default_rate=1000.0))
    await manager.perform(create("uid-1", "taken"))
    conflict = await manager.perform(create("uid-2", "taken"))  # another token, the same name
    assert isinstance(conflict, CallFailed) and conflict.error.kind is ErrorKind.CONFLICT
    missing_tags = await manager.perform(
        InterpreterCall(
            LIST_TAGS,
            REGION,
            {
                "resourceArn": "arn:aws:bedrock-agentcore:us-east-1:123456789012:code-interpreter-custom/none-a1b2c3d4e5"
            },
        )
    )
    assert isinstance(missing_tags, CallFailed) and missing_tags.error.kind is ErrorKind.NOT_FOUND


async def test_creates_are_paced_at_the_control_planes_five_per_second(emulator: EmulatorHandle) -> None:
    manager = adapter(emulator, RateLimiter(CONTROL_PLANE_WRITE_TPS, default_rate=1000.0))
    answers = await asyncio.gather(*(manager.perform(create(f"uid-{i}", f"paced_{i}")) for i in range(4)))
    assert all(isinstance(a, InterpreterAnswer) for a in answers)
    # Sent at once, they reach AgentCore one token apart (0.2 s at 5 TPS): the four arrivals
    # span about 0.6 s (a lower bound with room for jitter; a loaded machine only spreads them).
    arrivals = [r.at for r in emulator.emulator.call_log() if r.operation == CREATE]
    assert len(arrivals) == 4 and max(arrivals) - min(arrivals) >= 0.4
