"""Strategic merge patch for built-in kinds, as k8s.io/apimachinery's strategicpatch applies it.

Client-side `kubectl apply`, `kubectl edit` and `kubectl patch` send these for built-in
kinds. Unlike a JSON merge patch, a list of objects with a patch merge key (containers,
env, ports, volumes, conditions ...) is merged item by item, so a patch that changes one
env var leaves the others alone. The merge keys and strategies are the ones `fieldpath`
already knows from the API types' markers (`+patchMergeKey` is the first list-map key for
every list we serve; `+patchStrategy=merge` primitive lists such as finalizers are sets).

Directives: `$patch: replace|delete|merge` (in a map or as a list item),
`$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>` and `$retainKeys`.
"""

from __future__ import annotations

import json
from typing import Any

from agentcore_operator.local.cluster.fieldpath import UNTYPED, Shape

PATCH = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ORDER = "$setElementOrder/"
DELETE_FROM = "$deleteFromPrimitiveList/"


class StrategicPatchError(ValueError):
    """A patch the server cannot apply (a 400 on the API server too)."""


def apply(original: dict[str, Any], patch: Any, shape: Shape) -> dict[str, Any]:
    if not isinstance(patch, dict):
        raise StrategicPatchError("a strategic merge patch must be a JSON object")
    merged = _merge_map(original, patch, shape)
    return merged if isinstance(merged, dict) else {}


def _merge_map(original: Any, patch: dict[str, Any], shape: Shape) -> Any:
    directive = patch.get(PATCH)
    if directive == "delete":
        return None
    if directive == "replace":
        return _strip({k: v for k, v in patch.items() if k != PATCH}, shape)
    if directive not in (None, "merge"):
        raise StrategicPatchError(f"Unknown patch type: {directive}")
    out = dict(original) if isinstance(original, dict) else {}
    retain = patch.get(RETAIN_KEYS)
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    for key, values in patch.items():
        if key.startswith(DELETE_FROM) and isinstance(values, list):
            name = key[len(DELETE_FROM) :]
            if isinstance(out.get(name), list):
                out[name] = [item for item in out[name] if item not in values]
    for key, value in patch.items():
        if key in (PATCH, RETAIN_KEYS) or key.startswith((SET_ORDER, DELETE_FROM)):
            continue
        child = shape.child(key)[0]
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):  # maps merge, even those server-side apply treats as atomic
            merged = _merge_map(out.get(key), value, child)
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
        elif isinstance(value, list) and isinstance(out.get(key), list) and child.list_type != "atomic":
            out[key] = _merge_list(out[key], value, child)
        else:
            out[key] = _strip(value, child)
    for key, order in patch.items():
        if key.startswith(SET_ORDER) and isinstance(order, list):
            name = key[len(SET_ORDER) :]
            if isinstance(out.get(name), list):
                out[name] = _ordered(out[name], order, shape.child(name)[0])
    return out


def _merge_list(original: list[Any], patch: list[Any], shape: Shape) -> list[Any]:
    if any(isinstance(item, dict) and item.get(PATCH) == "replace" for item in patch):
        return [_strip(item, shape.element or UNTYPED) for item in patch if not _is_directive(item)]
    if shape.list_type == "set" or not shape.keys:
        out = list(original)
        for item in patch:
            if item not in out:
                out.append(item)
        return out
    key = shape.keys[0]
    element = shape.element or UNTYPED
    out = list(original)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise StrategicPatchError(f"map: {json.dumps(item)} does not contain declared merge key: {key}")
        index = next(
            (
                i
                for i, existing in enumerate(out)
                if isinstance(existing, dict) and existing.get(key) == item[key]
            ),
            None,
        )
        if item.get(PATCH) == "delete":
            if index is not None:
                del out[index]
            continue
        if index is None:
            out.append(_strip(item, element))
        else:
            out[index] = _merge_map(out[index], item, element)
    return out


def _ordered(items: list[Any], order: list[Any], shape: Shape) -> list[Any]:
    """Items named by `$setElementOrder` in that order; the rest (the server's own) after them."""
    if shape.keys and all(isinstance(entry, dict) for entry in order):
        key = shape.keys[0]
        rank = {json.dumps(entry.get(key)): position for position, entry in enumerate(order)}

        def position(item: Any) -> int:
            return rank.get(json.dumps(item.get(key) if isinstance(item, dict) else None), len(rank))
    else:
        rank = {json.dumps(entry): position for position, entry in enumerate(order)}

        def position(item: Any) -> int:
            return rank.get(json.dumps(item), len(rank))

    return sorted(items, key=position)  # stable: unnamed items keep their order


def _is_directive(item: Any) -> bool:
    return isinstance(item, dict) and set(item) == {PATCH}


def _strip(value: Any, shape: Shape) -> Any:
    """A value from the patch with its directives taken out (new objects carry none)."""
    if isinstance(value, dict):
        return {
            k: _strip(v, shape.child(k)[0])
            for k, v in value.items()
            if k not in (PATCH, RETAIN_KEYS) and not k.startswith((SET_ORDER, DELETE_FROM)) and v is not None
        }
    if isinstance(value, list):
        element = shape.element or UNTYPED
        return [
            _strip(item, element)
            for item in value
            if not (isinstance(item, dict) and item.get(PATCH) == "delete")
        ]
    return value
