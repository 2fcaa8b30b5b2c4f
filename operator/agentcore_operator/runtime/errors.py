"""Error classes shared by every AWS resource manager.

The adapter turns each failed call into one `ApiError` with a `kind`; everything
downstream (state machine, conditions, requeue, metrics) decides on the kind alone and
never looks at botocore exceptions. This mirrors ACK's runtime: classify once, at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorKind(StrEnum):
    THROTTLED = "Throttled"  # 429: slow down and retry
    QUOTA_EXCEEDED = "QuotaExceeded"  # 402: wait for capacity, retry
    UNAVAILABLE = "AWSUnavailable"  # 5xx, timeouts, connection errors: retry with backoff
    ACCESS_DENIED = "AccessDenied"  # 403: show it; retry slowly, credentials may come back
    INVALID = "InvalidRequest"  # 400: retrying the same call gives the same answer
    NOT_FOUND = "NotFound"  # 404
    CONFLICT = "Conflict"  # 409: a concurrent or contradicting request
    UNKNOWN = "UnknownError"  # anything else: treat as transient, but say so


RETRYABLE_KINDS = frozenset(
    {
        ErrorKind.THROTTLED,
        ErrorKind.QUOTA_EXCEEDED,
        ErrorKind.UNAVAILABLE,
        ErrorKind.ACCESS_DENIED,
        ErrorKind.CONFLICT,
        ErrorKind.UNKNOWN,
    }
)


@dataclass(frozen=True)
class ApiError(Exception):
    """A classified failure of one remote call."""

    kind: ErrorKind
    operation: str
    code: str
    message: str
    http_status: int | None = None

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS

    def __str__(self) -> str:
        return f"{self.operation}: {self.code}: {self.message}"
