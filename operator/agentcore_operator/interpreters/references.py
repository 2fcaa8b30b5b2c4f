"""Sessions that reference a CodeInterpreter by name (spec.codeInterpreterRef), in both directions.

A session names an interpreter of its namespace; the interpreter needs to know which
sessions use it (in-use protection, like a PVC's), and a change of either queues the
other. The store of sessions is scanned: interpreters are few and change rarely.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from agentcore_operator.api.v1alpha1 import SessionSpec
from agentcore_operator.controller.store import Key, Store

InterpreterLookup = Callable[[str, str], dict[str, Any] | None]  # (namespace, name) -> body

# Sessions in these phases no longer hold the interpreter: nothing runs on it any more.
RELEASED_PHASES = frozenset({"Terminated"})


def ref_name(body: dict[str, Any]) -> str | None:
    """The CodeInterpreter a session references, if any."""
    ref = (body.get("spec") or {}).get("codeInterpreterRef")
    name = ref.get("name") if isinstance(ref, dict) else None
    return name if isinstance(name, str) and name else None


def interpreter_keys_of(session: dict[str, Any]) -> list[Key]:
    name = ref_name(session)
    return [(str((session.get("metadata") or {}).get("namespace", "")), name)] if name else []


def _references(session: dict[str, Any], namespace: str, name: str) -> bool:
    meta = session.get("metadata") or {}
    return meta.get("namespace") == namespace and ref_name(session) == name


def _holds(session: dict[str, Any]) -> bool:
    """Whether a session still uses (or may still start on) its interpreter."""
    status = session.get("status") or {}
    phase = status.get("phase")
    if phase in RELEASED_PHASES:
        return False
    return not (phase == "Failed" and not status.get("sessionId"))


def users_of(sessions: Store, namespace: str, name: str) -> tuple[str, ...]:
    """The names of the sessions that keep a CodeInterpreter from being deleted."""
    return tuple(
        sorted(
            str((body.get("metadata") or {}).get("name"))
            for body in sessions.bodies()
            if _references(body, namespace, name) and _holds(body)
        )
    )


def sessions_using(sessions: Store, interpreter: dict[str, Any]) -> list[Key]:
    """Every session that references this CodeInterpreter (to be queued when it changes)."""
    meta = interpreter.get("metadata") or {}
    namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
    return [
        (namespace, str((body.get("metadata") or {}).get("name")))
        for body in sessions.bodies()
        if _references(body, namespace, name)
    ]


def resolve_ref(
    spec: SessionSpec, namespace: str, lookup: InterpreterLookup | None
) -> tuple[SessionSpec, str | None]:
    """The session's spec on its referenced interpreter's id, or why it must wait for it.

    The session runs where the interpreter lives: its id and region come from the
    CodeInterpreter's status, written by the operator once AgentCore said READY.
    """
    name = spec.code_interpreter_ref
    body = lookup(namespace, name) if lookup is not None and name else None
    if body is None:
        return spec, f"waiting for CodeInterpreter {name}: it does not exist in namespace {namespace}"
    status = body.get("status") or {}
    interpreter_id, phase = status.get("codeInterpreterId"), status.get("phase")
    deleting = bool((body.get("metadata") or {}).get("deletionTimestamp"))
    if phase == "Ready" and isinstance(interpreter_id, str) and not deleting:
        region = status.get("region")
        region = region if isinstance(region, str) else spec.region
        return replace(spec, code_interpreter_identifier=interpreter_id, region=region), None
    state = "being deleted" if deleting else f"{phase or 'not reconciled yet'}"
    reason = next((c.get("reason") for c in status.get("conditions") or () if c.get("type") == "Ready"), None)
    detail = f" ({reason}: {status.get('message')})" if reason and status.get("message") else ""
    return spec, f"waiting for CodeInterpreter {name}: it is {state}{detail}"
