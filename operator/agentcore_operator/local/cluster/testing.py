"""Run the emulated cluster in a background thread, with the real kubectl pointed at it."""

from __future__ import annotations

import asyncio
import copy
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from agentcore_operator.local.background import serving_in_thread
from agentcore_operator.local.cluster.resources import EVENT_TYPE
from agentcore_operator.local.cluster.server import EmulatedCluster

REPO = Path(__file__).resolve().parents[4]
T = TypeVar("T")


def kubectl_binary() -> str:
    """The kubectl fetched by `make tools` (.tools/bin), else one on PATH."""
    local = REPO / ".tools" / "bin" / "kubectl"
    if local.exists():
        return str(local)
    found = shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl not found: run `make tools` (fetches it into .tools/bin)")
    return found


class KubectlError(RuntimeError):
    pass


def client_tool_env(kubeconfig: Path) -> dict[str, str]:
    """kubectl and helm pointed at the cluster `kubeconfig` names, each cluster with its own
    discovery cache beside its kubeconfig. The default cache ($HOME/.kube/cache) is keyed by
    host:port and trusted for hours; clusters come and go on reused ephemeral ports with different
    CRDs, so a shared cache once handed `kubectl scale` an old cluster's resource list without the
    scale subresource."""
    return {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "KUBECTL_KUBERC": "false",
        "KUBECACHEDIR": str(kubeconfig.parent / "kube-cache"),
    }


@dataclass
class ClusterHandle:
    url: str
    kubeconfig: Path
    cluster: EmulatedCluster
    loop: asyncio.AbstractEventLoop

    def tool_env(self) -> dict[str, str]:
        """The environment for a client binary (kubectl, helm) pointed at this cluster."""
        return client_tool_env(self.kubeconfig)

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [kubectl_binary(), "--kubeconfig", str(self.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.tool_env(),
            timeout=120,
        )
        if check and result.returncode != 0:
            raise KubectlError(
                f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
            )
        return result

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the server's loop, so it sees a consistent store."""

        async def wrapper() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout=30)

    def get(
        self,
        plural: str,
        namespace: str | None,
        name: str,
        group: str = "agentcore.dev",
        version: str = "v1alpha1",
    ) -> dict[str, Any] | None:
        if group == "" and version == "v1alpha1":
            version = "v1"
        resource_type = self.cluster.registry.get(group, version, plural)
        if resource_type is None:
            raise KeyError(f"{plural}.{group}/{version} is not served")
        return self.call(lambda: self.cluster.store.snapshot(resource_type, namespace, name))

    def objects(
        self,
        plural: str,
        namespace: str | None = None,
        group: str = "agentcore.dev",
        version: str = "v1alpha1",
    ) -> list[dict[str, Any]]:
        resource_type = self.cluster.registry.get(group, version, plural)
        if resource_type is None:
            raise KeyError(f"{plural}.{group}/{version} is not served")
        return self.call(lambda: copy.deepcopy(list(self.cluster.store.items(resource_type, namespace))))

    def events(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.call(lambda: copy.deepcopy(list(self.cluster.store.items(EVENT_TYPE, namespace))))

    def requests(self) -> list[dict[str, Any]]:
        return self.call(lambda: [r.to_dict() for r in self.cluster.requests])

    def inject_fault(
        self,
        method: str,
        path_pattern: str,
        status: int,
        count: int | None = 1,
        rate: float = 1.0,
        *,
        user_agent: str | None = None,
        token: str | None = None,
    ) -> None:
        self.call(
            lambda: self.cluster.inject_fault(
                method, path_pattern, status, count, rate, user_agent=user_agent, token=token
            )
        )

    def clear_faults(self) -> None:
        self.call(self.cluster.faults.clear)

    def drop_watches(self) -> int:
        return self.call(self.cluster.drop_watches)


@contextmanager
def running_cluster(crd_dir: Path | None = None, port: int = 0) -> Iterator[ClusterHandle]:
    cluster = EmulatedCluster([crd_dir or REPO / "crds"])
    workdir = Path(tempfile.mkdtemp(prefix="agentcore-cluster-"))
    try:
        with serving_in_thread(lambda: cluster.serving("127.0.0.1", port), "emulated-cluster") as (
            serving,
            loop,
        ):
            kubeconfig = cluster.write_kubeconfig(workdir / "kubeconfig", serving.url)
            yield ClusterHandle(serving.url, kubeconfig, cluster, loop)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
