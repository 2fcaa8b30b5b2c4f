"""An operator upgraded without the AgentCoreAccessPolicy CRD (Helm installs new CRDs on
install, not on upgrade) works as before: no policy is in effect, sessions start as the
operator's own identity, and nothing waits for a list that cannot come."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentcore_operator.local.cluster.testing import ClusterHandle, running_cluster
from agentcore_operator.local.harness import RunningOperator

from .conftest import eventually, session_manifest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ClusterHandle]:
    for name in ("agentcore.dev_codeinterpretersessions.yaml", "agentcore.dev_codeinterpreters.yaml"):
        shutil.copy(REPO / "crds" / name, tmp_path / name)
    with running_cluster(tmp_path) as handle:
        yield handle


def test_without_the_policy_crd_sessions_start_as_the_operator(
    cluster: ClusterHandle, operator: RunningOperator
) -> None:
    assert cluster.kubectl("get", "crd", "agentcoreaccesspolicies.agentcore.dev", check=False).returncode != 0
    cluster.kubectl("apply", "-f", "-", input=json.dumps(session_manifest("plain")))

    def phase() -> str | None:
        body = json.loads(cluster.kubectl("get", "cis", "plain", "-o", "json").stdout)
        return (body.get("status") or {}).get("phase")

    eventually(lambda: phase() == "Ready", message="Ready without policies")
