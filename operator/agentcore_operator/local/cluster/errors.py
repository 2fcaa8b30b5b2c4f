"""Errors as the API server gives them: `Status` objects with the real reasons and messages."""

from __future__ import annotations

from typing import Any

from agentcore_operator.local.cluster import schema as schemas
from agentcore_operator.local.cluster.resources import ResourceType


class ApiError(Exception):
    """An answer in the form of a `Status` object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.metadata = metadata or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": dict(self.metadata),
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def not_found(resource_type: ResourceType, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{resource_type.qualified} "{name}" not found',
        {"name": name, "group": resource_type.group, "kind": resource_type.plural},
    )


def conflict(resource_type: ResourceType, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {resource_type.qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        {"name": name, "group": resource_type.group, "kind": resource_type.plural},
    )


def invalid(resource_type: ResourceType, name: str, errors: list[schemas.FieldError]) -> ApiError:
    messages = [e.message for e in errors]
    summary = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
    return ApiError(
        422,
        "Invalid",
        f'{resource_type.kind_qualified} "{name}" is invalid: {summary}',
        {
            "name": name,
            "group": resource_type.group,
            "kind": resource_type.kind,
            "causes": [e.cause() for e in errors],
        },
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)
