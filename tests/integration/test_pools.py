"""CodeInterpreterSessionPool end to end: kubectl -> emulated cluster -> operator -> AgentCore emulator.

Assertions are on what a user or AWS sees: the pool and its sessions through the API
server (kubectl), and the emulator's own session table over HTTP (/_emulator/sessions).
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from agentcore_operator.controller.kube import KubeConflict, KubeWriter, load_configuration
from agentcore_operator.local.agentcore.testing import EmulatorHandle
from agentcore_operator.local.cluster.testing import ClusterHandle
from agentcore_operator.local.harness import RunningOperator, SharedClock
from agentcore_operator.manager.settings import Settings
from agentcore_operator.pools.decision import PoolTiming

from .conftest import StartOperator, eventually, session_manifest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pools" / "warm-pool.yaml"
POOLS = "codeinterpretersessionpools"
SESSIONS = "codeinterpretersessions"
FAST_POOLS = PoolTiming(refresh_lead_seconds=30.0, failure_backoff_seconds=1.0, resync_seconds=0.3)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, pool_timing=FAST_POOLS)


@pytest.fixture
def operator(start_operator: StartOperator) -> Iterator[RunningOperator]:
    with start_operator() as running:
        yield running


def pool_manifest(name: str, replicas: int, **extra: Any) -> dict[str, Any]:
    template_spec = extra.pop("template_spec", {"sessionTimeoutSeconds": 900})
    return {
        "apiVersion": "agentcore.dev/v1alpha1",
        "kind": "CodeInterpreterSessionPool",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "template": {"metadata": {"labels": {"team": "data"}}, "spec": template_spec},
            **extra,
        },
    }


def apply(cluster: ClusterHandle, manifest: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))


def pool_status(cluster: ClusterHandle, name: str) -> dict[str, Any]:
    return dict((cluster.get(POOLS, "default", name) or {}).get("status") or {})


def free_children(cluster: ClusterHandle, pool: str) -> list[dict[str, Any]]:
    """The pool's free sessions as kubectl lists them (by the pool's own status.selector)."""
    out = cluster.kubectl(
        "get",
        SESSIONS,
        "-n",
        "default",
        "-l",
        f"agentcore.dev/pool={pool},agentcore.dev/pool-state=free",
        "-o",
        "json",
    )
    items: list[dict[str, Any]] = json.loads(out.stdout)["items"]
    return [c for c in items if not c["metadata"].get("deletionTimestamp")]


def ready_pool(cluster: ClusterHandle, name: str, replicas: int, timeout: float = 30.0) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        status = pool_status(cluster, name)
        condition = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})
        children = free_children(cluster, name)
        done = (
            status.get("readyReplicas") == replicas
            and status.get("replicas") == replicas
            and condition.get("status") == "True"
            and len(children) == replicas
            and all((c.get("status") or {}).get("phase") == "Ready" for c in children)
        )
        return status if done else None

    return eventually(ready, timeout=timeout, message=f"pool {name} with {replicas} Ready free sessions")


def emulated_sessions(emulator: EmulatorHandle) -> dict[str, str]:
    """Session id -> status, from the emulator's introspection endpoint over HTTP."""
    with urllib.request.urlopen(f"{emulator.endpoint_url}/_emulator/sessions", timeout=10) as response:
        sessions = json.loads(response.read())["sessions"]
    return {s["sessionId"]: s["status"] for s in sessions}


def session_ids(children: list[dict[str, Any]]) -> set[str]:
    return {c["status"]["sessionId"] for c in children}


def terminated(emulator: EmulatorHandle, ids: set[str]) -> bool:
    states = emulated_sessions(emulator)
    return all(states.get(i) == "TERMINATED" for i in ids)


def test_a_pool_of_3_gets_3_ready_free_sessions(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    apply(cluster, pool_manifest("p", 3))
    status = ready_pool(cluster, "p", 3)
    assert status["selector"] == "agentcore.dev/pool=p,agentcore.dev/pool-state=free"
    pool = cluster.get(POOLS, "default", "p") or {}
    assert status["observedGeneration"] == pool["metadata"]["generation"]
    children = free_children(cluster, "p")
    for child in children:
        meta = child["metadata"]
        assert meta["name"].startswith("p-") and len(meta["name"]) == len("p-") + 5
        assert meta["labels"]["team"] == "data"  # the template's labels are copied
        (owner,) = meta["ownerReferences"]
        assert owner["kind"] == "CodeInterpreterSessionPool" and owner["uid"] == pool["metadata"]["uid"]
        assert owner["controller"] is True and owner["blockOwnerDeletion"] is True
        assert child["spec"]["deletionPolicy"] == "Delete"
    states = emulated_sessions(emulator)
    assert all(states[i] == "READY" for i in session_ids(children))
    table = cluster.kubectl("get", "cisp", "p").stdout.split()
    assert table[:4] == ["NAME", "DESIRED", "FREE", "READY"] and table[5:8] == ["p", "3", "3"]
    assert operator.operator.health is not None
    metrics = urllib.request.urlopen(
        f"http://127.0.0.1:{operator.operator.health.port}/metrics", timeout=5
    ).read()
    for name in ("desired", "free", "free_ready"):
        assert f'agentcore_pool_sessions_{name}{{namespace="default",pool="p"}} 3.0' in metrics.decode()


def test_a_deleted_free_session_is_replaced_and_stopped(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    apply(cluster, pool_manifest("p", 3))
    ready_pool(cluster, "p", 3)
    victim = free_children(cluster, "p")[0]
    cluster.kubectl("delete", SESSIONS, victim["metadata"]["name"], "-n", "default", "--wait=false")
    eventually(
        lambda: terminated(emulator, {victim["status"]["sessionId"]}), message="deleted session stopped"
    )
    ready_pool(cluster, "p", 3)
    names = {c["metadata"]["name"] for c in free_children(cluster, "p")}
    assert victim["metadata"]["name"] not in names


def test_sessions_near_expiry_are_replaced_before_they_are_handed_out(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator, clock: SharedClock
) -> None:
    apply(
        cluster, pool_manifest("p", 2, template_spec={"sessionTimeoutSeconds": 300}, minRemainingSeconds=60)
    )
    ready_pool(cluster, "p", 2)
    old = free_children(cluster, "p")
    # 300 s sessions, 60 s minimum left, 30 s lead: due 210 s after their start.
    clock.advance(215)
    eventually(
        lambda: (
            not (
                {c["metadata"]["name"] for c in old}
                & {c["metadata"]["name"] for c in free_children(cluster, "p")}
            )
        ),
        timeout=30,
        message="every old session replaced",
    )
    ready_pool(cluster, "p", 2)
    eventually(lambda: terminated(emulator, session_ids(old)), message="the replaced sessions stopped")
    status = pool_status(cluster, "p")
    assert status["readyReplicas"] == 2


def test_scaling_down_by_patch_drains_and_stops_the_free_sessions(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    apply(cluster, pool_manifest("p", 3))
    ready_pool(cluster, "p", 3)
    ids = session_ids(free_children(cluster, "p"))
    cluster.kubectl("patch", "cisp", "p", "-n", "default", "--type", "merge", "-p", '{"spec":{"replicas":1}}')
    eventually(lambda: len(free_children(cluster, "p")) == 1, message="scaled down to 1")
    kept = session_ids(free_children(cluster, "p"))
    eventually(lambda: terminated(emulator, ids - kept), message="the let-go sessions stopped")
    ready_pool(cluster, "p", 1)


def test_kubectl_scale_to_zero_drains_and_stops_the_free_sessions(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    apply(cluster, pool_manifest("p", 3))
    ready_pool(cluster, "p", 3)
    ids = session_ids(free_children(cluster, "p"))
    cluster.kubectl("scale", "codeinterpretersessionpool/p", "-n", "default", "--replicas=0")
    eventually(lambda: not free_children(cluster, "p"), message="no free session left")
    eventually(lambda: terminated(emulator, ids), message="every pooled session stopped in AgentCore")
    eventually(lambda: pool_status(cluster, "p").get("replicas") == 0, message="status.replicas 0")
    path = "/apis/agentcore.dev/v1alpha1/namespaces/default/codeinterpretersessionpools/p/scale"
    scale = json.loads(cluster.kubectl("get", "--raw", path).stdout)  # what an HPA reads
    assert scale["kind"] == "Scale" and scale["spec"].get("replicas", 0) == 0  # omitempty, as autoscaling/v1
    assert scale["status"] == {
        "replicas": 0,
        "selector": "agentcore.dev/pool=p,agentcore.dev/pool-state=free",
    }


def test_deleting_the_pool_stops_its_free_sessions(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    apply(cluster, pool_manifest("p", 2))
    ready_pool(cluster, "p", 2)
    ids = session_ids(free_children(cluster, "p"))
    cluster.kubectl("delete", "cisp", "p", "-n", "default", "--wait=false")
    eventually(
        lambda: not cluster.objects(SESSIONS, "default"), message="garbage collection deleted the sessions"
    )
    eventually(lambda: terminated(emulator, ids), message="their sessions stopped in AgentCore")


def test_a_template_that_cannot_start_backs_off_and_says_why(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    missing = "missing_interp-abcdefghij"
    apply(cluster, pool_manifest("p", 1, template_spec={"codeInterpreterIdentifier": missing}))

    def failed() -> dict[str, Any] | None:
        condition = next(
            (c for c in pool_status(cluster, "p").get("conditions", []) if c["type"] == "Ready"), {}
        )
        return condition if condition.get("reason") == "ChildFailed" else None

    condition = eventually(failed, timeout=30, message="the pool says its sessions fail")
    assert condition["status"] == "False" and "failed" in condition["message"]
    time.sleep(3.0)
    failures = sum(1 for e in cluster.events("default") if e.get("reason") == "ChildFailed")
    assert 1 <= failures <= 3  # backed off 1 s, 2 s, 4 s...: not a hot loop of creates


def test_the_example_pool_fills(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    cluster.kubectl("apply", "-n", "default", "-f", str(EXAMPLE))
    ready_pool(cluster, "warm", 3)
    assert all(c["metadata"]["labels"]["team"] == "data-science" for c in free_children(cluster, "warm"))


def test_a_delete_of_a_session_changed_since_it_was_read_is_refused(cluster: ClusterHandle) -> None:
    """The pool's delete carries the resourceVersion it read: a claim's binding in between wins."""
    writer = KubeWriter(load_configuration(str(cluster.kubeconfig)))
    manifest = {
        "apiVersion": "agentcore.dev/v1alpha1",
        "kind": "CodeInterpreterSession",
        "metadata": {
            "name": "p-race1",
            "namespace": "default",
            "labels": {"agentcore.dev/pool-state": "free"},
        },
        "spec": {},
    }

    async def race() -> None:
        try:
            created = await writer.create(SESSIONS, "default", manifest)
            assert created is not None
            uid, read_version = created["metadata"]["uid"], created["metadata"]["resourceVersion"]
            cluster.kubectl(
                "label", SESSIONS, "p-race1", "-n", "default", "agentcore.dev/pool-state=bound", "--overwrite"
            )
            with pytest.raises(KubeConflict):
                await writer.delete(SESSIONS, "default", "p-race1", uid, read_version)
            assert cluster.get(SESSIONS, "default", "p-race1") is not None
            current = cluster.get(SESSIONS, "default", "p-race1") or {}
            await writer.delete(SESSIONS, "default", "p-race1", uid, current["metadata"]["resourceVersion"])
            assert cluster.get(SESSIONS, "default", "p-race1") is None  # no finalizer: gone at once
            await writer.delete(SESSIONS, "default", "p-race1", uid, "1")  # already gone: fine
        finally:
            await writer.close()

    asyncio.run(race())


def test_a_bound_session_is_the_pools_no_more(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    """A claim's binding (one merge patch, as contract.md says) takes the session out of the pool:
    the pool starts a replacement, and neither scaling to zero nor deleting the pool touches it."""
    apply(cluster, pool_manifest("p", 2))
    ready_pool(cluster, "p", 2)
    taken = free_children(cluster, "p")[0]
    name = taken["metadata"]["name"]
    # The claim kind is another branch's: a ConfigMap stands in as the new owner (GC needs it to exist).
    cluster.kubectl("create", "configmap", "claim-stand-in", "-n", "default")
    stand_in = cluster.get("configmaps", "default", "claim-stand-in", group="", version="v1") or {}
    claim_owner = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "claim-stand-in",
        "uid": stand_in["metadata"]["uid"],
    }
    binding = {
        "metadata": {
            "resourceVersion": taken["metadata"]["resourceVersion"],
            "labels": {"agentcore.dev/pool-state": "bound", "agentcore.dev/claim": "c1"},
            "ownerReferences": [{**claim_owner, "controller": True, "blockOwnerDeletion": True}],
        }
    }
    cluster.kubectl("patch", SESSIONS, name, "-n", "default", "--type", "merge", "-p", json.dumps(binding))
    ready_pool(cluster, "p", 2)
    assert name not in {c["metadata"]["name"] for c in free_children(cluster, "p")}
    cluster.kubectl("patch", "cisp", "p", "-n", "default", "--type", "merge", "-p", '{"spec":{"replicas":0}}')
    eventually(lambda: not free_children(cluster, "p"), message="the free sessions drained")
    bound = cluster.get(SESSIONS, "default", name) or {}
    assert not bound["metadata"].get("deletionTimestamp") and bound["status"]["phase"] == "Ready"
    assert emulated_sessions(emulator)[taken["status"]["sessionId"]] == "READY"
    cluster.kubectl("delete", "cisp", "p", "-n", "default")
    eventually(lambda: cluster.get(POOLS, "default", "p") is None, message="the pool gone")
    time.sleep(1.0)  # a pass or a GC sweep that would wrongly take it would have run
    assert not (cluster.get(SESSIONS, "default", name) or {"metadata": {"deletionTimestamp": "gone"}})[
        "metadata"
    ].get("deletionTimestamp")
    assert emulated_sessions(emulator)[taken["status"]["sessionId"]] == "READY"


@pytest.mark.parametrize("emulator_config", [{"max_sessions": 2}], indirect=True)
def test_a_pool_never_takes_the_slot_a_cold_session_waits_for(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    """Quota of 2: the pool fills 2 of its 3 and waits; a plain session then waits too. When a
    slot frees, the plain session gets it, not the pool's waiting child."""
    apply(cluster, pool_manifest("p", 3))
    eventually(lambda: pool_status(cluster, "p").get("readyReplicas") == 2, message="2 of 3 Ready")
    status = pool_status(cluster, "p")
    assert status["replicas"] == 3  # the third waits for quota and counts: no fourth is started
    apply(cluster, session_manifest("cold"))

    def waiting(name: str) -> bool:
        body = cluster.get(SESSIONS, "default", name) or {}
        return (body.get("status") or {}).get("phase") == "Pending"

    eventually(lambda: waiting("cold"), message="the plain session waits for quota")
    victim = next(c for c in free_children(cluster, "p") if (c.get("status") or {}).get("phase") == "Ready")
    cluster.kubectl("delete", SESSIONS, victim["metadata"]["name"], "-n", "default", "--wait=false")
    eventually(
        lambda: (
            ((cluster.get(SESSIONS, "default", "cold") or {}).get("status") or {}).get("phase") == "Ready"
        ),
        message="the plain session took the freed slot",
    )
    assert pool_status(cluster, "p").get("readyReplicas", 0) <= 1
    assert len([s for s in emulated_sessions(emulator).values() if s == "READY"]) == 2
