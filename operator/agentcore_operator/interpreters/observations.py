"""What the interpreter adapter saw: one observation per call, failures included."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agentcore_operator.controller.observations import CallFailed


@dataclass(frozen=True)
class InterpreterCreated:
    """CreateCodeInterpreter answered (a new interpreter, or the same one for a known clientToken)."""

    interpreter_id: str
    arn: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class InterpreterDescribed:
    """GetCodeInterpreter answered."""

    interpreter_id: str
    arn: str
    status: str
    created_at: datetime
    failure_reason: str | None = None


@dataclass(frozen=True)
class InterpreterGone:
    """GetCodeInterpreter or DeleteCodeInterpreter said ResourceNotFoundException."""


@dataclass(frozen=True)
class DeleteAccepted:
    """DeleteCodeInterpreter answered with the interpreter's status (DELETING, or DELETED)."""

    status: str


@dataclass(frozen=True)
class TagsSeen:
    """ListTagsForResource answered."""

    tags: dict[str, str]


@dataclass(frozen=True)
class TagsChanged:
    """TagResource or UntagResource succeeded: the tags now on the interpreter."""

    tags: dict[str, str]


InterpreterObservation = (
    InterpreterCreated
    | InterpreterDescribed
    | InterpreterGone
    | DeleteAccepted
    | TagsSeen
    | TagsChanged
    | CallFailed
)
