"""What the interpreter adapter saw: one observation per call, failures included.

A Create, Get or Delete all answer with the interpreter's state, so one `InterpreterAnswer`
(naming the operation) stands for the three; every tag call ends in the tags now known.
A Get or Delete of an interpreter that does not exist is the session's `InterpreterMissing`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agentcore_operator.controller.observations import CallFailed, InterpreterMissing

CREATE = "CreateCodeInterpreter"
GET = "GetCodeInterpreter"
DELETE = "DeleteCodeInterpreter"
LIST_TAGS = "ListTagsForResource"
TAG = "TagResource"
UNTAG = "UntagResource"


@dataclass(frozen=True)
class InterpreterAnswer:
    """CreateCodeInterpreter, GetCodeInterpreter or DeleteCodeInterpreter answered."""

    operation: str
    status: str  # AgentCore's: CREATING, READY, CREATE_FAILED, DELETING, DELETED, ...
    interpreter_id: str = ""
    arn: str = ""  # Delete's answer has none
    created_at: datetime | None = None
    failure_reason: str | None = None


@dataclass(frozen=True)
class TagsKnown:
    """The interpreter's tags: read (ListTagsForResource) or just set (TagResource, UntagResource)."""

    tags: dict[str, str]


InterpreterObservation = InterpreterAnswer | TagsKnown | InterpreterMissing | CallFailed
