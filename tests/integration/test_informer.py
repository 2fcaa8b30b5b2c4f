"""The operator's informer against the emulated API server over HTTP: list, watch, resume, relist.

The watch protocol is Kubernetes' (resourceVersion, bookmarks, 410 Gone); the emulated
cluster serves it as kubectl and client-go expect, and kopf's own watcher was replaced by
this one, so what kopf did for the operator is pinned here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from agentcore_operator.controller.informer import Informer
from agentcore_operator.controller.kube import KubeConnection, load_configuration
from agentcore_operator.local.cluster.testing import ClusterHandle

from .conftest import session_manifest

PATH = "/apis/agentcore.dev/v1alpha1/namespaces/default/codeinterpretersessions"


def apply(cluster: ClusterHandle, name: str) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(session_manifest(name)))


async def wait_for(check: Callable[[], bool]) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not true within 10 s")


async def in_thread(fn: Callable[[], Any]) -> Any:
    return await asyncio.to_thread(fn)


async def test_lists_what_exists_then_streams_each_change(cluster: ClusterHandle) -> None:
    apply(cluster, "before")
    events: list[tuple[str, str]] = []
    connection = KubeConnection(load_configuration(str(cluster.kubeconfig)))
    informer = Informer(
        connection, PATH, lambda e: events.append((e["type"], e["object"]["metadata"]["name"]))
    )
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.listed.wait(), 10)
        assert events == [("ADDED", "before")]
        await in_thread(lambda: apply(cluster, "after"))
        await in_thread(lambda: cluster.kubectl("delete", "codeinterpretersession", "before"))
        await wait_for(lambda: ("DELETED", "before") in events)
        assert ("ADDED", "after") in events
    finally:
        task.cancel()
        await connection.close()


async def test_a_dropped_watch_resumes_from_the_last_version_without_replaying(
    cluster: ClusterHandle,
) -> None:
    apply(cluster, "one")
    events: list[tuple[str, str, str]] = []
    connection = KubeConnection(load_configuration(str(cluster.kubeconfig)))

    def note(event: dict[str, Any]) -> None:
        meta = event["object"]["metadata"]
        events.append((event["type"], meta["name"], meta.get("resourceVersion", "")))

    informer = Informer(connection, PATH, note)
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.listed.wait(), 10)
        await in_thread(cluster.drop_watches)
        await in_thread(lambda: apply(cluster, "two"))
        await wait_for(lambda: any(name == "two" for _, name, _ in events))
        assert [e for e in events if e[1] == "one"] == [events[0]]  # reported once, not again
        lists = [
            r
            for r in await in_thread(cluster.requests)
            if r["path"] == PATH and "watch=true" not in r["query"] and r["method"] == "GET"
        ]
        assert len(lists) == 1  # resumed by watching from a version, not by listing again
    finally:
        task.cancel()
        await connection.close()


async def test_a_relist_reports_what_vanished_meanwhile_as_deleted(cluster: ClusterHandle) -> None:
    apply(cluster, "stays")
    apply(cluster, "goes")
    events: list[tuple[str, str]] = []
    connection = KubeConnection(load_configuration(str(cluster.kubeconfig)))
    informer = Informer(
        connection, PATH, lambda e: events.append((e["type"], e["object"]["metadata"]["name"]))
    )
    task = asyncio.create_task(informer.run())
    await asyncio.wait_for(informer.listed.wait(), 10)
    task.cancel()
    try:
        await in_thread(lambda: cluster.kubectl("delete", "codeinterpretersession", "goes"))
        events.clear()
        informer.listed.clear()
        task = asyncio.create_task(informer.run())  # a fresh start lists again, as after 410 Gone
        await asyncio.wait_for(informer.listed.wait(), 10)
        assert sorted(events) == [("DELETED", "goes"), ("MODIFIED", "stays")]
    finally:
        task.cancel()
        await connection.close()


async def test_an_expired_watch_lists_again(cluster: ClusterHandle) -> None:
    apply(cluster, "a")
    events: list[tuple[str, str]] = []
    connection = KubeConnection(load_configuration(str(cluster.kubeconfig)))
    informer = Informer(
        connection, PATH, lambda e: events.append((e["type"], e["object"]["metadata"]["name"]))
    )
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.listed.wait(), 10)
        await in_thread(lambda: cluster.inject_fault("GET", "codeinterpretersessions$", 410, count=1))
        await in_thread(cluster.drop_watches)
        await wait_for(lambda: ("MODIFIED", "a") in events)  # the relist reports it again
        await in_thread(lambda: apply(cluster, "b"))
        await wait_for(lambda: ("ADDED", "b") in events)
    finally:
        task.cancel()
        await connection.close()
