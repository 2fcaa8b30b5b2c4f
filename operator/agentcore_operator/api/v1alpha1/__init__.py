"""agentcore.dev/v1alpha1: the CodeInterpreterSession resource."""

from agentcore_operator.api.v1alpha1.types import (
    BUILTIN_INTERPRETER,
    FINALIZER,
    GROUP,
    KIND,
    PLURAL,
    VERSION,
    Condition,
    DeletionPolicy,
    Phase,
    RestartPolicy,
    SessionSpec,
    SessionStatus,
    SpecError,
)

__all__ = [
    "BUILTIN_INTERPRETER",
    "FINALIZER",
    "GROUP",
    "KIND",
    "PLURAL",
    "VERSION",
    "Condition",
    "DeletionPolicy",
    "Phase",
    "RestartPolicy",
    "SessionSpec",
    "SessionStatus",
    "SpecError",
]
