"""The pool's part of a pass: its view of the pool and its children, and how its writes end."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from agentcore_operator.controller.kube import KubeConflict, KubeError
from agentcore_operator.controller.store import Store
from agentcore_operator.pools.children import PoolChildren
from agentcore_operator.pools.decision import (
    ChildCreated,
    ChildDeleted,
    CreateChild,
    DeleteChild,
    PoolAction,
    PoolObservation,
    WriteFailed,
)
from agentcore_operator.pools.kind import PoolKind


class Writes:
    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.calls: list[tuple[str, Any, Any]] = []

    async def create(self, plural: str, namespace: str, body: dict[str, Any]) -> dict[str, Any] | None:
        self.calls.append(("create", (plural, namespace), body))
        if self.error:
            raise self.error
        return body

    async def delete(
        self, plural: str, namespace: str, name: str, uid: str, resource_version: str | None = None
    ) -> None:
        self.calls.append(("delete", (plural, namespace, name, uid), resource_version))
        if self.error:
            raise self.error


def pool(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": "p", "uid": "pool-uid", "generation": 1},
        "spec": {"replicas": 2, "template": {"spec": {}}, **spec},
    }


def kind(writes: Writes) -> tuple[PoolKind, PoolChildren]:
    children = PoolChildren(Store())
    return PoolKind(children=children, sessions=writes, default_region="us-east-1"), children


def perform(made: PoolKind, action: PoolAction) -> PoolObservation:
    return asyncio.run(made.perform(action))


def conflict_from(error: KubeError) -> KubeConflict:
    """What KubeWriter raises for a 409 or 422 answer to a write."""
    try:
        raise KubeConflict(str(error)) from error
    except KubeConflict as conflict:
        return conflict


CREATE = CreateChild("ns", "p-abcde", {"metadata": {"name": "p-abcde", "namespace": "ns"}})
DELETE = DeleteChild("ns", "p-abcde", "child-uid", "42", "ScaleDown")


def test_the_view_reads_the_spec_and_names_the_next_child() -> None:
    made, _ = kind(Writes())
    view = made.view(pool())
    assert view.spec is not None and view.spec.replicas == 2 and view.spec_error is None
    assert view.next_name.startswith("p-") and len(view.next_name) == 7


def test_a_bad_spec_is_a_view_with_its_message() -> None:
    made, _ = kind(Writes())
    view = made.view(pool(replicas=-1))
    assert view.spec is None and view.spec_error is not None and "spec.replicas" in view.spec_error


def test_a_create_sends_the_manifest_and_is_then_expected() -> None:
    writes = Writes()
    made, children = kind(writes)
    observation = perform(made, CREATE)
    assert observation == ChildCreated("p-abcde")
    assert writes.calls == [("create", ("codeinterpretersessions", "ns"), CREATE.manifest)]
    made.acted(("ns", "p"), pool(), CREATE, observation)
    assert [c.name for c in children.free_children("ns", "p", "pool-uid")] == ["p-abcde"]


def test_a_delete_carries_the_uid_and_resource_version_it_saw() -> None:
    writes = Writes()
    made, _ = kind(writes)
    assert perform(made, DELETE) == ChildDeleted("p-abcde")
    assert writes.calls == [("delete", ("codeinterpretersessions", "ns", "p-abcde", "child-uid"), "42")]


@pytest.mark.parametrize(
    ("error", "conflict"),
    [
        (KubeError(409, "Conflict", "the object has been modified"), True),
        (conflict_from(KubeError(409, "AlreadyExists", "p-abcde")), True),
        (conflict_from(KubeError(422, "Invalid", "metadata.name")), False),
        (KubeError(412, "Precondition", "uid"), True),
        (KubeError(403, "Forbidden", "cannot create"), False),
        (KubeError(422, "Invalid", "spec.x"), False),
        (aiohttp.ServerDisconnectedError(), False),
        (TimeoutError(), False),
    ],
)
def test_a_refused_or_unanswered_write_is_an_observation(error: BaseException, conflict: bool) -> None:
    made, _ = kind(Writes(error))
    for action in (CREATE, DELETE):
        observation = perform(made, action)
        assert isinstance(observation, WriteFailed) and observation.conflict is conflict
        assert observation.operation == ("create" if action is CREATE else "delete")
