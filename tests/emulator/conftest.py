"""Fixtures: an emulator over a real socket, with a clock the test moves, and boto3 clients.

Every test talks to the emulator the way a user's program does: a real boto3 client with
`endpoint_url`, over a real socket, with botocore's parameter validation on unless a test
says otherwise (to send what botocore would refuse, or does not check: it validates only
minimums, never maximums or patterns).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
import requests
from agentcore_operator.local.agentcore import AgentCoreEmulator, EmulatorClock, EmulatorConfig
from agentcore_operator.local.agentcore.testing import EmulatorHandle, running_emulator
from agentcore_operator.local.background import serving_in_thread
from botocore.exceptions import ClientError

BUILTIN = "aws.codeinterpreter.v1"
BUILTIN_ARN = f"arn:aws:bedrock-agentcore:us-east-1:aws:code-interpreter/{BUILTIN}"
CUSTOM = "datasci_vpc-a1b2c3d4e5"
ACCOUNT = "123456789012"
CUSTOM_ARN = f"arn:aws:bedrock-agentcore:us-east-1:{ACCOUNT}:code-interpreter-custom/{CUSTOM}"
TOKEN = "token-0123456789abcdef0123456789abcdef"  # the model's clientToken: 33..256 characters


def token(n: int) -> str:
    """A distinct valid clientToken."""
    return f"{TOKEN}-{n}"


class FakeMonotonic:
    """The throttle's clock, moved by the test: token buckets refill only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FrozenClock:
    """An emulator clock that stands still until the test moves it: exact boundaries."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def serve(emulator: AgentCoreEmulator) -> Iterator[EmulatorHandle]:
    """Serve an emulator built by the test (for constructor arguments running_emulator lacks)."""
    with serving_in_thread(lambda: emulator.serving(), "agentcore-emulator") as (serving, _):
        yield EmulatorHandle(serving.endpoint_url, emulator)


@pytest.fixture
def clock() -> EmulatorClock:
    return EmulatorClock()


StartEmulator = Callable[..., EmulatorHandle]


@pytest.fixture
def start_emulator(clock: EmulatorClock) -> Iterator[StartEmulator]:
    """Start an emulator with config overrides (default: the test's clock, no throttling).

    `monotonic=` injects the throttle's clock. Every emulator stops when the test ends.
    """
    contexts: list[AbstractContextManager[EmulatorHandle]] = []

    def start(*, monotonic: Callable[[], float] | None = None, **overrides: Any) -> EmulatorHandle:
        overrides.setdefault("clock", clock)
        overrides.setdefault("tps", 0)
        config = EmulatorConfig(**overrides)
        context = (
            running_emulator(config)
            if monotonic is None
            else serve(AgentCoreEmulator(config, monotonic=monotonic))
        )
        handle = context.__enter__()
        contexts.append(context)
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


# -- helpers -------------------------------------------------------------------------------


def error_of(call: Callable[[], Any]) -> dict[str, Any]:
    """The parsed error response of a call that must fail."""
    with pytest.raises(ClientError) as caught:
        call()
    response: dict[str, Any] = caught.value.response
    return response


def code_of(call: Callable[[], Any]) -> tuple[str, int]:
    """(Error.Code, HTTP status) of a call that must fail."""
    response = error_of(call)
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def outcome(call: Callable[[], Any]) -> str:
    """ "ok" or the error code."""
    try:
        call()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "ok"


def start(data: Any, **params: Any) -> dict[str, Any]:
    """StartCodeInterpreterSession on the built-in interpreter unless told otherwise."""
    params.setdefault("codeInterpreterIdentifier", BUILTIN)
    result: dict[str, Any] = data.start_code_interpreter_session(**params)
    return result


def get(data: Any, session_id: str, interpreter: str = BUILTIN) -> dict[str, Any]:
    result: dict[str, Any] = data.get_code_interpreter_session(
        codeInterpreterIdentifier=interpreter, sessionId=session_id
    )
    return result


def stop(data: Any, session_id: str, interpreter: str = BUILTIN, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = data.stop_code_interpreter_session(
        codeInterpreterIdentifier=interpreter, sessionId=session_id, **params
    )
    return result


def listed(data: Any, interpreter: str = BUILTIN, **params: Any) -> list[str]:
    """Session ids of one List page."""
    page = data.list_code_interpreter_sessions(codeInterpreterIdentifier=interpreter, **params)
    return [item["sessionId"] for item in page["items"]]


def introspect(handle: EmulatorHandle, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A plain (unsigned) HTTP call to /_emulator/..."""
    return requests.request(method, f"{handle.endpoint_url}/_emulator/{path}", timeout=10, **kwargs)
