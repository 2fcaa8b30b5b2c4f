"""The Argo CD health check of CodeInterpreter, run as Lua the way Argo CD runs it.

Every object is what the real decision writes (interpreters/decision.py's decide(), fed the
answers AgentCore gives), as the API server would hold it; the sandbox is the session
check's (test_argocd_health.py): no string library, Lua 5.1.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from agentcore_operator.api.v1alpha1 import DeletionPolicy
from agentcore_operator.api.v1alpha1.interpreter import InterpreterSpec, InterpreterStatus
from agentcore_operator.controller.observations import CallFailed, InterpreterMissing
from agentcore_operator.interpreters.decision import InterpreterView, decide
from agentcore_operator.interpreters.observations import (
    CREATE,
    DELETE,
    GET,
    InterpreterAnswer,
    InterpreterObservation,
)
from agentcore_operator.runtime.errors import ApiError, ErrorKind
from agentcore_operator.runtime.meta import ResourceMeta

from .test_argocd_health import ARGOCD, health

SCRIPT = (ARGOCD / "health-codeinterpreter.lua").read_text()
CONFIG_KEY = "resource.customizations.health.agentcore.dev_CodeInterpreter"
NOW = datetime(2026, 3, 1, tzinfo=UTC)
ID = "team_tools-a1b2c3d4e5"
ARN = f"arn:aws:bedrock-agentcore:us-east-1:123456789012:code-interpreter-custom/{ID}"
SPEC = InterpreterSpec("team_tools", "us-east-1", {"networkMode": "SANDBOX"}, DeletionPolicy.DELETE)


def view(
    deleting: bool = False, users: tuple[str, ...] = (), spec: InterpreterSpec | None = SPEC
) -> InterpreterView:
    meta = ResourceMeta("uid-1", "team", "tools", 1, deleting=deleting)
    return InterpreterView(meta, spec, None if spec else "spec.name is invalid", users)


def walk(v: InterpreterView, *seen: InterpreterObservation | None) -> InterpreterStatus:
    """The status after the decision met these answers, one pass each."""
    status = InterpreterStatus()
    for observation in (None, *seen):
        status = decide(v, status, observation, NOW).status
    return status


def obj(status: InterpreterStatus, generation: int = 1) -> dict[str, Any]:
    return {"metadata": {"name": "tools", "generation": generation}, "status": status.to_dict()}


def answer(operation: str, state: str, why: str | None = None) -> InterpreterAnswer:
    return InterpreterAnswer(operation, state, ID, ARN, NOW, why)


def refused(kind: ErrorKind, operation: str) -> CallFailed:
    return CallFailed(ApiError(kind, operation, kind.value, "simulated"))


READY = walk(view(), answer(CREATE, "CREATING"), answer(GET, "READY"))
STATES: list[tuple[str, InterpreterStatus, str, str]] = [
    ("creating", walk(view()), "Progressing", "Creating"),
    ("created", walk(view(), answer(CREATE, "CREATING")), "Progressing", "Creating"),
    ("adopting", walk(view(spec=replace(SPEC, adopt_id=ID))), "Progressing", "Adopting"),
    ("throttled-create", walk(view(), refused(ErrorKind.THROTTLED, CREATE)), "Progressing", "Throttled"),
    ("quota", walk(view(), refused(ErrorKind.QUOTA_EXCEEDED, CREATE)), "Progressing", "QuotaExceeded"),
    ("access-denied", walk(view(), refused(ErrorKind.ACCESS_DENIED, CREATE)), "Progressing", "AccessDenied"),
    ("ready", READY, "Healthy", ID),
    (
        "create-failed",
        walk(view(), answer(CREATE, "CREATING"), answer(GET, "CREATE_FAILED", "no subnet")),
        "Degraded",
        "no subnet",
    ),
    (
        "deleted-out-of-band",
        walk(view(), answer(CREATE, "CREATING"), answer(GET, "DELETED")),
        "Degraded",
        "DeletedOutOfBand",
    ),
    ("not-found", walk(view(), answer(CREATE, "CREATING"), InterpreterMissing()), "Degraded", "NotFound"),
    ("invalid-request", walk(view(), refused(ErrorKind.INVALID, CREATE)), "Degraded", "InvalidRequest"),
    ("invalid-spec", walk(view(spec=None)), "Degraded", "InvalidSpec"),
    ("in-use", decide(view(deleting=True, users=("s1",)), READY, None, NOW).status, "Progressing", "InUse"),
    (
        "deleting",
        decide(view(deleting=True), READY, answer(DELETE, "DELETING"), NOW).status,
        "Progressing",
        "Deleting",
    ),
    (
        "delete-failed",
        decide(view(deleting=True), READY, refused(ErrorKind.ACCESS_DENIED, DELETE), NOW).status,
        "Degraded",
        "Retain",
    ),
]


@pytest.mark.parametrize(("status", "expected", "words"), [s[1:] for s in STATES], ids=[s[0] for s in STATES])
def test_health_of_every_state_the_operator_writes(
    status: InterpreterStatus, expected: str, words: str
) -> None:
    result = health(obj(status), SCRIPT)
    assert result["status"] == expected, result
    assert words in result["message"], result


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"metadata": {"generation": 1}}, "Progressing"),
        (obj(READY, generation=2), "Progressing"),  # the spec changed (tags): not observed yet
        ({"metadata": {}, "status": {"phase": "Hibernating", "observedGeneration": 1}}, "Progressing"),
    ],
)
def test_odd_objects(document: dict[str, Any], expected: str) -> None:
    assert health(document, SCRIPT)["status"] == expected


def test_the_configmap_and_helm_values_carry_the_same_script() -> None:
    documents = [d for d in yaml.safe_load_all((ARGOCD / "argocd-cm.yaml").read_text()) if d]
    (configmap,) = documents
    assert configmap["data"][CONFIG_KEY] == SCRIPT, "copy health-codeinterpreter.lua into argocd-cm.yaml"
    values = yaml.safe_load((ARGOCD / "values-argo-cd.yaml").read_text())
    assert values["configs"]["cm"][CONFIG_KEY] == SCRIPT, "copy it into values-argo-cd.yaml"
