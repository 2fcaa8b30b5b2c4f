"""Garbage collection by ownerReferences, driven by kubectl's `--cascade` and the Python
client's `V1DeleteOptions(propagation_policy=...)`, for built-in and custom kinds alike."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from agentcore_operator.local.cluster.testing import ClusterHandle
from kubernetes import client
from kubernetes.client.rest import ApiException

from .conftest import Apply, configmap, eventually, session

HOLD = "example.com/hold"


def cm(cluster: ClusterHandle, name: str, namespace: str = "default") -> dict[str, Any] | None:
    return cluster.get("configmaps", namespace, name, group="", version="v1")


def cis(cluster: ClusterHandle, name: str, namespace: str = "default") -> dict[str, Any] | None:
    return cluster.get("codeinterpretersessions", namespace, name)


def owned_by(body: dict[str, Any] | None, block: bool | None = None) -> list[dict[str, Any]]:
    assert body is not None
    meta = body["metadata"]
    ref: dict[str, Any] = {
        "apiVersion": body["apiVersion"],
        "kind": body["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
    }
    if block is not None:
        ref["blockOwnerDeletion"] = block
    return [ref]


def test_background_cascade_deletes_dependents_of_every_kind(cluster: ClusterHandle, apply: Apply) -> None:
    apply(configmap("owner"))
    apply(configmap("child", ownerReferences=owned_by(cm(cluster, "owner"))))
    apply(session("owned-session", ownerReferences=owned_by(cm(cluster, "owner"))))
    apply(configmap("grandchild", ownerReferences=owned_by(cis(cluster, "owned-session"))))
    apply(configmap("bystander"))

    cluster.kubectl("delete", "configmap", "owner", "--cascade=background")
    assert cm(cluster, "owner") is None  # the owner goes first, its dependents after
    eventually(lambda: cm(cluster, "grandchild") is None, message="cascade through a custom resource")
    assert cm(cluster, "child") is None and cis(cluster, "owned-session") is None
    assert cm(cluster, "bystander") is not None


def test_a_dependent_with_a_finalizer_gets_a_deletion_timestamp_and_waits(
    cluster: ClusterHandle, apply: Apply
) -> None:
    apply(configmap("owner"))
    apply(session("held", ownerReferences=owned_by(cm(cluster, "owner")), finalizers=[HOLD]))
    cluster.kubectl("delete", "configmap", "owner")
    eventually(lambda: (cis(cluster, "held") or {}).get("metadata", {}).get("deletionTimestamp"))
    cluster.kubectl("patch", "cis", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    assert cis(cluster, "held") is None


def test_foreground_waits_for_blocking_dependents(cluster: ClusterHandle, apply: Apply) -> None:
    apply(configmap("owner"))
    owner = cm(cluster, "owner")
    apply(session("blocker", ownerReferences=owned_by(owner, block=True), finalizers=[HOLD]))
    apply(configmap("free", ownerReferences=owned_by(owner, block=False), finalizers=[HOLD]))

    cluster.kubectl("delete", "configmap", "owner", "--cascade=foreground", "--wait=false")
    waiting = cm(cluster, "owner")
    assert waiting is not None
    assert waiting["metadata"]["deletionTimestamp"] and waiting["metadata"]["finalizers"] == [
        "foregroundDeletion"
    ]
    eventually(lambda: (cis(cluster, "blocker") or {})["metadata"].get("deletionTimestamp"))
    eventually(lambda: (cm(cluster, "free") or {})["metadata"].get("deletionTimestamp"))
    cluster.kubectl("patch", "cm", "free", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    time.sleep(0.3)
    assert cm(cluster, "owner") is not None  # a non-blocking dependent does not hold the owner
    cluster.kubectl("patch", "cis", "blocker", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    eventually(lambda: cm(cluster, "owner") is None, message="owner goes after its blocking dependent")


def test_foreground_with_the_python_client(
    cluster: ClusterHandle, apply: Apply, custom: client.CustomObjectsApi
) -> None:
    apply(session("owner-session"))
    owner = cis(cluster, "owner-session")
    apply(configmap("export", ownerReferences=owned_by(owner, block=True), finalizers=[HOLD]))
    custom.delete_namespaced_custom_object(
        "agentcore.dev",
        "v1alpha1",
        "default",
        "codeinterpretersessions",
        "owner-session",
        body=client.V1DeleteOptions(propagation_policy="Foreground"),
    )
    eventually(lambda: (cm(cluster, "export") or {})["metadata"].get("deletionTimestamp"))
    waiting = cis(cluster, "owner-session")
    assert waiting is not None and waiting["metadata"]["finalizers"] == ["foregroundDeletion"]
    cluster.kubectl("patch", "cm", "export", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    eventually(lambda: cis(cluster, "owner-session") is None and cm(cluster, "export") is None)


def test_orphan_removes_the_owner_references(
    cluster: ClusterHandle, apply: Apply, core: client.CoreV1Api
) -> None:
    apply(configmap("owner"))
    apply(configmap("other-owner"))
    refs = owned_by(cm(cluster, "owner")) + owned_by(cm(cluster, "other-owner"))
    apply(configmap("kept", ownerReferences=refs))
    apply(session("kept-session", ownerReferences=owned_by(cm(cluster, "owner"))))

    core.delete_namespaced_config_map(
        "owner", "default", body=client.V1DeleteOptions(propagation_policy="Orphan")
    )
    eventually(lambda: cm(cluster, "owner") is None, message="owner goes once orphaning is done")
    kept = cm(cluster, "kept")
    assert kept is not None
    assert [r["name"] for r in kept["metadata"]["ownerReferences"]] == ["other-owner"]
    assert "ownerReferences" not in (cis(cluster, "kept-session") or {})["metadata"]

    cluster.kubectl("delete", "configmap", "other-owner", "--cascade=orphan")
    eventually(lambda: "ownerReferences" not in (cm(cluster, "kept") or {"metadata": {}})["metadata"])
    assert cm(cluster, "kept") is not None


def test_a_dependent_of_a_live_owner_stays_and_loses_only_the_dangling_reference(
    cluster: ClusterHandle, apply: Apply
) -> None:
    apply(configmap("alive"))
    ghost = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": "ghost",
            "uid": "00000000-0000-0000-0000-000000000000",
        }
    ]
    apply(configmap("two-owners", ownerReferences=owned_by(cm(cluster, "alive")) + ghost))
    eventually(lambda: len((cm(cluster, "two-owners") or {})["metadata"].get("ownerReferences", [])) == 1)
    # With its only owner gone (never existed, or another uid), an object is collected.
    apply(configmap("ghost"))  # same name, another uid: not the owner
    apply(configmap("orphan", ownerReferences=ghost))
    eventually(lambda: cm(cluster, "orphan") is None, message="dependent of a missing owner collected")


def test_ownership_across_scopes(cluster: ClusterHandle, apply: Apply) -> None:
    apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "owner-role"},
        }
    )
    role = cluster.get("clusterroles", None, "owner-role", group="rbac.authorization.k8s.io", version="v1")
    apply(configmap("namespaced-dependent", "other", ownerReferences=owned_by(role)))
    # A namespaced owner of a cluster-scoped dependent cannot be resolved: never collected.
    apply(configmap("namespaced-owner"))
    apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": "bad-dependent",
                "ownerReferences": owned_by(cm(cluster, "namespaced-owner")),
            },
        }
    )
    # A namespaced owner is looked for in the dependent's own namespace only.
    apply(configmap("cross-namespace", "other", ownerReferences=owned_by(cm(cluster, "namespaced-owner"))))

    cluster.kubectl("delete", "clusterrole", "owner-role")
    eventually(lambda: cm(cluster, "namespaced-dependent", "other") is None)
    eventually(
        lambda: cm(cluster, "cross-namespace", "other") is None, message="owner absent from its namespace"
    )
    cluster.kubectl("delete", "configmap", "namespaced-owner")
    time.sleep(0.3)
    assert cluster.get("clusterroles", None, "bad-dependent", group="rbac.authorization.k8s.io", version="v1")


def test_delete_options_are_validated(cluster: ClusterHandle, apply: Apply, core: client.CoreV1Api) -> None:
    apply(configmap("target"))
    with pytest.raises(ApiException) as caught:
        core.delete_namespaced_config_map(
            "target", "default", body=client.V1DeleteOptions(propagation_policy="Sideways")
        )
    assert caught.value.status == 422
    assert json.loads(caught.value.body)["message"] == (
        'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Sideways": '
        'supported values: "Foreground", "Background", "Orphan", "nil"'
    )
    assert cm(cluster, "target") is not None
