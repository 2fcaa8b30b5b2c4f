"""The Argo CD health check of CodeInterpreterSessionClaim, run as Lua the way Argo CD runs it.

Every object is what the real decision writes (claims/decision.py's decide()), as the API
server would hold it; the sandbox is the session check's (test_argocd_health.py): no
string library, Lua 5.1.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from agentcore_operator.api.v1alpha1.claim import ClaimSpec, ClaimStatus
from agentcore_operator.claims.decision import Child, ChildBound, ClaimView, Pool, decide
from agentcore_operator.runtime.meta import ResourceMeta

from .test_argocd_health import ARGOCD, health

SCRIPT = (ARGOCD / "health-codeinterpretersessionclaim.lua").read_text()
CONFIG_KEY = "resource.customizations.health.agentcore.dev_CodeInterpreterSessionClaim"
NOW = datetime(2026, 3, 1, tzinfo=UTC)
META = ResourceMeta("uid-1", "team", "task", 1, has_finalizer=False)
POOL = Pool("p", {"spec": {}}, 60)
VIEW = ClaimView(META, NOW, ClaimSpec("p", ttl_seconds_unbound=30), pool=POOL)
CHILD = Child("p-abcde", "uid-c", "7", "Ready", "sess-1", NOW + timedelta(minutes=10))
BOUND = decide(VIEW, ClaimStatus(), ChildBound(CHILD), NOW).status

STATES: list[tuple[str, ClaimStatus, str, str]] = [
    ("starting", decide(VIEW, ClaimStatus(), None, NOW).status, "Progressing", "Starting"),
    (
        "pool-not-found",
        decide(replace(VIEW, pool=None), ClaimStatus(), None, NOW).status,
        "Progressing",
        "PoolNotFound",
    ),
    ("bound", BOUND, "Healthy", "sess-1"),
    (
        "unbound",
        decide(replace(VIEW, pool=None), ClaimStatus(), None, NOW + timedelta(seconds=30)).status,
        "Degraded",
        "Unbound",
    ),
    ("session-ended", decide(VIEW, BOUND, None, NOW).status, "Degraded", "SessionEnded"),
    (
        "invalid-spec",
        decide(replace(VIEW, spec=None, spec_error="spec.poolRef.name"), ClaimStatus(), None, NOW).status,
        "Degraded",
        "InvalidSpec",
    ),
]


def obj(status: ClaimStatus, generation: int = 1) -> dict[str, Any]:
    return {"metadata": {"name": "task", "generation": generation}, "status": status.to_dict()}


@pytest.mark.parametrize(("status", "expected", "words"), [s[1:] for s in STATES], ids=[s[0] for s in STATES])
def test_health_of_every_state_the_operator_writes(status: ClaimStatus, expected: str, words: str) -> None:
    result = health(obj(status), SCRIPT)
    assert result["status"] == expected, result
    assert words in result["message"], result


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"metadata": {"generation": 1}}, "Progressing"),
        (obj(BOUND, generation=2), "Progressing"),
        ({"metadata": {}, "status": {"phase": "Hibernating", "observedGeneration": 1}}, "Progressing"),
    ],
)
def test_odd_objects(document: dict[str, Any], expected: str) -> None:
    assert health(document, SCRIPT)["status"] == expected


def test_the_configmap_and_helm_values_carry_the_same_script() -> None:
    documents = [d for d in yaml.safe_load_all((ARGOCD / "argocd-cm.yaml").read_text()) if d]
    (configmap,) = documents
    assert configmap["data"][CONFIG_KEY] == SCRIPT, "copy the claim's health script into argocd-cm.yaml"
    values = yaml.safe_load((ARGOCD / "values-argo-cd.yaml").read_text())
    assert values["configs"]["cm"][CONFIG_KEY] == SCRIPT, "copy it into values-argo-cd.yaml"
