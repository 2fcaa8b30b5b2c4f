"""Injected faults: fail matching requests with an API server error, for resilience tests.

A fault matches by method and path, and optionally by WHO is asking: a user agent
pattern or a bearer token. That cuts one client off (a network partition between one
replica and the API server) while every other client carries on, which is what a
leader-election test needs: the leader loses the API server, the standby does not.
Faults apply to new requests; a watch stream already open is not cut.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

REASONS = {
    500: "InternalError",
    503: "ServiceUnavailable",
    429: "TooManyRequests",
    504: "Timeout",
}


@dataclass
class Fault:
    """Fail matching requests: the next `remaining` of them (None: all), each with probability `rate`."""

    method: str
    path: re.Pattern[str]
    status: int
    remaining: int | None
    rate: float = 1.0
    message: str = "injected fault"
    user_agent: re.Pattern[str] | None = None  # only clients whose User-Agent matches
    token: str | None = None  # only clients sending `Authorization: Bearer <token>`

    def to_dict(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "method": self.method,
            "path": self.path.pattern,
            "status": self.status,
            "remaining": self.remaining,
            "rate": self.rate,
        }
        if self.user_agent is not None:
            described["userAgent"] = self.user_agent.pattern
        if self.token is not None:
            described["token"] = "(set)"  # a credential is never echoed back
        return described

    def matches(self, request: web.Request) -> bool:
        if self.method not in ("*", request.method) or not self.path.search(request.path):
            return False
        if self.user_agent is not None and not self.user_agent.search(request.headers.get("User-Agent", "")):
            return False
        if self.token is not None:
            scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or presented.strip() != self.token:
                return False
        return True


def fault_from_json(data: Any) -> Fault:
    """A fault from the body of POST /_cluster/faults; KeyError/TypeError/ValueError/re.error if bad."""
    if not isinstance(data, dict):
        raise TypeError("the body must be a JSON object")
    count = data.get("count", 1)
    agent = data.get("userAgent")
    token = data.get("token")
    if token is not None and not isinstance(token, str):
        raise TypeError("token must be a string")
    return Fault(
        str(data.get("method", "*")).upper(),
        re.compile(data["path"]),
        int(data["status"]),
        None if count is None else int(count),
        float(data.get("rate", 1.0)),
        user_agent=re.compile(agent) if agent is not None else None,
        token=token,
    )


def triggered(faults: list[Fault], request: web.Request, rng: random.Random) -> Fault | None:
    """The first fault that hits this request (its count goes down; spent faults are removed)."""
    for fault in list(faults):
        if not fault.matches(request):
            continue
        if fault.rate < 1.0 and rng.random() >= fault.rate:
            continue
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.remove(fault)
        return fault
    return None
