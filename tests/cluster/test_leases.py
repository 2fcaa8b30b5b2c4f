"""Leases on the emulated cluster, as a leader elector uses them, through the kubernetes client.

The behaviour is the API server's optimistic concurrency: of two creates of one name, one
gets 201 and the other 409 AlreadyExists; an update carrying a resourceVersion that is no
longer current gets 409 Conflict. Then our elector (runtime/elector.py) over real HTTP:
a create race between two electors, takeover after expiry, release, and a fault that cuts
one client off by user agent or token while the others carry on.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from agentcore_operator.controller.kube import load_configuration
from agentcore_operator.local.cluster.testing import ClusterHandle, running_cluster
from agentcore_operator.runtime.elector import ElectionTiming, KubernetesLeaseLock, LeaderElector
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

NAMESPACE = "default"
FAST = ElectionTiming(lease_duration=1.5, renew_deadline=1.0, retry_period=0.2)


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterHandle]:
    with running_cluster() as handle:
        yield handle


def api(cluster: ClusterHandle, user_agent: str | None = None) -> k8s.CoordinationV1Api:
    client = k8s.ApiClient(load_configuration(str(cluster.kubeconfig)))
    if user_agent:
        client.user_agent = user_agent
    return k8s.CoordinationV1Api(client)


def lease(name: str, holder: str, resource_version: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": NAMESPACE}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": 15,
            "acquireTime": "2026-01-01T00:00:00.000000Z",
            "renewTime": "2026-01-01T00:00:00.000000Z",
            "leaseTransitions": 0,
        },
    }


def status_of(exc: ApiException) -> tuple[int, str]:
    return exc.status, json.loads(exc.body)["reason"]


def test_of_two_concurrent_creates_one_wins_and_the_other_gets_already_exists(cluster: ClusterHandle) -> None:
    outcomes: list[Any] = []
    barrier = threading.Barrier(2)

    def create(holder: str) -> None:
        coordination = api(cluster)
        barrier.wait()
        try:
            created = coordination.create_namespaced_lease(NAMESPACE, lease("race", holder))
            outcomes.append(("created", created.spec.holder_identity))
        except ApiException as exc:
            outcomes.append(status_of(exc))

    threads = [threading.Thread(target=create, args=(h,)) for h in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(o[0] for o in outcomes if o[0] == "created") == ["created"]
    assert (409, "AlreadyExists") in outcomes
    winner = next(o[1] for o in outcomes if o[0] == "created")
    assert api(cluster).read_namespaced_lease("race", NAMESPACE).spec.holder_identity == winner


def test_an_update_with_a_stale_resource_version_gets_conflict(cluster: ClusterHandle) -> None:
    coordination = api(cluster)
    created = coordination.create_namespaced_lease(NAMESPACE, lease("stale", "a"))
    first = created.metadata.resource_version
    renewal = lease("stale", "a", first)
    renewal["spec"]["renewTime"] = "2026-01-01T00:00:02.000000Z"  # a renewal always moves renewTime
    renewed = coordination.replace_namespaced_lease("stale", NAMESPACE, renewal)
    assert renewed.metadata.resource_version != first
    with pytest.raises(ApiException) as caught:
        coordination.replace_namespaced_lease("stale", NAMESPACE, lease("stale", "b", first))
    assert status_of(caught.value) == (409, "Conflict")
    assert coordination.read_namespaced_lease("stale", NAMESPACE).spec.holder_identity == "a"


def test_micro_times_and_an_empty_holder_round_trip(cluster: ClusterHandle) -> None:
    coordination = api(cluster)
    body = lease("released", "")
    body["spec"]["leaseDurationSeconds"] = 1
    created = coordination.create_namespaced_lease(NAMESPACE, body)
    assert created.spec.holder_identity in ("", None)
    assert created.spec.renew_time.microsecond == 0 and created.spec.lease_duration_seconds == 1


# -- the elector over HTTP ----------------------------------------------------------------


def make_elector(cluster: ClusterHandle, name: str, identity: str) -> LeaderElector:
    lock = KubernetesLeaseLock(
        load_configuration(str(cluster.kubeconfig)),
        NAMESPACE,
        name,
        user_agent=f"agentcore-operator/{identity}",
        request_timeout=1.0,
    )
    return LeaderElector(lock, identity, FAST)


def holder(cluster: ClusterHandle, name: str) -> str:
    return str(api(cluster).read_namespaced_lease(name, NAMESPACE).spec.holder_identity or "")


def test_two_electors_racing_for_a_new_lease_elect_exactly_one(cluster: ClusterHandle) -> None:
    async def race() -> list[bool]:
        a, b = make_elector(cluster, "elect", "a"), make_elector(cluster, "elect", "b")
        try:
            return list(await asyncio.gather(a.try_acquire_or_renew(), b.try_acquire_or_renew()))
        finally:
            a.lock.close()
            b.lock.close()

    assert sorted(asyncio.run(race())) == [False, True]
    # The loser either lost the create (409 AlreadyExists) or read the winner's fresh record.
    record = api(cluster).read_namespaced_lease("elect", NAMESPACE).spec
    assert record.holder_identity in ("a", "b") and record.lease_transitions == 0


def test_a_standby_takes_over_after_expiry_and_at_once_after_release(cluster: ClusterHandle) -> None:
    async def scenario() -> tuple[float, float]:
        a, b = make_elector(cluster, "takeover", "a"), make_elector(cluster, "takeover", "b")
        try:
            assert await a.try_acquire_or_renew()
            assert not await b.try_acquire_or_renew()
            started = time.monotonic()
            await b.acquire()  # a never renews: b waits out the lease duration
            expiry_wait = time.monotonic() - started
            b._leading = True
            c = make_elector(cluster, "takeover", "c")
            assert not await c.try_acquire_or_renew()
            assert await b.release()
            started = time.monotonic()
            await c.acquire()
            release_wait = time.monotonic() - started
            c.lock.close()
            return expiry_wait, release_wait
        finally:
            a.lock.close()
            b.lock.close()

    expiry_wait, release_wait = asyncio.run(scenario())
    assert expiry_wait >= FAST.lease_duration - 0.05
    assert release_wait < FAST.retry_period * 1.5
    assert holder(cluster, "takeover") == "c"


def test_a_fault_for_one_user_agent_cuts_only_that_client_off(cluster: ClusterHandle) -> None:
    cluster.inject_fault("*", "/leases", 503, count=None, user_agent="^agentcore-operator/cut-off$")
    try:
        with pytest.raises(ApiException) as caught:
            api(cluster, "agentcore-operator/cut-off").list_namespaced_lease(NAMESPACE)
        assert caught.value.status == 503
        assert api(cluster, "agentcore-operator/other").list_namespaced_lease(NAMESPACE).items is not None
    finally:
        cluster.clear_faults()


def test_a_fault_for_one_token_cuts_only_that_client_off(cluster: ClusterHandle) -> None:
    response = requests.post(
        f"{cluster.url}/_cluster/faults",
        json={"path": ".", "status": 503, "count": None, "token": "partitioned-replica"},
        timeout=5,
    )
    assert response.status_code == 201 and response.json()["faults"][0]["token"] == "(set)"
    try:
        cut = requests.get(
            f"{cluster.url}/apis/coordination.k8s.io/v1/namespaces/default/leases",
            headers={"Authorization": "Bearer partitioned-replica"},
            timeout=5,
        )
        assert cut.status_code == 503 and cut.json()["reason"] == "ServiceUnavailable"
        other = requests.get(
            f"{cluster.url}/apis/coordination.k8s.io/v1/namespaces/default/leases",
            headers={"Authorization": "Bearer another-replica"},
            timeout=5,
        )
        assert other.status_code == 200
    finally:
        cluster.clear_faults()


def test_a_malformed_client_fault_is_refused_with_400(cluster: ClusterHandle) -> None:
    for body in (
        {"path": ".", "status": 503, "userAgent": "("},
        {"path": ".", "status": 503, "token": 7},
        [1],
    ):
        response = requests.post(f"{cluster.url}/_cluster/faults", json=body, timeout=5)
        assert response.status_code == 400, body


def test_a_watching_standby_takes_over_within_a_round_trip_of_the_release(cluster: ClusterHandle) -> None:
    """With a 2 s retry period, polling alone could leave the Lease free for 2.4 s; the
    standby also watches it, so a release wakes it at once."""
    slow = ElectionTiming(lease_duration=30, renew_deadline=20, retry_period=2)

    def watching(identity: str) -> LeaderElector:
        lock = KubernetesLeaseLock(
            load_configuration(str(cluster.kubeconfig)), NAMESPACE, "watched", request_timeout=1.0
        )
        return LeaderElector(lock, identity, slow, wait_for_release=lock.wait_for_release)

    async def scenario() -> float:
        leader, standby = watching("leader"), watching("standby")
        try:
            assert await leader.try_acquire_or_renew()
            leader._leading = True
            waiting = asyncio.create_task(standby.acquire())
            await asyncio.sleep(0.7)  # the standby has read the Lease and is watching it
            assert not waiting.done()
            assert await leader.release()
            released = time.monotonic()
            await asyncio.wait_for(waiting, 5)
            return time.monotonic() - released
        finally:
            leader.lock.close()
            standby.lock.close()

    took = asyncio.run(scenario())
    assert took < 0.5, f"took {took:.2f}s after the release"
    assert holder(cluster, "watched") == "standby"
