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
from agentcore_operator.controller.kube import KubeConnection, KubeWriter, load_configuration
from agentcore_operator.controller.store import Store
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


async def test_the_echo_of_our_own_write_is_handed_on_as_the_body_already_held(
    cluster: ClusterHandle,
) -> None:
    """Our status write's answer is in the store first; its watch event costs no JSON parse.

    An echo may also arrive before the answer (the server sends both at once): it is parsed
    then, and the answer put after it changes nothing. Only echoes that come after are checked.
    """
    apply(cluster, "echo")
    store = Store()
    events: list[dict[str, Any]] = []

    def observe(event: dict[str, Any]) -> None:
        events.append(event)
        if event["type"] != "DELETED":
            store.put(dict(event["object"]))

    def echo_of(version: str) -> dict[str, Any] | None:
        return next((e for e in events if e["object"]["metadata"]["resourceVersion"] == version), None)

    writer = KubeWriter(load_configuration(str(cluster.kubeconfig)))
    informer = Informer(writer.connection, PATH, observe, held=store.held_at)
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.listed.wait(), 10)
        held = store.get(("default", "echo"))
        assert held is not None and "managedFields" not in held["metadata"]
        checked, old = 0, {}
        for attempt in range(10):
            new = {"phase": "Pending", "message": f"write {attempt}"}
            written = await writer.patch_status(held, old, new)
            assert written is not None
            version, old = written["metadata"]["resourceVersion"], new
            came_first = echo_of(version) is not None
            store.put(written)
            await wait_for(lambda v=version: echo_of(v) is not None)
            held = store.get(("default", "echo"))
            assert held is not None
            if not came_first:
                echo = echo_of(version)
                assert echo is not None and echo["type"] == "MODIFIED" and echo["object"] is written
                checked += 1
        assert checked > 0
        await in_thread(lambda: cluster.kubectl("label", "codeinterpretersession", "echo", "team=a"))
        await wait_for(
            lambda: (store.get(("default", "echo")) or {})["metadata"].get("labels") == {"team": "a"}
        )
    finally:
        task.cancel()
        await writer.close()
