"""Field ownership (`metadata.managedFields`) and server-side apply, as kube-apiserver does them.

Every write records who set which field. An update (create, PUT, any patch) silently takes
the fields it changed from whoever had them; an apply owns exactly the fields of its
configuration: a field it stops applying is removed (unless another manager still owns
it), and changing a field another manager owns is a 409 that names each conflict, unless
the apply is forced, which takes the field over. Helm 4, Argo CD's `ServerSideApply=true`,
`kubectl apply --server-side` and server-side diff all rest on these rules. The field sets
and merge rules themselves are in `fieldpath.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from agentcore_operator.local.cluster import fieldpath
from agentcore_operator.local.cluster.fieldpath import FieldPathError, Node, Shape
from agentcore_operator.local.cluster.params import query_flag
from agentcore_operator.local.cluster.patch import load_yaml
from agentcore_operator.local.cluster.resources import ResourceType
from agentcore_operator.local.cluster.schema import unknown_fields

# Server-owned metadata: never owned by a manager, left out when objects are compared.
SERVER_METADATA = frozenset(
    (
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "managedFields",
    )
)
_STRIPPED_METADATA = tuple("f:" + name for name in SERVER_METADATA)
APPLY = "Apply"
UPDATE = "Update"
MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES = "ancient-changes"
_INTERNED_LIMIT = 10_000
_interned: dict[str, dict[str, Any]] = {}


def _interned_fields(fields: Node) -> dict[str, Any]:
    """One FieldsV1 dict for all objects whose fields are alike (10,000 sessions written by one
    operator share a handful of shapes). Safe because stored objects are never changed in place."""
    encoded = fieldpath.encode(fields)
    key = json.dumps(encoded)
    found = _interned.get(key)
    if found is None:
        if len(_interned) >= _INTERNED_LIMIT:
            _interned.clear()
        found = _interned[key] = encoded
    return found


def manager_name(field_manager: str | None, user_agent: str) -> str:
    """The `fieldManager` parameter, else the User-Agent up to its first `/` (kubectl/v1.34 ...)."""
    if field_manager:
        return field_manager
    return user_agent.split("/", 1)[0]


class ApplyError(Exception):
    """An apply the API server refuses, with the Status it answers (the server turns it into one)."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details


def _bad_request(message: str) -> ApplyError:
    return ApplyError(400, "BadRequest", message)


def _patch_options_invalid(field_name: str, reason: str, detail: str) -> ApplyError:
    return ApplyError(
        422,
        "Invalid",
        f'PatchOptions.meta.k8s.io "" is invalid: {field_name}: {detail}',
        {
            "group": "meta.k8s.io",
            "kind": "PatchOptions",
            "causes": [{"reason": reason, "message": detail, "field": field_name}],
        },
    )


def apply_force(is_apply: bool, field_manager: str | None, force: str | None) -> bool:
    """The patch options an apply needs (a fieldManager) and only an apply may have (force);
    `force` is true unless "false" or "0", as Kubernetes reads boolean query parameters."""
    if is_apply and not field_manager:
        raise _patch_options_invalid(
            "fieldManager", "FieldValueRequired", "Required value: is required for apply patch"
        )
    if not is_apply and force is not None:
        raise _patch_options_invalid(
            "force", "FieldValueForbidden", "Forbidden: may not be specified for non-apply patch"
        )
    return query_flag(force)


def parse_apply(raw: bytes, group_version: str, schema: dict[str, Any] | None, where: str) -> dict[str, Any]:
    """An apply configuration, refused as the API server refuses it: not YAML, another
    apiVersion, managedFields set, or (custom resources) a field the schema does not declare."""
    try:
        applied = load_yaml(raw)
    except yaml.YAMLError as exc:
        raise _bad_request(f"error decoding YAML: {exc}") from exc
    if not isinstance(applied, dict):
        raise _bad_request("an apply patch must be an object")
    if not isinstance(applied.get("metadata", {}), dict):
        raise _bad_request("metadata must be an object")
    if applied.get("apiVersion") != group_version:
        raise _bad_request(
            "Incorrect version specified in apply patch. Specified patch version: "
            f"{applied.get('apiVersion') or ''}, expected: {group_version}"
        )
    if applied.get("metadata", {}).get("managedFields") is not None:
        raise _bad_request("metadata.managedFields must be nil")
    if schema is not None:
        unknown = unknown_fields(schema, applied)
        if unknown:
            raise ApplyError(
                500,
                "",
                typed_patch_error(where, [f".{path}: field not declared in schema" for path in unknown]),
            )
    return applied


class ApplyConflict(ApplyError):
    """Fields another manager owns would change: the 409 the API server answers."""

    def __init__(self, conflicts: list[tuple[str, str]]) -> None:
        self.conflicts = conflicts  # (manager as printed, path)
        if len(conflicts) == 1:
            who, path = conflicts[0]
            message = f"Apply failed with 1 conflict: conflict with {who}: {path}"
        else:
            lines: list[str] = []
            for who in sorted({who for who, _ in conflicts}):
                lines.append(f"conflicts with {who}:")
                lines += [f"- {path}" for other, path in conflicts if other == who]
            message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
        super().__init__(409, "Conflict", message)
        self.details = {"causes": self.causes()}

    def causes(self) -> list[dict[str, str]]:
        return [
            {"reason": "FieldManagerConflict", "message": f"conflict with {who}", "field": path}
            for who, path in self.conflicts
        ]


@dataclass
class Entry:
    manager: str
    operation: str
    api_version: str
    time: str | None
    fields: Node
    subresource: str = ""
    stored: dict[str, Any] | None = None  # the entry as read, reused while nothing changes it
    stored_fields: Node | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        # Appliers are one manager across versions; updaters are one per apiVersion.
        version = "" if self.operation == APPLY else self.api_version
        return (self.manager, self.operation, version, self.subresource)

    def printed(self) -> str:
        """How conflict messages name a manager: "helm", "kopf" using v1 (updaters)."""
        who = json.dumps(self.manager)
        if self.subresource:
            who += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == UPDATE:
            who += f" using {self.api_version}"
        return who

    def to_dict(self) -> dict[str, Any]:
        if (
            self.stored is not None
            and self.fields is self.stored_fields
            and self.time == self.stored.get("time")
        ):
            return self.stored
        out: dict[str, Any] = {"manager": self.manager, "operation": self.operation}
        out["apiVersion"] = self.api_version
        if self.time:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = _interned_fields(self.fields)
        if self.subresource:
            out["subresource"] = self.subresource
        return out


_decoded: dict[int, tuple[dict[str, Any], Node]] = {}


def _decoded_fields(fields_v1: Any) -> Node:
    """Decoded once per interned FieldsV1 dict (most objects share theirs)."""
    if not isinstance(fields_v1, dict):
        return {}
    cached = _decoded.get(id(fields_v1))
    if cached is not None and cached[0] is fields_v1:
        return cached[1]
    node = fieldpath.decode(fields_v1)
    if len(_decoded) >= _INTERNED_LIMIT:
        _decoded.clear()
    _decoded[id(fields_v1)] = (fields_v1, node)
    return node


def decode_entries(raw: Any) -> list[Entry] | None:
    """managedFields as stored or sent; None when they cannot be read (then the live ones count)."""
    if not isinstance(raw, list):
        return None
    entries = []
    for item in raw:
        if not isinstance(item, dict):
            return None
        operation = item.get("operation", "")
        if item and operation not in (APPLY, UPDATE):
            return None
        fields = _decoded_fields(item.get("fieldsV1"))
        entries.append(
            Entry(
                str(item.get("manager", "")),
                operation,
                str(item.get("apiVersion", "")),
                item["time"] if isinstance(item.get("time"), str) else None,
                fields,
                str(item.get("subresource", "")),
                item,
                fields,
            )
        )
    return entries


def encode_entries(entries: list[Entry]) -> list[dict[str, Any]]:
    kept = [entry for entry in entries if entry.fields]
    kept.sort(key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource))
    return [entry.to_dict() for entry in kept]


def _content(body: dict[str, Any]) -> dict[str, Any]:
    """The object as managers see it: without server-owned metadata."""
    meta = body.get("metadata")
    if not isinstance(meta, dict):
        return body
    return {**body, "metadata": {k: v for k, v in meta.items() if k not in SERVER_METADATA}}


def _owned(fields: Node, subresource: str, status_subresource: bool) -> Node:
    """What a write may own: not apiVersion, kind or server-owned metadata; through /status
    only .status, and not .status through the main resource when status is a subresource."""
    fields = fieldpath.without(fields, "f:apiVersion", "f:kind")
    meta = fields.get("f:metadata")
    if meta is not None:
        meta = fieldpath.without(meta, fieldpath.MEMBER, *_STRIPPED_METADATA)
        fields = {**fields, "f:metadata": meta} if meta else fieldpath.without(fields, "f:metadata")
    if subresource == "status":
        return fieldpath.only(fields, "f:status")
    if status_subresource:
        return fieldpath.without(fields, "f:status")
    return fields


@dataclass(frozen=True)
class Write:
    """Who writes, to what: what every ownership decision needs besides the objects."""

    manager: str
    api_version: str
    shape: Shape
    subresource: str
    status_subresource: bool
    now: str

    @classmethod
    def of(cls, resource_type: ResourceType, subresource: str | None, manager: str, now: str) -> Write:
        """A write of `manager` to a kind (or its /status), typed by the CRD schema or the built-in table."""
        shape = (
            fieldpath.schema_shape(resource_type.schema)
            if resource_type.schema is not None
            else fieldpath.builtin_shape(resource_type.group, resource_type.kind)
        )
        return cls(
            manager,
            resource_type.group_version,
            shape,
            subresource or "",
            resource_type.status_subresource,
            now,
        )

    def _entries(self, live: dict[str, Any] | None, new: dict[str, Any] | None) -> list[Entry]:
        live_raw = (live or {}).get("metadata", {}).get("managedFields")
        if new is not None and not self.subresource:
            sent = new.get("metadata", {}).get("managedFields")
            if sent and sent != live_raw:
                entries = decode_entries(sent)  # a client may rewrite managedFields (`[{}]` clears them)
                if entries is not None:
                    return entries
        return decode_entries(live_raw) or []

    def update(self, live: dict[str, Any] | None, new: dict[str, Any]) -> list[dict[str, Any]]:
        """managedFields after a create or update: the changed fields move to this manager.

        An object the merge rules cannot take apart (a list-map item without its key) loses
        its managedFields, as on the API server, which logs and resets them rather than fail
        the write."""
        entries = self._entries(live, new)
        try:
            comparison = fieldpath.compare(_content(live or {}), _content(new), self.shape)
        except FieldPathError:
            return []
        changed = _owned(comparison.changed(), self.subresource, self.status_subresource)
        removed = comparison.removed
        mine = Entry(self.manager, UPDATE, self.api_version, self.now, changed, self.subresource)
        found = False
        for entry in entries:
            if entry.key == mine.key:
                found = True
                previous = fieldpath.difference(entry.fields, removed)
                entry.fields = fieldpath.union(previous, changed)
                if changed:
                    entry.time = self.now
            else:
                entry.fields = fieldpath.difference(fieldpath.difference(entry.fields, changed), removed)
        if not found and changed:
            entries.append(mine)
        return encode_entries(_capped(entries))

    def apply(
        self, live: dict[str, Any] | None, applied: dict[str, Any], *, force: bool, where: str
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The object and managedFields after an apply; ApplyConflict when another manager's
        fields would change and the apply is not forced."""
        try:
            return self._apply(live, applied, force=force)
        except FieldPathError as exc:
            raise ApplyError(500, "", typed_patch_error(where, [str(exc)])) from exc

    def _apply(
        self, live: dict[str, Any] | None, applied: dict[str, Any], *, force: bool
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        base = live or {}
        entries = self._entries(live, None)
        config = {k: v for k, v in applied.items() if v is not None}
        config_set = _owned(
            fieldpath.field_set(config, self.shape), self.subresource, self.status_subresource
        )
        mine = Entry(self.manager, APPLY, self.api_version, self.now, config_set, self.subresource)
        previous = next((e for e in entries if e.key == mine.key), None)
        merged = fieldpath.merge(base, config, self.shape)
        if previous is not None and previous.fields:
            owned: Node = {}
            for entry in entries:
                if entry is not previous:
                    owned = fieldpath.union(owned, entry.fields)
            owned = fieldpath.union(owned, config_set)
            merged = fieldpath.prune(
                merged,
                fieldpath.ensure_named_fields_are_members(previous.fields, self.shape),
                fieldpath.ensure_named_fields_are_members(owned, self.shape),
                self.shape,
            )
        comparison = fieldpath.compare(_content(base), _content(merged), self.shape)
        changed = _owned(comparison.changed(), self.subresource, self.status_subresource)
        conflicts: list[tuple[str, str]] = []
        others = [e for e in entries if e is not previous]
        for entry in others:
            taken = fieldpath.intersection(entry.fields, changed)
            if taken:
                conflicts += [(entry.printed(), fieldpath.describe(p)) for p in fieldpath.members(taken)]
        if conflicts and not force:
            raise ApplyConflict(sorted(conflicts))
        for entry in others:
            entry.fields = fieldpath.difference(
                fieldpath.difference(entry.fields, changed), comparison.removed
            )
        if previous is not None and not (comparison.added or comparison.modified or comparison.removed):
            mine.time = previous.time  # nothing moved: the apply leaves no trace
        return merged, encode_entries([*others, mine])


def _capped(entries: list[Entry]) -> list[Entry]:
    """At most ten Update managers, as the API server keeps: the oldest are folded, per
    apiVersion, into one "ancient-changes" entry (so a stream of User-Agents cannot grow an
    object without bound)."""
    updaters = sorted((e for e in entries if e.operation == UPDATE), key=lambda e: e.time or "")
    count = len(updaters)
    if count <= MAX_UPDATE_MANAGERS:
        return entries
    gone: set[int] = set()
    first_of_version: dict[str, Entry] = {}
    buckets: dict[str, Entry] = {}
    for entry in updaters:
        if count <= MAX_UPDATE_MANAGERS:
            break
        first = first_of_version.get(entry.api_version)
        if first is None:
            first_of_version[entry.api_version] = entry
            continue
        bucket = buckets.get(entry.api_version)
        if bucket is None:
            bucket = Entry(ANCIENT_CHANGES, UPDATE, entry.api_version, first.time, first.fields)
            buckets[entry.api_version] = bucket
            gone.add(id(first))
        bucket.fields = fieldpath.union(bucket.fields, entry.fields)
        bucket.time = entry.time
        gone.add(id(entry))
        count -= 1
    return [e for e in entries if id(e) not in gone] + list(buckets.values())


def set_managed_fields(body: dict[str, Any], managed_fields: list[dict[str, Any]]) -> None:
    if managed_fields:
        body["metadata"]["managedFields"] = managed_fields
    else:
        body["metadata"].pop("managedFields", None)


def typed_patch_error(where: str, problems: list[str]) -> str:
    """The API server's words for an apply it cannot take apart (a 500, as there)."""
    if len(problems) == 1:
        return f"failed to create typed patch object ({where}): {problems[0]}"
    return f"failed to create typed patch object ({where}): errors:\n  " + "\n  ".join(problems)


__all__ = [
    "APPLY",
    "UPDATE",
    "ApplyConflict",
    "ApplyError",
    "Entry",
    "FieldPathError",
    "Write",
    "decode_entries",
    "encode_entries",
    "manager_name",
    "typed_patch_error",
]
