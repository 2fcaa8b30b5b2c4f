"""The code interpreter resource manager: Create, Get, Delete and the tag calls (ACK's CRUD).

One method per action of the decision, one observation per call; nothing here decides.
Every call goes through the session manager's paced caller (aws/sessions.py), so both
kinds share one rate limiter, one thread pool and one set of call metrics.
"""

from __future__ import annotations

import functools
from typing import Any

from agentcore_operator.aws.sessions import SessionManager
from agentcore_operator.controller.observations import CallFailed
from agentcore_operator.interpreters.decision import (
    CreateInterpreter,
    DeleteInterpreter,
    InterpreterAction,
    ReadInterpreter,
    ReadTags,
    TagInterpreter,
    UntagInterpreter,
)
from agentcore_operator.interpreters.observations import (
    DeleteAccepted,
    InterpreterCreated,
    InterpreterDescribed,
    InterpreterGone,
    InterpreterObservation,
    TagsChanged,
    TagsSeen,
)
from agentcore_operator.runtime.errors import ApiError, ErrorKind


class InterpreterManager:
    """AgentCore control-plane calls for code interpreters."""

    def __init__(self, caller: SessionManager) -> None:
        self._caller = caller

    async def perform(self, action: InterpreterAction) -> InterpreterObservation:
        try:
            match action:
                case CreateInterpreter():
                    return await self.create(action)
                case ReadInterpreter():
                    return await self.read(action)
                case DeleteInterpreter():
                    return await self.delete(action)
                case ReadTags():
                    return await self.read_tags(action)
                case TagInterpreter():
                    return await self.tag(action)
                case UntagInterpreter():
                    return await self.untag(action)
        except ApiError as error:
            return CallFailed(error)
        raise AssertionError(f"unknown action {action!r}")  # pragma: no cover

    def _control(self, region: str) -> Any:
        return self._caller.clients.control(region)

    async def create(self, action: CreateInterpreter) -> InterpreterObservation:
        control = self._control(action.region)
        response = await self._caller.call(
            action.region,
            "CreateCodeInterpreter",
            functools.partial(control.create_code_interpreter, **action.request),
        )
        return InterpreterCreated(
            str(response["codeInterpreterId"]),
            str(response["codeInterpreterArn"]),
            str(response["status"]),
            response["createdAt"],
        )

    async def read(self, action: ReadInterpreter) -> InterpreterObservation:
        control = self._control(action.region)
        try:
            response = await self._caller.call(
                action.region,
                "GetCodeInterpreter",
                functools.partial(control.get_code_interpreter, codeInterpreterId=action.interpreter_id),
            )
        except ApiError as error:
            if error.kind is ErrorKind.NOT_FOUND:
                return InterpreterGone()
            raise
        return InterpreterDescribed(
            str(response["codeInterpreterId"]),
            str(response["codeInterpreterArn"]),
            str(response["status"]),
            response["createdAt"],
            response.get("failureReason"),
        )

    async def delete(self, action: DeleteInterpreter) -> InterpreterObservation:
        control = self._control(action.region)
        try:
            response = await self._caller.call(
                action.region,
                "DeleteCodeInterpreter",
                functools.partial(
                    control.delete_code_interpreter,
                    codeInterpreterId=action.interpreter_id,
                    clientToken=action.client_token,
                ),
            )
        except ApiError as error:
            if error.kind is ErrorKind.NOT_FOUND:
                return InterpreterGone()
            raise
        return DeleteAccepted(str(response["status"]))

    async def read_tags(self, action: ReadTags) -> InterpreterObservation:
        control = self._control(action.region)
        response = await self._caller.call(
            action.region,
            "ListTagsForResource",
            functools.partial(control.list_tags_for_resource, resourceArn=action.arn),
        )
        return TagsSeen({str(k): str(v) for k, v in (response.get("tags") or {}).items()})

    async def tag(self, action: TagInterpreter) -> InterpreterObservation:
        control = self._control(action.region)
        await self._caller.call(
            action.region,
            "TagResource",
            functools.partial(control.tag_resource, resourceArn=action.arn, tags=action.tags),
        )
        return TagsChanged(dict(action.after))

    async def untag(self, action: UntagInterpreter) -> InterpreterObservation:
        control = self._control(action.region)
        await self._caller.call(
            action.region,
            "UntagResource",
            functools.partial(control.untag_resource, resourceArn=action.arn, tagKeys=list(action.keys)),
        )
        return TagsChanged(dict(action.after))
