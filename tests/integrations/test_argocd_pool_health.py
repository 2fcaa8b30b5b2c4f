"""The Argo CD health check of CodeInterpreterSessionPool, run as Lua the way Argo CD runs it.

Every status is what the real decision writes (pools/decision.py's decide(), fed children
and write outcomes), as the API server would hold it; the sandbox is the session check's
(test_argocd_health.py): no string library, Lua 5.1.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from agentcore_operator.api.v1alpha1.pool import PoolSpec, PoolStatus
from agentcore_operator.pools.decision import Child, PoolObservation, PoolView, WriteFailed, decide
from agentcore_operator.runtime.meta import ResourceMeta

from .test_argocd_health import ARGOCD, health

SCRIPT = (ARGOCD / "health-codeinterpretersessionpool.lua").read_text()
CONFIG_KEY = "resource.customizations.health.agentcore.dev_CodeInterpreterSessionPool"
NOW = datetime(2026, 3, 1, tzinfo=UTC)
SPEC = PoolSpec(replicas=2, template_spec={}, session_timeout_seconds=900)


def child(name: str, phase: str = "Ready", **changes: Any) -> Child:
    return Child(
        name,
        f"uid-{name}",
        "1",
        phase,
        NOW,
        NOW + timedelta(seconds=900),
        template=SPEC.template_hash,
        **changes,
    )


def status_of(
    *children: Child, spec: PoolSpec | None = SPEC, observation: PoolObservation | None = None
) -> PoolStatus:
    view = PoolView(
        ResourceMeta("uid", "ns", "p", 1), spec, children, "p-new", None if spec else "spec.replicas -1"
    )
    return decide(view, PoolStatus(), observation, NOW).status


def obj(status: PoolStatus, generation: int = 1) -> dict[str, Any]:
    return {"metadata": {"name": "p", "generation": generation}, "status": status.to_dict()}


STATES: list[tuple[str, PoolStatus, str, str]] = [
    ("empty", status_of(), "Progressing", "Filling: 0/2"),
    ("starting", status_of(child("a"), child("b", "Starting")), "Progressing", "1/2"),
    ("ready", status_of(child("a"), child("b")), "Healthy", "PoolReady: 2/2"),
    ("draining", status_of(child("a"), child("b"), child("c")), "Healthy", "Draining"),
    (
        "child-failed",
        status_of(child("a"), child("b", "Failed", reason="InvalidRequest")),
        "Degraded",
        "InvalidRequest",
    ),
    ("invalid-spec", status_of(spec=None), "Degraded", "InvalidSpec"),
    (
        "create-refused",
        status_of(observation=WriteFailed("p-new", "create", "forbidden")),
        "Degraded",
        "CreateFailed",
    ),
]


@pytest.mark.parametrize(("status", "expected", "words"), [s[1:] for s in STATES], ids=[s[0] for s in STATES])
def test_health_of_every_state_the_operator_writes(status: PoolStatus, expected: str, words: str) -> None:
    result = health(obj(status), SCRIPT)
    assert result["status"] == expected, result
    assert words in result["message"], result


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"metadata": {"generation": 1}}, "Progressing"),
        (obj(status_of(child("a"), child("b")), generation=2), "Progressing"),  # scaled, not observed yet
        (
            {
                "metadata": {},
                "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "False"}]},
            },
            "Progressing",
        ),
    ],
)
def test_odd_objects(document: dict[str, Any], expected: str) -> None:
    assert health(document, SCRIPT)["status"] == expected


def test_the_configmap_and_helm_values_carry_the_same_script() -> None:
    documents = [d for d in yaml.safe_load_all((ARGOCD / "argocd-cm.yaml").read_text()) if d]
    (configmap,) = documents
    assert configmap["data"][CONFIG_KEY] == SCRIPT, (
        "copy health-codeinterpretersessionpool.lua into argocd-cm.yaml"
    )
    values = yaml.safe_load((ARGOCD / "values-argo-cd.yaml").read_text())
    assert values["configs"]["cm"][CONFIG_KEY] == SCRIPT, "copy it into values-argo-cd.yaml"
