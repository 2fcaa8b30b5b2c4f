"""The Argo CD health check of AgentCoreAccessPolicy, run as Lua the way Argo CD runs it.

Every object carries the status the real decision writes (tenancy/kind.py's decide(), fed
what the tenancy index says), as the API server would hold it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from agentcore_operator.runtime.meta import ResourceMeta
from agentcore_operator.tenancy.index import TenancyIndex
from agentcore_operator.tenancy.kind import PolicyResource, decide
from agentcore_operator.tenancy.policy import AccessPolicyStatus

from .test_argocd_health import ARGOCD, health

SCRIPT = (ARGOCD / "health-accesspolicy.lua").read_text()
CONFIG_KEY = "resource.customizations.health.agentcore.dev_AgentCoreAccessPolicy"
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def written(name: str, generation: int = 2) -> dict[str, Any]:
    """The policy `name` as the API server holds it once the operator wrote its status."""
    index = TenancyIndex("123456789012")
    index.put_namespace({"metadata": {"name": "team-a"}})
    for policy, spec in {
        "a": {"namespaceSelector": {"names": ["team-a"]}},
        "b": {"namespaceSelector": {"names": ["team-a"]}},
        "bad": {"namespaceSelector": {"names": ["team-a"]}, "weight": 0},
    }.items():
        index.put_policy({"metadata": {"name": policy}, "spec": spec})
    meta = ResourceMeta("uid", "", name, generation)
    status = decide(PolicyResource(meta, index.policy_view(name)), AccessPolicyStatus(), NOW).status
    return {"metadata": {"name": name, "generation": generation}, "status": status.to_dict()}


@pytest.mark.parametrize(
    ("obj", "expected", "fragment"),
    [
        (written("a"), "Healthy", "binds 1 namespaces"),
        (written("b"), "Degraded", "Overlap: "),
        (written("bad"), "Degraded", "spec.weight"),
        ({"metadata": {"name": "new", "generation": 1}}, "Progressing", "generation 1"),
        ({**written("a"), "metadata": {"name": "a", "generation": 3}}, "Progressing", "generation 3"),
    ],
    ids=["valid", "overlap", "invalid", "no-status", "stale-generation"],
)
def test_health_of_what_the_operator_writes(obj: dict[str, Any], expected: str, fragment: str) -> None:
    result = health(obj, SCRIPT)
    assert result["status"] == expected
    assert fragment in result["message"]


def test_the_configmap_and_helm_values_carry_the_same_script() -> None:
    (configmap,) = [d for d in yaml.safe_load_all((ARGOCD / "argocd-cm.yaml").read_text()) if d]
    assert configmap["data"][CONFIG_KEY] == SCRIPT, "copy health-accesspolicy.lua into argocd-cm.yaml"
    values = yaml.safe_load((ARGOCD / "values-argo-cd.yaml").read_text())
    assert values["configs"]["cm"][CONFIG_KEY] == SCRIPT, (
        "copy health-accesspolicy.lua into values-argo-cd.yaml"
    )
