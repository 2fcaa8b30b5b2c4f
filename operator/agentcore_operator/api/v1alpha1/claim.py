"""Typed spec and status of a CodeInterpreterSessionClaim, mirroring crds/agentcore.dev_codeinterpretersessionclaims.yaml.

The labels of a pooled child and the pool's kind are the pool's (api/v1alpha1/pool.py,
contract.md #17). As with every kind, the spec reader re-checks what the schema enforces,
so an object that skipped validation becomes a Failed status, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from agentcore_operator.api.v1alpha1.types import (
    Condition,
    HasConditions,
    SpecError,
    bounded,
    format_time,
    parse_time,
    spec_and_meta,
)

CLAIM_PLURAL = "codeinterpretersessionclaims"
CLAIM_KIND = "CodeInterpreterSessionClaim"
MAX_SECONDS = 2**31 - 1


class ClaimPhase(StrEnum):
    PENDING = "Pending"
    BOUND = "Bound"
    FAILED = "Failed"


class LaunchType(StrEnum):
    WARM = "Warm"
    COLD = "Cold"


@dataclass(frozen=True)
class ClaimSpec:
    pool: str
    ttl_seconds_after_bound: int | None = None
    shutdown_time: datetime | None = None
    ttl_seconds_unbound: int | None = None

    @classmethod
    def from_resource(cls, body: dict[str, Any]) -> ClaimSpec:
        """Read and check the spec of a resource body; raise SpecError with a user-facing message."""
        spec, _ = spec_and_meta(body)
        ref = spec.get("poolRef")
        pool = ref.get("name") if isinstance(ref, dict) else None
        if not isinstance(pool, str) or not pool:
            raise SpecError("spec.poolRef.name must name a CodeInterpreterSessionPool")
        after_bound = _seconds(spec, "ttlSecondsAfterBound")
        shutdown = spec.get("shutdownTime")
        shutdown_time = parse_time(shutdown)
        if shutdown is not None and shutdown_time is None:
            raise SpecError(f"spec.shutdownTime {shutdown!r} is not an RFC 3339 time")
        if after_bound is not None and shutdown_time is not None:
            raise SpecError("spec.ttlSecondsAfterBound and spec.shutdownTime are mutually exclusive")
        return cls(pool, after_bound, shutdown_time, _seconds(spec, "ttlSecondsUnbound"))


def _seconds(spec: dict[str, Any], key: str) -> int | None:
    """An optional count of seconds: None when unset."""
    return None if spec.get(key) is None else bounded(spec, key, 0, 0, MAX_SECONDS)


# The status's plain string members: (attribute, key in .status).
STATUS_STRINGS = (
    ("session_name", "sessionName"),
    ("session_id", "sessionId"),
    ("message", "message"),
)


@dataclass(frozen=True)
class ClaimStatus(HasConditions):
    """What the operator last recorded about the claim (the resource's .status)."""

    phase: ClaimPhase | None = None
    session_name: str | None = None
    session_id: str | None = None
    expires_at: datetime | None = None
    launch_type: LaunchType | None = None
    bound_at: datetime | None = None
    observed_generation: int | None = None
    message: str | None = None
    conditions: tuple[Condition, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The status as written to the API: unset members are left out, not nulled."""
        out: dict[str, Any] = {key: getattr(self, attr) for attr, key in STATUS_STRINGS}
        out["phase"] = self.phase.value if self.phase else None
        out["launchType"] = self.launch_type.value if self.launch_type else None
        out["expiresAt"] = format_time(self.expires_at) if self.expires_at else None
        out["boundAt"] = format_time(self.bound_at) if self.bound_at else None
        out["observedGeneration"] = self.observed_generation
        out["conditions"] = [c.to_dict() for c in self.conditions] or None
        return {key: value for key, value in out.items() if value is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ClaimStatus:
        data = data or {}
        strings = {
            attr: data.get(key) if isinstance(data.get(key), str) else None for attr, key in STATUS_STRINGS
        }
        phase, launch, generation = data.get("phase"), data.get("launchType"), data.get("observedGeneration")
        return cls(
            phase=ClaimPhase(phase) if phase in set(ClaimPhase) else None,
            launch_type=LaunchType(launch) if launch in set(LaunchType) else None,
            expires_at=parse_time(data.get("expiresAt")),
            bound_at=parse_time(data.get("boundAt")),
            observed_generation=generation if isinstance(generation, int) else None,
            conditions=tuple(
                Condition.from_dict(c) for c in data.get("conditions") or () if isinstance(c, dict)
            ),
            **strings,
        )
