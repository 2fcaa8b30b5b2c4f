"""What every kind's pure `decide()` returns, and the actions the runtime performs itself.

A kind's decision module defines its own AWS actions and status type; the finalizer
actions, events and the decision's shape are common, so the reconcile loop
(runtime/reconcile.py) can carry out any kind's decision without knowing the kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

StatusT = TypeVar("StatusT")
ActionT = TypeVar("ActionT")


@dataclass(frozen=True)
class AddFinalizer:
    pass


@dataclass(frozen=True)
class RemoveFinalizer:
    pass


@dataclass(frozen=True)
class EventNote:
    """A Kubernetes event to post about the resource."""

    type: str  # Normal or Warning
    reason: str
    message: str


@dataclass(frozen=True)
class Decision(Generic[StatusT, ActionT]):
    """What to do next and the status that results.

    `requeue_after` asks to be called again after that many seconds; with `backoff` the
    runtime stretches it by the key's consecutive failures. No requeue means: wait for a
    watch event or a sweep.
    """

    action: ActionT | AddFinalizer | RemoveFinalizer | None
    status: StatusT
    requeue_after: float | None = None
    backoff: bool = False
    events: tuple[EventNote, ...] = ()
