"""Namespace deletion as a real cluster does it, seen through kubectl and the Python client:
Terminating first, new content refused, every object deleted with its finalizers honoured,
the namespace gone after the last one."""

from __future__ import annotations

import json

import pytest
from agentcore_operator.local.cluster.testing import ClusterHandle
from kubernetes import client
from kubernetes.client.rest import ApiException

from .conftest import Apply, configmap, eventually, session

HOLD = "example.com/hold"


def conditions(cluster: ClusterHandle, name: str) -> dict[str, tuple[str, str, str]]:
    body = cluster.get("namespaces", None, name, group="", version="v1") or {}
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in body["status"].get("conditions", [])}


def test_a_deleted_namespace_terminates_until_its_last_finalizer_goes(
    cluster: ClusterHandle, apply: Apply
) -> None:
    cluster.kubectl("create", "namespace", "team")  # protobuf, as kubectl sends it
    cluster.kubectl("create", "configmap", "plain", "-n", "team")
    apply(configmap("held", "team", finalizers=[HOLD]))
    apply(session("analysis", "team", finalizers=[HOLD]))

    assert 'namespace "team" deleted' in cluster.kubectl("delete", "namespace", "team", "--wait=false").stdout
    assert cluster.kubectl("get", "ns", "team", "--no-headers").stdout.split()[:2] == ["team", "Terminating"]
    eventually(lambda: cluster.get("configmaps", "team", "plain", group="", version="v1") is None)
    held = cluster.get("configmaps", "team", "held", group="", version="v1")
    assert held is not None and held["metadata"]["deletionTimestamp"]
    assert (cluster.get("codeinterpretersessions", "team", "analysis") or {})["metadata"]["deletionTimestamp"]
    eventually(lambda: conditions(cluster, "team").get("NamespaceFinalizersRemaining", ("",))[0] == "True")
    found = conditions(cluster, "team")
    assert found["NamespaceContentRemaining"] == (
        "True",
        "SomeResourcesRemain",
        "Some resources are remaining: codeinterpretersessions.agentcore.dev has 1 resource instances, "
        "configmaps. has 1 resource instances",
    )
    assert found["NamespaceFinalizersRemaining"] == (
        "True",
        "SomeFinalizersRemain",
        f"Some content in the namespace has finalizers remaining: {HOLD} in 2 resource instances",
    )
    assert found["NamespaceDeletionContentFailure"][:2] == ("False", "ContentDeleted")
    namespace = cluster.get("namespaces", None, "team", group="", version="v1") or {}
    assert namespace["spec"]["finalizers"] == ["kubernetes"] and namespace["status"]["phase"] == "Terminating"

    cluster.kubectl(
        "patch", "cm", "held", "-n", "team", "--type=merge", "-p", '{"metadata":{"finalizers":null}}'
    )
    assert cluster.get("namespaces", None, "team", group="", version="v1") is not None  # the session holds it
    cluster.kubectl(
        "patch",
        "cis",
        "analysis",
        "-n",
        "team",
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/metadata/finalizers"}]',
    )
    eventually(
        lambda: cluster.kubectl("get", "ns", "team", check=False).returncode == 1, message="namespace gone"
    )
    assert 'namespaces "team" not found' in cluster.kubectl("get", "ns", "team", check=False).stderr


def test_nothing_new_in_a_terminating_namespace(
    cluster: ClusterHandle, apply: Apply, core: client.CoreV1Api
) -> None:
    apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}})
    apply(configmap("held", "doomed", finalizers=[HOLD]))
    cluster.kubectl("delete", "namespace", "doomed", "--wait=false")

    refused = cluster.kubectl("apply", "-f", "-", input=json.dumps(configmap("late", "doomed")), check=False)
    assert refused.returncode == 1
    assert (
        'configmaps "late" is forbidden: unable to create new content in namespace doomed '
        "because it is being terminated" in refused.stderr
    )
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(
            "doomed", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x"))
        )
    assert caught.value.status == 403
    status = json.loads(caught.value.body)
    assert status["reason"] == "Forbidden"
    assert status["details"]["causes"] == [
        {
            "reason": "NamespaceTerminating",
            "message": "namespace doomed is being terminated",
            "field": "metadata.namespace",
        }
    ]
    # Updates are still allowed: that is how finalizers get removed.
    cluster.kubectl("label", "cm", "held", "-n", "doomed", "still=writable")
    cluster.kubectl(
        "patch", "cm", "held", "-n", "doomed", "--type=merge", "-p", '{"metadata":{"finalizers":null}}'
    )
    eventually(lambda: cluster.get("namespaces", None, "doomed", group="", version="v1") is None)


def test_an_empty_namespace_goes_at_once_and_the_system_ones_stay(
    cluster: ClusterHandle, apply: Apply
) -> None:
    apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "empty"}})
    cluster.kubectl("delete", "namespace", "empty", "--timeout=10s")
    assert cluster.get("namespaces", None, "empty", group="", version="v1") is None
    for name in ("default", "kube-system", "kube-public"):
        refused = cluster.kubectl("delete", "namespace", name, check=False)
        assert f'namespaces "{name}" is forbidden: this namespace may not be deleted' in refused.stderr


def test_a_namespace_with_its_own_finalizer_waits_for_it_after_the_content(
    cluster: ClusterHandle, apply: Apply, core: client.CoreV1Api
) -> None:
    apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kept", "finalizers": [HOLD]}})
    apply(configmap("plain", "kept"))
    core.delete_namespace("kept")
    eventually(
        lambda: (
            not (cluster.get("namespaces", None, "kept", group="", version="v1") or {})["spec"].get(
                "finalizers"
            )
        )
    )
    assert cluster.get("configmaps", "kept", "plain", group="", version="v1") is None
    namespace = core.read_namespace("kept")
    assert namespace.status.phase == "Terminating" and namespace.metadata.finalizers == [HOLD]
    core.patch_namespace("kept", {"metadata": {"finalizers": None}})
    eventually(lambda: cluster.get("namespaces", None, "kept", group="", version="v1") is None)


def test_finalize_subresource_releases_a_stuck_namespace(cluster: ClusterHandle, apply: Apply) -> None:
    """What people do to a namespace stuck in Terminating: `kubectl replace --raw .../finalize`."""
    apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "stuck"}})
    apply(configmap("held", "stuck", finalizers=[HOLD]))
    cluster.kubectl("delete", "namespace", "stuck", "--wait=false")
    body = json.loads(cluster.kubectl("get", "ns", "stuck", "-o", "json").stdout)
    body["spec"]["finalizers"] = []
    cluster.kubectl(
        "replace", "--raw", "/api/v1/namespaces/stuck/finalize", "-f", "-", input=json.dumps(body)
    )
    eventually(lambda: cluster.get("namespaces", None, "stuck", group="", version="v1") is None)
