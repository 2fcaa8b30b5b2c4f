"""List pagination as kubectl and the Python client page: `--chunk-size`, kubectl's default
chunks of 500, and continue tokens that walk one consistent snapshot."""

from __future__ import annotations

import json

import pytest
from agentcore_operator.local.cluster.testing import ClusterHandle
from kubernetes import client
from kubernetes.client.rest import ApiException

from .conftest import Apply, configmap


def create_configmaps(core: client.CoreV1Api, names: list[str]) -> None:
    for name in names:
        core.create_namespaced_config_map(
            "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name))
        )


def test_kubectl_chunks_show_every_object(cluster: ClusterHandle, core: client.CoreV1Api) -> None:
    names = [f"cm-{i}" for i in range(5)]
    create_configmaps(core, names)
    shown = cluster.kubectl("get", "configmaps", "--chunk-size=2", "--no-headers").stdout.split("\n")
    assert [line.split()[0] for line in shown if line] == names
    table_pages = [
        r for r in cluster.requests() if r["path"].endswith("/configmaps") and "limit=2" in r["query"]
    ]
    assert len(table_pages) == 3


def test_kubectl_default_chunk_of_500_is_not_the_end(cluster: ClusterHandle, core: client.CoreV1Api) -> None:
    names = [f"cm-{i:04}" for i in range(1200)]
    create_configmaps(core, names)
    shown = cluster.kubectl("get", "configmaps", "--no-headers").stdout.splitlines()
    assert len(shown) == 1200
    as_json = json.loads(cluster.kubectl("get", "configmaps", "-o", "json").stdout)
    assert [item["metadata"]["name"] for item in as_json["items"]] == names


def test_a_continue_token_walks_the_first_pages_snapshot(
    cluster: ClusterHandle, core: client.CoreV1Api, apply: Apply
) -> None:
    create_configmaps(core, ["a", "b", "c", "d", "e", "f"])
    first = core.list_namespaced_config_map("default", limit=2)
    assert [c.metadata.name for c in first.items] == ["a", "b"]
    assert first.metadata.remaining_item_count == 4
    core.delete_namespaced_config_map("c", "default")
    core.delete_namespaced_config_map("a", "default")
    apply(configmap("bb"))
    cluster.kubectl("label", "cm", "d", "changed=after-the-first-page")

    second = core.list_namespaced_config_map("default", limit=2, _continue=first.metadata._continue)
    assert [c.metadata.name for c in second.items] == ["c", "d"]  # as of the first page
    assert second.items[1].metadata.labels is None
    assert second.metadata.resource_version == first.metadata.resource_version
    third = core.list_namespaced_config_map("default", limit=2, _continue=second.metadata._continue)
    assert [c.metadata.name for c in third.items] == ["e", "f"]
    assert not third.metadata._continue and third.metadata.remaining_item_count is None

    fresh = core.list_namespaced_config_map("default")
    assert [c.metadata.name for c in fresh.items] == ["b", "bb", "d", "e", "f"]


def test_an_expired_token_is_410_with_a_token_to_carry_on(
    cluster: ClusterHandle, core: client.CoreV1Api
) -> None:
    create_configmaps(core, ["a", "b", "c"])
    first = core.list_namespaced_config_map("default", limit=1)
    cluster.call(lambda: setattr(cluster.cluster.pager, "max_age", 0.0))
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map("default", limit=1, _continue=first.metadata._continue)
    assert caught.value.status == 410
    status = json.loads(caught.value.body)
    assert status["reason"] == "Expired"
    assert status["message"].startswith(
        "The provided continue parameter is too old to display a consistent list result."
    )
    rest = core.list_namespaced_config_map("default", _continue=status["metadata"]["continue"])
    assert [c.metadata.name for c in rest.items] == ["b", "c"]


def test_a_broken_token_is_a_bad_request(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map("default", limit=1, _continue="not-a-token")
    assert caught.value.status == 400
    assert "continue key is not valid" in json.loads(caught.value.body)["message"]


def test_chunks_across_namespaces(cluster: ClusterHandle) -> None:
    for namespace in ("a", "b"):
        cluster.kubectl("create", "namespace", namespace)
        for name in ("x", "y"):
            cluster.kubectl("create", "configmap", name, "-n", namespace)
    shown = cluster.kubectl("get", "configmaps", "-A", "--chunk-size=1", "--no-headers").stdout.splitlines()
    assert [tuple(line.split()[:2]) for line in shown] == [("a", "x"), ("a", "y"), ("b", "x"), ("b", "y")]
