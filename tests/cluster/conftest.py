"""Fixtures for the emulated cluster's tests: the cluster in a thread, and the kubernetes
Python client pointed at it through its kubeconfig, as any user's program would be."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from agentcore_operator.local.cluster.testing import ClusterHandle, running_cluster
from kubernetes import client, config


@pytest.fixture
def cluster() -> Iterator[ClusterHandle]:
    with running_cluster() as handle:
        yield handle


@pytest.fixture
def api_client(cluster: ClusterHandle) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def custom(api_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


Apply = Callable[..., None]


@pytest.fixture
def apply(cluster: ClusterHandle) -> Apply:
    """`kubectl apply` of one manifest given as a dict."""

    def run(manifest: dict[str, Any]) -> None:
        cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))

    return run


def configmap(name: str, namespace: str = "default", **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, **metadata},
    }


def session(name: str, namespace: str = "default", **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "agentcore.dev/v1alpha1",
        "kind": "CodeInterpreterSession",
        "metadata": {"name": name, "namespace": namespace, **metadata},
        "spec": {},
    }


def eventually(check: Callable[[], Any], timeout: float = 10.0, message: str = "") -> Any:
    """Poll until `check()` is truthy: the controllers work on their own task, as in a cluster."""
    deadline = time.monotonic() + timeout
    value: Any = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not true within {timeout}s: {message} (last: {value!r})")
