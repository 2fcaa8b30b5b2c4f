"""The Ready condition, set the same way by every kind's `decide()`.

A status has a phase, a message and conditions (api/v1alpha1's HasConditions); the Ready
condition carries the reason a user reads in `kubectl get -o wide` and the label of the
reconcile-error metric. An event is posted when that reason changes, never on a retry.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast

from agentcore_operator.api.v1alpha1.types import Condition
from agentcore_operator.runtime.decision import EventNote

READY = "Ready"


class ConditionedStatus(Protocol):
    @property
    def observed_generation(self) -> int | None: ...

    def condition(self, type_: str) -> Condition | None: ...


StatusT = TypeVar("StatusT", bound=ConditionedStatus)


def with_condition(
    status: StatusT, type_: str, true: bool, reason: str, message: str, now: datetime
) -> StatusT:
    """The status with one condition set (its lastTransitionTime kept if its status holds)."""
    condition = Condition(
        type=type_,
        status="True" if true else "False",
        reason=reason,
        message=message,
        last_transition_time=now,
        observed_generation=status.observed_generation,
    )
    updated: StatusT = cast(Any, status).with_condition(condition)
    return updated


def with_ready(
    status: StatusT, phase: object, reason: str, message: str, now: datetime, *, ready: bool = False
) -> StatusT:
    """The status with a phase, message and Ready condition (its time kept if its status holds)."""
    moved: StatusT = replace(cast(Any, status), phase=phase, message=message)
    return with_condition(moved, READY, ready, reason, message, now)


def ready_reason(status: ConditionedStatus) -> str | None:
    condition = status.condition(READY)
    return condition.reason if condition else None


def on_transition(old: ConditionedStatus, new: ConditionedStatus, event: EventNote) -> tuple[EventNote, ...]:
    """Post an event only when the reason changes, so retries do not flood `kubectl describe`."""
    return (event,) if ready_reason(old) != ready_reason(new) else ()
