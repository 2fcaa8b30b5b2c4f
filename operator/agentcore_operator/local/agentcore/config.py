"""What the emulator is told: clock, delays, quotas, interpreters to seed, faults to inject,
and who may call it: access keys and their accounts, roles STS lets callers assume."""

from __future__ import annotations

import re
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

# The contract's (and the operator schema's) role ARN; the role's account is its 12 digits.
ROLE_ARN_RE = re.compile(r"^arn:aws(-[a-z]+)*:iam::(?P<account>[0-9]{12}):role/(?P<path>[\w+=,.@/-]{1,512})$")
ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
# IAM's default MaxSessionDuration of a role: longer DurationSeconds are refused.
DEFAULT_MAX_SESSION_DURATION = 3600

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
    account: str | None = None  # only in this account; None: in every account, as the built-in

    def __post_init__(self) -> None:
        if self.account is not None:
            check_account(self.account, "an interpreter seed's account")


def check_account(account: str, what: str) -> None:
    if not ACCOUNT_RE.match(account):
        raise ValueError(f"{what} must be a 12-digit AWS account id, got {account!r}")


def role_account(role_arn: str) -> str:
    """The 12 digits of a role ARN (ValueError for anything that is not a role ARN)."""
    found = ROLE_ARN_RE.match(role_arn)
    if found is None:
        raise ValueError(f"not an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>): {role_arn!r}")
    return found.group("account")


@dataclass(frozen=True)
class RoleSeed:
    """An IAM role STS lets callers assume: who it trusts, and the external id it requires.

    `trusted_accounts` None trusts every account the emulator knows (the common
    `"Principal": {"AWS": "arn:aws:iam::<operator account>:root"}` trust policy, loosened);
    a set trusts callers of those accounts only. `external_id` set: AssumeRole must carry
    exactly it (the `sts:ExternalId` condition). `max_session_duration` is the role's
    MaxSessionDuration (IAM's default 1 hour): a longer DurationSeconds is a ValidationError.
    """

    trusted_accounts: frozenset[str] | None = None
    external_id: str | None = None
    max_session_duration: int = DEFAULT_MAX_SESSION_DURATION

    def __post_init__(self) -> None:
        if self.trusted_accounts is not None:
            object.__setattr__(self, "trusted_accounts", frozenset(self.trusted_accounts))
            for account in self.trusted_accounts:
                check_account(account, "a trusted account")
        if not 3600 <= self.max_session_duration <= 43200:
            raise ValueError(
                f"max_session_duration must be within 3600..43200, got {self.max_session_duration}"
            )


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
    account: str | None = None  # only calls by this account's credentials; None: every account

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
        if self.account is not None:
            check_account(self.account, "a fault's account")

    def matches(self, operation: str, account: str) -> bool:
        return self.operation in ("*", operation) and self.account in (None, account)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        known = {"operation", "error", "rate", "latency", "latency_after", "count", "message", "account"}
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
            "account": self.account,
        }


@dataclass
class EmulatorConfig:
    """Everything configurable; the defaults behave like a fresh AWS account."""

    clock: Callable[[], float] = field(default_factory=EmulatorClock)
    account: str = "123456789012"  # the dummy key's account, and every key's when `accounts` is empty
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
    # Access key id -> account id. Empty: any access key is `account`'s (no one is turned
    # away). Set: only these keys and the dummy key (`account`'s unless mapped here) are
    # known, any other is 403 UnrecognizedClientException.
    accounts: Mapping[str, str] = field(default_factory=dict)
    roles: Mapping[str, RoleSeed | Mapping[str, Any]] = field(default_factory=dict)  # role ARN -> seed
    # Caps the lifetime of credentials STS issues (None: DurationSeconds as asked, default 3600).
    credential_lifetime_seconds: float | None = None

    def __post_init__(self) -> None:
        check_account(self.account, "account")
        for key, account in self.accounts.items():
            check_account(account, f"the account of access key {key}")
        for arn in self.roles:
            role_account(arn)
        self.role_seeds()  # a bad seed is refused here, not at the first AssumeRole
        if self.credential_lifetime_seconds is not None and self.credential_lifetime_seconds <= 0:
            raise ValueError(
                f"credential_lifetime_seconds must be positive, got {self.credential_lifetime_seconds}"
            )

    def role_seeds(self) -> dict[str, RoleSeed]:
        return {
            arn: value if isinstance(value, RoleSeed) else RoleSeed(**dict(value))
            for arn, value in self.roles.items()
        }

    def seeds(self) -> dict[str, InterpreterSeed]:
        return {
            key: value if isinstance(value, InterpreterSeed) else InterpreterSeed(**dict(value))
            for key, value in self.interpreters.items()
        }

    def rate_for(self, operation: str) -> float:
        return float(self.tps_overrides.get(operation, self.tps)) if self.tps > 0 else 0.0
