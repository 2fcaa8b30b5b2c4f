"""Strategic merge patch on built-in kinds, through the kubectl commands that send it.

Client-side `kubectl apply` of a Deployment sends a three-way strategic patch holding only
what changed (`$setElementOrder`, `$patch: delete`); served as a JSON merge patch, a
changed env var would wipe its siblings. These pin the item-by-item merge."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from agentcore_operator.local.cluster.testing import ClusterHandle, running_cluster

DEPLOYMENT = textwrap.dedent(
    """\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {{name: {name}}}
    spec:
      replicas: 1
      selector: {{matchLabels: {{app: web}}}}
      template:
        metadata: {{labels: {{app: web}}}}
        spec:
          containers:
          - name: app
            image: nginx:1
            env:
    {env}
    """
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterHandle]:
    with running_cluster() as handle:
        yield handle


def deployment(name: str, **env: str) -> str:
    lines = "\n".join(f'        - {{name: {key}, value: "{value}"}}' for key, value in env.items())
    return DEPLOYMENT.format(name=name, env=lines)


def container(cluster: ClusterHandle, name: str, index: int = 0) -> dict[str, Any]:
    body = json.loads(cluster.kubectl("get", "deployment", name, "-o", "json").stdout)
    return dict(body["spec"]["template"]["spec"]["containers"][index])


def test_client_side_apply_changes_one_env_var_and_keeps_the_others(cluster: ClusterHandle) -> None:
    cluster.kubectl("apply", "-f", "-", input=deployment("csa", A="1", B="2", C="3"))
    cluster.kubectl("apply", "-f", "-", input=deployment("csa", A="1", B="20", C="3"))
    assert container(cluster, "csa")["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "20"},
        {"name": "C", "value": "3"},
    ]
    cluster.kubectl("apply", "-f", "-", input=deployment("csa", A="1", C="3"))
    assert [e["name"] for e in container(cluster, "csa")["env"]] == ["A", "C"]
    cluster.kubectl("apply", "-f", "-", input=deployment("csa", C="3", A="1"))
    assert [e["name"] for e in container(cluster, "csa")["env"]] == ["C", "A"]  # $setElementOrder


def test_kubectl_patch_merges_containers_by_name(cluster: ClusterHandle) -> None:
    cluster.kubectl("apply", "-f", "-", input=deployment("patched", A="1"))
    sidecar = {"spec": {"template": {"spec": {"containers": [{"name": "proxy", "image": "envoy:1"}]}}}}
    cluster.kubectl("patch", "deployment", "patched", "-p", json.dumps(sidecar))
    assert [container(cluster, "patched", i)["name"] for i in (0, 1)] == ["app", "proxy"]
    image = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}}
    cluster.kubectl("patch", "deployment", "patched", "-p", json.dumps(image))
    assert container(cluster, "patched")["image"] == "nginx:2"
    assert container(cluster, "patched")["env"] == [{"name": "A", "value": "1"}]
    gone = {"spec": {"template": {"spec": {"containers": [{"name": "proxy", "$patch": "delete"}]}}}}
    cluster.kubectl("patch", "deployment", "patched", "-p", json.dumps(gone))
    body = json.loads(cluster.kubectl("get", "deployment", "patched", "-o", "json").stdout)
    assert [c["name"] for c in body["spec"]["template"]["spec"]["containers"]] == ["app"]
    refused = cluster.kubectl(
        "patch",
        "deployment",
        "patched",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}',
        check=False,
    )
    assert refused.returncode != 0 and "does not contain declared merge key: name" in refused.stderr


def test_finalizers_merge_as_a_set(cluster: ClusterHandle) -> None:
    cluster.kubectl("create", "configmap", "fin")
    for finalizer in ("a.io/x", "b.io/y", "a.io/x"):
        cluster.kubectl(
            "patch", "configmap", "fin", "-p", json.dumps({"metadata": {"finalizers": [finalizer]}})
        )
    body = json.loads(cluster.kubectl("get", "configmap", "fin", "-o", "json").stdout)
    assert body["metadata"]["finalizers"] == ["a.io/x", "b.io/y"]
    drop = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.io/x"]}}
    cluster.kubectl("patch", "configmap", "fin", "-p", json.dumps(drop))
    drop = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b.io/y"]}}
    cluster.kubectl("patch", "configmap", "fin", "-p", json.dumps(drop))
    cluster.kubectl("delete", "configmap", "fin")
