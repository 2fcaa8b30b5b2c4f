"""The structured-merge rules on their own: FieldsV1 spelling, list order, pruning.

The behaviour clients see is tested through kubectl and the Python client in
test_field_ownership.py; these pin the rules that are easy to get subtly wrong, with the
results structured-merge-diff gives for the same inputs."""

from __future__ import annotations

from agentcore_operator.local.cluster import fieldpath
from agentcore_operator.local.cluster.fieldpath import CONTAINER, list_map, struct

CONTAINERS = list_map("name", element=CONTAINER)


def names(items: list[dict[str, str]]) -> list[str]:
    return [item["name"] for item in items]


def test_fields_v1_round_trip() -> None:
    encoded = {
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {"f:containers": {'k:{"name":"app"}': {".": {}, "f:image": {}}}},
    }
    assert fieldpath.encode(fieldpath.decode(encoded)) == encoded


def test_applied_items_keep_applied_order_and_live_only_items_stay_in_place() -> None:
    live = [{"name": "a"}, {"name": "b"}, {"name": "c"}]
    applied = [{"name": "c"}, {"name": "a"}]
    assert names(fieldpath.merge(live, applied, CONTAINERS)) == ["b", "c", "a"]
    assert names(fieldpath.merge(live, [{"name": "d"}], CONTAINERS)) == ["a", "b", "c", "d"]


def test_items_merge_by_key_and_atomic_lists_are_replaced() -> None:
    live = [{"name": "app", "image": "x:1", "args": ["a", "b"]}]
    merged = fieldpath.merge(live, [{"name": "app", "args": ["c"]}], CONTAINERS)
    assert merged == [{"name": "app", "image": "x:1", "args": ["c"]}]


def test_prune_removes_only_what_nobody_owns_now() -> None:
    shape = struct(spec=struct(containers=CONTAINERS))
    value = {"spec": {"a": 1, "b": 2, "containers": [{"name": "x"}, {"name": "y"}]}}
    last = fieldpath.field_set(value, shape)
    now = fieldpath.field_set({"spec": {"a": 1, "containers": [{"name": "x"}]}}, shape)
    pruned = fieldpath.prune(
        value,
        fieldpath.ensure_named_fields_are_members(last, shape),
        fieldpath.ensure_named_fields_are_members(now, shape),
        shape,
    )
    assert pruned == {"spec": {"a": 1, "containers": [{"name": "x"}]}}


def test_paths_print_as_the_api_server_prints_them() -> None:
    path = (
        "f:spec",
        "f:containers",
        'k:{"name":"app"}',
        "f:ports",
        'k:{"containerPort":80,"protocol":"TCP"}',
    )
    assert fieldpath.describe(path) == '.spec.containers[name="app"].ports[containerPort=80,protocol="TCP"]'
    assert fieldpath.describe(("f:metadata", "f:finalizers", 'v:"a/b"')) == '.metadata.finalizers[="a/b"]'
