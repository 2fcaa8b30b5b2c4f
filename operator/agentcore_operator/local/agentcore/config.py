"""What the emulator is told: clock, delays, quotas, interpreters to seed, faults to inject."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentcore_operator.local.agentcore.wire import CONTROL_OPERATIONS, DATA_OPERATIONS

# Published quotas, per account and region (see docs/emulator.md for the source).
DEFAULT_MAX_SESSIONS = 1000
DEFAULT_TPS = 30.0
SLOW_OPERATIONS_TPS = {"CreateCodeInterpreter": 5.0, "DeleteCodeInterpreter": 5.0}

# The HTTP status of each fault kind; the same as the models give these error codes.
FAULT_KINDS: dict[str, int] = {
    "InternalServerException": 500,
    "ThrottlingException": 429,
    "ServiceQuotaExceededException": 402,
    "AccessDeniedException": 403,
    "ValidationException": 400,
    "ResourceNotFoundException": 404,
    "ConflictException": 409,
}


class EmulatorClock:
    """Wall time plus an offset that `advance` moves forward (sessions expire without sleeps)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds


@dataclass(frozen=True)
class InterpreterSeed:
    """A custom interpreter that exists from the start (CREATING until `create_delay` passes)."""

    create_delay: float = 0.0
    failure_reason: str | None = None  # set: the interpreter ends CREATE_FAILED with this reason
    network_mode: str = "PUBLIC"
    name: str | None = None  # default: the id without its random suffix


@dataclass(frozen=True)
class FaultRule:
    """Make matching calls fail (with `error`) or slow down (by `latency` seconds).

    `rate` is the probability a matching call is hit, drawn from the emulator's seeded
    random generator, so a run reproduces. `count` limits how many calls the rule hits.
    With `latency_after`, the call is carried out first and the answer delayed: the
    caller times out or dies while AWS has already acted, the hardest case for clients.
    With `latency_after` and an `error`, the call is carried out and then answered with
    the error: a lost answer, as a 500 from a gateway after the service acted.
    """

    operation: str = "*"
    error: str | None = None
    rate: float = 1.0
    latency: float = 0.0
    latency_after: bool = False
    count: int | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        if self.error is not None and self.error not in FAULT_KINDS:
            raise ValueError(f"unknown fault error {self.error!r}; one of {', '.join(FAULT_KINDS)}")
        if self.operation != "*" and self.operation not in (*DATA_OPERATIONS, *CONTROL_OPERATIONS):
            raise ValueError(
                f"unknown fault operation {self.operation!r}; one of *, "
                f"{', '.join((*DATA_OPERATIONS, *CONTROL_OPERATIONS))}"
            )
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be within 0..1, got {self.rate}")

    def matches(self, operation: str) -> bool:
        return self.operation in ("*", operation)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        known = {"operation", "error", "rate", "latency", "latency_after", "count", "message"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "error": self.error,
            "rate": self.rate,
            "latency": self.latency,
            "latency_after": self.latency_after,
            "count": self.count,
            "message": self.message,
        }


@dataclass
class EmulatorConfig:
    """Everything configurable; the defaults behave like a fresh AWS account."""

    clock: Callable[[], float] = field(default_factory=EmulatorClock)
    account: str = "123456789012"
    start_delay: float = 0.0  # seconds from Start until the session is READY
    create_delay: float = 0.0  # seconds a CreateCodeInterpreter stays CREATING
    fail_create: frozenset[str] = frozenset()  # interpreter names that end CREATE_FAILED
    interpreters: Mapping[str, InterpreterSeed | Mapping[str, Any]] = field(default_factory=dict)
    max_sessions: int = DEFAULT_MAX_SESSIONS  # concurrent active sessions per account and region
    tps: float = DEFAULT_TPS  # per operation, per region; 0 turns throttling off
    tps_overrides: Mapping[str, float] = field(default_factory=lambda: dict(SLOW_OPERATIONS_TPS))
    terminated_retention: float | None = None  # seconds TERMINATED sessions stay visible; None: forever
    faults: Sequence[FaultRule] = ()
    seed: int = 0
    invoke_timeout: float = 30.0  # seconds one InvokeCodeInterpreter tool call may run
    output_cap: int = 1024**2  # characters of stdout (and of stderr) one call returns

    def seeds(self) -> dict[str, InterpreterSeed]:
        return {
            key: value if isinstance(value, InterpreterSeed) else InterpreterSeed(**dict(value))
            for key, value in self.interpreters.items()
        }

    def rate_for(self, operation: str) -> float:
        return float(self.tps_overrides.get(operation, self.tps)) if self.tps > 0 else 0.0
