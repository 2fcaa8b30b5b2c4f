"""Run the operator in a background thread with its own event loop (tests and the demo).

The test or demo thread stays free for blocking work (the real kubectl, boto3 calls,
polling), exactly as a user's terminal is separate from the operator's pod. The same
`Operator` class as in production runs here; only its settings differ.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import boto3

from agentcore_operator.manager.operator import Operator
from agentcore_operator.manager.settings import Settings

T = TypeVar("T")


@dataclass
class SharedClock:
    """Wall time plus an offset that tests advance, shared by the operator and the emulator.

    Advancing it makes sessions expire in AgentCore's eyes and in the operator's at once,
    without waiting; asyncio timers are unaffected (sweeps keep their real pace).
    """

    offset: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.offset += seconds

    def epoch(self) -> float:
        return time.time() + self.offset

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)


def dummy_boto_session(region: str = "us-east-1") -> boto3.session.Session:
    """Static dummy credentials: the emulator checks that requests are signed, not by whom."""
    return boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLEAGENTCORE", aws_secret_access_key="emulator-secret", region_name=region
    )


@dataclass
class RunningOperator:
    operator: Operator
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop
    stop_flag: threading.Event
    errors: list[BaseException]

    def call(self, fn: Callable[[], object]) -> object:
        """Run `fn` on the operator's loop (for inspecting its state safely)."""

        async def wrapper() -> object:
            return fn()

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout=10)

    def call_async(self, fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Await `fn()` on the operator's loop (to drive one of its loops once, say)."""
        return asyncio.run_coroutine_threadsafe(fn(), self.loop).result(timeout=60)

    def stop(self, timeout: float = 30) -> None:
        self.stop_flag.set()
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise RuntimeError("operator thread did not stop")


@contextmanager
def running_operator(
    settings: Settings,
    *,
    boto_session: boto3.session.Session | None = None,
    clock: SharedClock | None = None,
    ready_timeout: float = 30,
) -> Iterator[RunningOperator]:
    """Start an operator in a thread; wait until kopf is watching; stop it on exit."""
    clock_fn = clock.now if clock is not None else None
    operator = Operator(
        settings,
        boto_session=boto_session or dummy_boto_session(settings.region),
        **({"clock": clock_fn} if clock_fn else {}),
    )
    stop_flag = threading.Event()
    ready_flag = threading.Event()
    errors: list[BaseException] = []
    loop = asyncio.new_event_loop()

    def target() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(operator.run(stop_flag=stop_flag, ready_flag=ready_flag))
        except BaseException as exc:  # surfaced to the test on exit
            errors.append(exc)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=target, name="operator", daemon=True)
    thread.start()
    handle = RunningOperator(operator, thread, loop, stop_flag, errors)
    if not ready_flag.wait(ready_timeout):
        handle.stop()
        raise RuntimeError(f"operator not ready within {ready_timeout}s: {errors}")
    try:
        yield handle
    finally:
        handle.stop()
        if errors:
            raise RuntimeError(f"operator thread failed: {errors[0]!r}") from errors[0]
