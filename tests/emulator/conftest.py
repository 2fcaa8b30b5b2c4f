"""Fixtures: an emulator over a real socket, with a clock the test moves, and boto3 clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from agentcore_operator.local.agentcore import EmulatorClock, EmulatorConfig
from agentcore_operator.local.agentcore.testing import EmulatorHandle, running_emulator

BUILTIN = "aws.codeinterpreter.v1"
CUSTOM = "datasci_vpc-a1b2c3d4e5"
TOKEN = "token-0123456789abcdef0123456789abcdef"


@pytest.fixture
def clock() -> EmulatorClock:
    return EmulatorClock()


StartEmulator = Callable[..., EmulatorHandle]


@pytest.fixture
def start_emulator(clock: EmulatorClock) -> Iterator[StartEmulator]:
    """Start an emulator with config overrides; it stops when the test ends."""
    contexts: list[Any] = []

    def start(**overrides: Any) -> EmulatorHandle:
        overrides.setdefault("clock", clock)
        overrides.setdefault("tps", 0)
        context = running_emulator(EmulatorConfig(**overrides))
        contexts.append(context)
        handle: EmulatorHandle = context.__enter__()
        return handle

    yield start
    for context in reversed(contexts):
        context.__exit__(None, None, None)


@pytest.fixture
def emulator(start_emulator: StartEmulator) -> EmulatorHandle:
    return start_emulator()


@pytest.fixture
def data(emulator: EmulatorHandle) -> Any:
    return emulator.client("bedrock-agentcore")


@pytest.fixture
def control(emulator: EmulatorHandle) -> Any:
    return emulator.client("bedrock-agentcore-control")
