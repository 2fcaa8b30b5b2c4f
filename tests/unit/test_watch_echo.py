"""A watch event at a version the store holds is handed on without parsing its line."""

from __future__ import annotations

import json
from typing import Any

import pytest
from agentcore_operator.controller.informer import Informer, _modified_version
from agentcore_operator.controller.store import Store


def body(rv: str, name: str = "a", **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "agentcore.dev/v1alpha1",
        "kind": "CodeInterpreterSession",
        "metadata": {"namespace": "ns", "name": name, "uid": "u1", "resourceVersion": rv, **meta},
        "spec": {"sessionTimeoutSeconds": 900},
        "status": {"phase": "Ready"},
    }


def line(kind: str, obj: dict[str, Any], **dumps: Any) -> bytes:
    return json.dumps({"type": kind, "object": obj}, **dumps).encode()


@pytest.mark.parametrize("compact", [False, True])
def test_the_version_of_a_modified_event_is_read_from_its_bytes(compact: bool) -> None:
    separators = (",", ":") if compact else None
    assert _modified_version(line("MODIFIED", body("42"), separators=separators)) == "42"


@pytest.mark.parametrize(
    "raw",
    [
        line("ADDED", body("42")),
        line("DELETED", body("42")),
        line("BOOKMARK", {"metadata": {"resourceVersion": "42"}}),
        line("MODIFIED", body("42", labels={"resourceVersion": "7"})),  # named twice: parse
        line("MODIFIED", body("42", annotations={"note": "resourceVersion"})),
        line("MODIFIED", {"metadata": {"name": "a", "namespace": "ns"}}),  # none
        line("ERROR", {"code": 410, "message": "resourceVersion too old"}),
    ],
)
def test_anything_else_is_parsed(raw: bytes) -> None:
    assert _modified_version(raw) is None


def test_the_store_answers_by_version_and_forgets_replaced_and_removed_versions() -> None:
    store = Store()
    first = body("5")
    store.put(first)
    assert store.held_at("5") is first
    newer = body("6")
    store.put(newer)
    assert store.held_at("5") is None and store.held_at("6") is newer
    store.put(body("4"))  # older than held: ignored
    assert store.held_at("4") is None and store.held_at("6") is newer
    store.remove(("ns", "a"))
    assert store.held_at("6") is None


def test_an_echo_hands_on_the_body_held_and_anything_else_is_parsed() -> None:
    store = Store()
    held = body("6")
    store.put(held)
    seen: list[tuple[str, dict[str, Any]]] = []
    informer = Informer(None, "/x", lambda e: seen.append((e["type"], e["object"])), held=store.held_at)  # type: ignore[arg-type]
    assert informer._on_line(line("MODIFIED", body("6")), "1") == "6"
    assert seen[-1] == ("MODIFIED", held) and seen[-1][1] is held
    assert informer._on_line(line("MODIFIED", body("7")), "6") == "7"
    assert seen[-1][0] == "MODIFIED" and seen[-1][1] is not held
    assert seen[-1][1]["metadata"]["resourceVersion"] == "7"
    informer._on_line(line("DELETED", body("7")), "7")
    assert seen[-1][0] == "DELETED"
