"""The code interpreter resource manager: Create, Get, Delete and the tag calls (ACK's CRUD).

An action of the decision is one call with every parameter it sends; this module sends it
and turns the answer into one observation. Nothing here decides. Every call goes through
the session manager's paced caller (aws/sessions.py), so both kinds share one rate
limiter, one thread pool and one set of call metrics.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from agentcore_operator.aws.sessions import SessionManager
from agentcore_operator.controller.observations import CallFailed, InterpreterMissing
from agentcore_operator.interpreters import observations as operations
from agentcore_operator.interpreters.decision import InterpreterCall
from agentcore_operator.interpreters.observations import InterpreterAnswer, InterpreterObservation, TagsKnown
from agentcore_operator.runtime.errors import ApiError, ErrorKind

# The boto3 method of each operation, on the control-plane client.
METHODS: dict[str, Callable[[Any], Callable[..., Any]]] = {
    operations.CREATE: lambda control: control.create_code_interpreter,
    operations.GET: lambda control: control.get_code_interpreter,
    operations.DELETE: lambda control: control.delete_code_interpreter,
    operations.LIST_TAGS: lambda control: control.list_tags_for_resource,
    operations.TAG: lambda control: control.tag_resource,
    operations.UNTAG: lambda control: control.untag_resource,
}
# A missing interpreter is an answer to these (it is gone), a failure of the others.
GONE_IS_AN_ANSWER = frozenset({operations.GET, operations.DELETE})


class InterpreterManager:
    """AgentCore control-plane calls for code interpreters."""

    def __init__(self, caller: SessionManager) -> None:
        self._caller = caller

    async def perform(self, call: InterpreterCall) -> InterpreterObservation:
        try:
            identity = self._caller.identity(call.operation, call.account)
            method = METHODS[call.operation](await self._caller.control_client(call.region, identity))
            response = await self._caller.call(
                call.region, call.operation, functools.partial(method, **call.params), identity=identity
            )
        except ApiError as error:
            if error.kind is ErrorKind.NOT_FOUND and call.operation in GONE_IS_AN_ANSWER:
                return InterpreterMissing()
            return CallFailed(error)
        return observation_of(call, response)


def observation_of(call: InterpreterCall, response: dict[str, Any]) -> InterpreterObservation:
    if call.operation == operations.LIST_TAGS:
        return TagsKnown({str(k): str(v) for k, v in (response.get("tags") or {}).items()})
    if call.operation in (operations.TAG, operations.UNTAG):
        return TagsKnown(dict(call.tags_after or {}))
    return InterpreterAnswer(
        operation=call.operation,
        status=str(response["status"]),
        interpreter_id=str(response.get("codeInterpreterId", "")),
        arn=str(response.get("codeInterpreterArn", "")),
        created_at=response.get("createdAt"),
        failure_reason=response.get("failureReason"),
    )
