"""Integration fixtures: the real operator, in a thread, against both local stand-ins over HTTP."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

import pytest
from agentcore_operator.controller.state_machine import Timing
from agentcore_operator.local.agentcore import EmulatorConfig
from agentcore_operator.local.agentcore.testing import EmulatorHandle, running_emulator
from agentcore_operator.local.cluster.testing import ClusterHandle, running_cluster
from agentcore_operator.local.harness import RunningOperator, SharedClock, running_operator
from agentcore_operator.manager.settings import Settings

FAST_TIMING = Timing(
    start_poll_seconds=0.2,
    start_settle_seconds=0.1,
    interpreter_poll_seconds=0.3,
    quota_retry_seconds=1.0,
    access_denied_retry_seconds=0.5,
    stop_failure_retry_seconds=0.5,
)


@pytest.fixture
def clock() -> SharedClock:
    return SharedClock()


@pytest.fixture
def emulator_config(clock: SharedClock, request: pytest.FixtureRequest) -> EmulatorConfig:
    """The emulator's settings; a test overrides them with indirect parametrization."""
    overrides: dict[str, Any] = getattr(request, "param", {})
    return EmulatorConfig(clock=clock.epoch, **overrides)


@pytest.fixture
def emulator(emulator_config: EmulatorConfig) -> Iterator[EmulatorHandle]:
    with running_emulator(emulator_config) as handle:
        yield handle


@pytest.fixture
def cluster() -> Iterator[ClusterHandle]:
    with running_cluster() as handle:
        yield handle


@pytest.fixture
def settings(cluster: ClusterHandle, emulator: EmulatorHandle) -> Settings:
    return Settings(
        region="us-east-1",
        endpoint_url=emulator.endpoint_url,
        kubeconfig=str(cluster.kubeconfig),
        http_host="127.0.0.1",
        http_port=0,
        sweep_interval=0.5,
        ledger_namespace="default",
        ledger_flush_interval=0.2,
        timing=FAST_TIMING,
        retry_backoff_cap_seconds=8.0,
    )


StartOperator = Callable[..., AbstractContextManager[RunningOperator]]


@pytest.fixture
def start_operator(settings: Settings, clock: SharedClock) -> StartOperator:
    """Start (or restart) the operator; keyword arguments override settings."""

    def start(**overrides: Any) -> AbstractContextManager[RunningOperator]:
        return running_operator(replace(settings, **overrides), clock=clock)

    return start


@pytest.fixture
def operator(start_operator: StartOperator) -> Iterator[RunningOperator]:
    with start_operator() as running:
        yield running


def eventually(
    check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1, message: str = ""
) -> Any:
    """Poll until `check()` returns something truthy; fail with the last value otherwise."""
    deadline = time.monotonic() + timeout
    value: Any = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not true within {timeout}s: {message} (last: {value!r})")


def session_manifest(name: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "agentcore.dev/v1alpha1",
        "kind": "CodeInterpreterSession",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


class Collect(logging.Handler):
    """Keeps every formatted log line, exactly as it would be shipped."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def production_logging() -> Iterator[Collect]:
    """The operator's own logging setup, at debug level and in JSON, with a collecting handler."""
    from agentcore_operator.manager.logs import JsonFormatter, configure_logging

    root = logging.getLogger()
    names = ("botocore", "boto3", "urllib3", "kubernetes", "aiohttp.access", "kopf")
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in names})
    configure_logging("json", "debug")
    collect = Collect()
    collect.setFormatter(JsonFormatter())
    root.addHandler(collect)
    try:
        yield collect
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)
