"""Field sets and the structured-merge rules, as sigs.k8s.io/structured-merge-diff has them.

A field set is a tree keyed by path elements in the FieldsV1 spelling: `f:<field>`,
`k:{"name":"app"}` (an item of a list-map, by its keys), `v:"x"` (an item of a set list),
`i:3` (by index). In memory a node that is itself a member holds the key `.`, so that
`{".": {}}` is a leaf; `encode`/`decode` convert to and from the FieldsV1 form, where a
leaf is `{}`. Trees are never changed once built, so they can share subtrees.

How a value breaks into fields depends on its type, so every walk takes a `Shape`: a
struct (named fields), a granular map (its keys are members), an atomic map or list (a
single leaf), a set list, or a list-map with its key fields. Custom resources get their
shapes from the CRD schema (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`,
`x-kubernetes-map-type`); built-in kinds from the `+listType`/`+listMapKey`/
`+structType`/`+mapType` markers of k8s.io/api, in `BUILTIN_SHAPES`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Node = dict[str, Any]  # path element -> Node; "." marks a member
MEMBER = "."
LEAF: Node = {MEMBER: {}}
_MISSING = object()


class FieldPathError(ValueError):
    """A value the merge rules cannot take apart (a duplicate key, a missing key field)."""


@dataclass(frozen=True, eq=False)
class Shape:
    """The type of a value, as far as field ownership needs it."""

    fields: Mapping[str, Shape] | None = None  # a struct's named fields
    element: Shape | None = None  # a map's values or a list's items
    list_type: str = "atomic"  # atomic, set or map
    keys: tuple[str, ...] = ()  # list-map key fields
    key_defaults: Mapping[str, Any] = field(default_factory=dict)
    atomic: bool = False  # an atomic map or struct: replaced whole, owned as one leaf
    deduced: bool = False  # untyped (x-kubernetes-preserve-unknown-fields): map keys are members

    def child(self, name: str) -> tuple[Shape, bool]:
        """The shape of a map entry, and whether it is a named (struct) field."""
        if self.fields is not None and name in self.fields:
            return self.fields[name], True
        if self.element is not None:
            return self.element, False
        if self.deduced:
            return DEDUCED, False
        return UNTYPED, True


UNTYPED = Shape()  # a field the tables do not describe: a struct whose lists are atomic
DEDUCED = Shape(deduced=True)
ATOMIC = Shape(atomic=True)


def struct(**fields: Shape) -> Shape:
    return Shape(fields=fields)


def granular_map(element: Shape = UNTYPED) -> Shape:
    return Shape(element=element)


def list_map(*keys: str, element: Shape = UNTYPED, **defaults: Any) -> Shape:
    return Shape(element=element, list_type="map", keys=keys, key_defaults=defaults)


SET_LIST = Shape(list_type="set")
CONDITIONS = list_map("type")


# -- shapes of built-in kinds, from the markers in k8s.io/api and k8s.io/apimachinery ------

OBJECT_META = struct(
    labels=granular_map(),
    annotations=granular_map(),
    finalizers=SET_LIST,
    ownerReferences=list_map("uid"),
    managedFields=ATOMIC,
)
LABEL_SELECTOR = ATOMIC  # metav1.LabelSelector is +structType=atomic
CONTAINER = struct(
    command=ATOMIC,
    args=ATOMIC,
    env=list_map("name", element=struct(valueFrom=struct(fieldRef=ATOMIC))),
    envFrom=ATOMIC,
    ports=list_map("containerPort", "protocol", protocol="TCP"),
    volumeMounts=list_map("mountPath"),
    volumeDevices=list_map("devicePath"),
    resources=struct(limits=granular_map(), requests=granular_map(), claims=list_map("name")),
    securityContext=struct(capabilities=struct(add=ATOMIC, drop=ATOMIC)),
    resizePolicy=ATOMIC,
)
POD_SPEC = struct(
    containers=list_map("name", element=CONTAINER),
    initContainers=list_map("name", element=CONTAINER),
    ephemeralContainers=list_map("name", element=CONTAINER),
    volumes=list_map(
        "name",
        element=struct(
            secret=struct(items=ATOMIC), configMap=struct(items=ATOMIC), projected=struct(sources=ATOMIC)
        ),
    ),
    imagePullSecrets=list_map("name"),
    tolerations=ATOMIC,
    nodeSelector=ATOMIC,
    hostAliases=list_map("ip"),
    topologySpreadConstraints=list_map("topologyKey", "whenUnsatisfiable"),
    readinessGates=ATOMIC,
    schedulingGates=list_map("name"),
    resourceClaims=list_map("name"),
    securityContext=struct(supplementalGroups=ATOMIC, sysctls=ATOMIC),
)
POD_TEMPLATE = struct(metadata=OBJECT_META, spec=POD_SPEC)
WITH_CONDITIONS = struct(status=struct(conditions=CONDITIONS))
POLICY_RULES = struct(rules=ATOMIC, aggregationRule=struct(clusterRoleSelectors=ATOMIC))
BINDING = struct(subjects=ATOMIC, roleRef=ATOMIC)

BUILTIN_SHAPES: dict[tuple[str, str], Shape] = {
    ("", "Namespace"): struct(spec=struct(finalizers=ATOMIC), status=struct(conditions=CONDITIONS)),
    ("", "ConfigMap"): struct(data=granular_map(), binaryData=granular_map()),
    ("", "Secret"): struct(data=granular_map(), stringData=granular_map()),
    ("", "ServiceAccount"): struct(secrets=list_map("name"), imagePullSecrets=ATOMIC),
    ("", "Service"): struct(
        spec=struct(
            ports=list_map("port", "protocol", protocol="TCP"),
            selector=ATOMIC,
            clusterIPs=ATOMIC,
            externalIPs=ATOMIC,
            ipFamilies=ATOMIC,
            loadBalancerSourceRanges=ATOMIC,
        ),
        status=struct(conditions=CONDITIONS, loadBalancer=struct(ingress=ATOMIC)),
    ),
    ("apps", "Deployment"): struct(
        spec=struct(selector=LABEL_SELECTOR, template=POD_TEMPLATE),
        status=struct(conditions=CONDITIONS),
    ),
    ("policy", "PodDisruptionBudget"): struct(
        spec=struct(selector=LABEL_SELECTOR),
        status=struct(conditions=CONDITIONS, disruptedPods=granular_map()),
    ),
    ("rbac.authorization.k8s.io", "ClusterRole"): POLICY_RULES,
    ("rbac.authorization.k8s.io", "Role"): POLICY_RULES,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): BINDING,
    ("rbac.authorization.k8s.io", "RoleBinding"): BINDING,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): WITH_CONDITIONS,
}


def _object(body: Shape) -> Shape:
    fields = dict(body.fields or {})
    fields["metadata"] = OBJECT_META  # a CRD schema says only "type: object" there
    return Shape(fields=fields, element=body.element, deduced=body.deduced)


_builtin_roots: dict[tuple[str, str], Shape] = {}
_schema_roots: dict[int, tuple[dict[str, Any], Shape]] = {}


def builtin_shape(group: str, kind: str) -> Shape:
    found = _builtin_roots.get((group, kind))
    if found is None:
        found = _builtin_roots[(group, kind)] = _object(BUILTIN_SHAPES.get((group, kind), UNTYPED))
    return found


def schema_shape(schema: dict[str, Any]) -> Shape:
    """The shape of a custom resource from its openAPIV3Schema (cached per schema object)."""
    cached = _schema_roots.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    root = _object(from_openapi(schema))
    _schema_roots[id(schema)] = (schema, root)
    return root


def from_openapi(schema: dict[str, Any]) -> Shape:
    kind = schema.get("type")
    if kind == "array" or "items" in schema:
        items = schema.get("items")
        element = from_openapi(items) if isinstance(items, dict) else DEDUCED
        keys = tuple(schema.get("x-kubernetes-list-map-keys") or ())
        defaults = {}
        if isinstance(items, dict):
            for key in keys:
                default = ((items.get("properties") or {}).get(key) or {}).get("default")
                if default is not None:
                    defaults[key] = default
        return Shape(
            element=element,
            list_type=schema.get("x-kubernetes-list-type", "atomic"),
            keys=keys,
            key_defaults=defaults,
        )
    properties = schema.get("properties")
    additional = schema.get("additionalProperties")
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    if kind == "object" or properties is not None or additional is not None or preserve:
        if schema.get("x-kubernetes-map-type") == "atomic":
            return ATOMIC
        return Shape(
            fields={name: from_openapi(child) for name, child in (properties or {}).items()},
            element=from_openapi(additional) if isinstance(additional, dict) else None,
            deduced=preserve or (properties is None and additional is None),
        )
    return UNTYPED


# -- path elements -------------------------------------------------------------------------


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def item_element(shape: Shape, item: Any) -> str:
    """The path element of a list item: `k:{...}` in a list-map, `v:...` in a set."""
    if shape.list_type == "map" and shape.keys:
        if not isinstance(item, dict):
            raise FieldPathError("associative list with keys has an element that is not a map type")
        key: dict[str, Any] = {}
        for name in shape.keys:
            if name in item:
                key[name] = item[name]
            elif name in shape.key_defaults:
                key[name] = shape.key_defaults[name]
            else:
                raise FieldPathError(
                    f'associative list with keys has an element that omits key field "{name}" '
                    "(and doesn't have default value)"
                )
        return "k:" + _json(key)
    return "v:" + _json(item)


def describe(elements: tuple[str, ...]) -> str:
    """A path as the API server prints it: .spec.containers[name="app"].image."""
    out = []
    for element in elements:
        kind, text = element[:1], element[2:]
        if kind == "f":
            out.append("." + text)
        elif kind == "k":
            try:
                key = json.loads(text)
            except ValueError:
                key = None
            if isinstance(key, dict):
                out.append("[" + ",".join(f"{name}={_json(value)}" for name, value in key.items()) + "]")
            else:
                out.append(f"[{text}]")  # a key a client wrote into managedFields by hand
        elif kind == "v":
            out.append(f"[={text}]")
        else:
            out.append(f"[{text}]")
    return "".join(out)


# -- sets ----------------------------------------------------------------------------------


def decode(fields_v1: Any) -> Node:
    """FieldsV1 (leaves are `{}`) to a tree (leaves are `{".": {}}`)."""
    if not isinstance(fields_v1, dict):
        return {}
    return {key: _decode_child(value) for key, value in fields_v1.items() if key != MEMBER}


def _decode_child(value: Any) -> Node:
    if not isinstance(value, dict) or not value:
        return LEAF
    node = {key: _decode_child(child) for key, child in value.items() if key != MEMBER}
    if MEMBER in value:
        node[MEMBER] = {}
    return node


def encode(node: Node) -> dict[str, Any]:
    return {key: _encode_child(child) for key, child in sorted(node.items()) if key != MEMBER}


def _encode_child(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if MEMBER in node and len(node) > 1:
        out[MEMBER] = {}
    for key, child in sorted(node.items()):
        if key != MEMBER:
            out[key] = _encode_child(child)
    return out


def union(a: Node, b: Node) -> Node:
    if not a:
        return b
    if not b:
        return a
    out = dict(a)
    for key, child in b.items():
        if key == MEMBER:
            out[MEMBER] = {}
        elif key in out:
            out[key] = union(out[key], child)
        else:
            out[key] = child
    return out


def difference(a: Node, b: Node) -> Node:
    """Members of `a` that are not members of `b`."""
    if not a or not b:
        return a
    out: Node = {}
    same = True  # then `a` itself is the answer: unchanged entries keep their encoding
    for key, child in a.items():
        if key == MEMBER:
            if MEMBER not in b:
                out[MEMBER] = {}
            else:
                same = False
        elif key in b:
            rest = difference(child, b[key])
            if rest:
                out[key] = rest
            same = same and rest is child
        else:
            out[key] = child
    return a if same else out


def intersection(a: Node, b: Node) -> Node:
    out: Node = {}
    for key, child in a.items():
        if key in b:
            if key == MEMBER:
                out[MEMBER] = {}
            else:
                both = intersection(child, b[key])
                if both:
                    out[key] = both
    return out


def members(node: Node, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, child in sorted(node.items()):
        if key == MEMBER:
            yield prefix
        else:
            yield from members(child, (*prefix, key))


def only(node: Node, element: str) -> Node:
    """The part of a set under one top-level element."""
    return {element: node[element]} if element in node else {}


def without(node: Node, *elements: str) -> Node:
    if not any(element in node for element in elements):
        return node
    return {key: child for key, child in node.items() if key not in elements}


def ensure_named_fields_are_members(node: Node, shape: Shape) -> Node:
    """Struct fields with owned children count as owned themselves (prune removes them whole)."""
    out: Node = {}
    for key, child in node.items():
        if key == MEMBER:
            out[MEMBER] = {}
            continue
        if key.startswith("f:"):
            child_shape, named = shape.child(key[2:])
            child = ensure_named_fields_are_members(child, child_shape)
            if named and child:
                child = child if MEMBER in child else {**child, MEMBER: {}}
        elif shape.element is not None:
            child = ensure_named_fields_are_members(child, shape.element)
        out[key] = child
    return out


# -- walks over values ---------------------------------------------------------------------


def _granular_list(shape: Shape) -> bool:
    return shape.list_type in ("set", "map")


def _items(shape: Shape, items: list[Any], *, duplicates_allowed: bool) -> dict[str, Any]:
    indexed: dict[str, Any] = {}
    for item in items:
        element = item_element(shape, item)
        if element in indexed and not duplicates_allowed:
            raise FieldPathError(f"duplicate entries for key {describe((element,))}")
        indexed.setdefault(element, item)
    return indexed


def field_set(value: Any, shape: Shape) -> Node:
    """The fields an applied configuration sets (ToFieldSet): leaves, list items, map keys."""
    if isinstance(value, dict) and not shape.atomic:
        out: Node = {}
        for name, child in value.items():
            child_shape, named = shape.child(name)
            node = field_set(child, child_shape)
            if child is None or child == {} or not named:
                node = {**node, MEMBER: {}}
            if node:
                out["f:" + name] = node
        return out
    if isinstance(value, list) and _granular_list(shape) and not shape.atomic:
        out = {}
        element_shape = shape.element or UNTYPED
        for element, item in _items(shape, value, duplicates_allowed=False).items():
            out[element] = {**field_set(item, element_shape), MEMBER: {}}
        return out
    return LEAF


def _whole(value: Any, shape: Shape) -> Node:
    """Every field of a value that appeared or went: each node, leaves and parents alike."""
    if isinstance(value, dict) and value and not shape.atomic:
        out: Node = {MEMBER: {}}
        for name, child in value.items():
            out["f:" + name] = _whole(child, shape.child(name)[0])
        return out
    if isinstance(value, list) and value and _granular_list(shape) and not shape.atomic:
        out = {MEMBER: {}}
        element_shape = shape.element or UNTYPED
        for element, item in _items(shape, value, duplicates_allowed=True).items():
            out[element] = _whole(item, element_shape)
        return out
    return LEAF


@dataclass
class Comparison:
    added: Node = field(default_factory=dict)
    modified: Node = field(default_factory=dict)
    removed: Node = field(default_factory=dict)

    def changed(self) -> Node:
        return union(self.added, self.modified)


def compare(old: Any, new: Any, shape: Shape) -> Comparison:
    """What changed from `old` to `new`, field by field (equal subtrees are skipped at once)."""
    result = Comparison()
    result.added, result.modified, result.removed = _compare(old, new, shape)
    return result


def _compare(old: Any, new: Any, shape: Shape) -> tuple[Node, Node, Node]:
    if old == new:
        return {}, {}, {}
    if isinstance(old, dict) and isinstance(new, dict) and (old or new) and not shape.atomic:
        added: Node = {}
        modified: Node = {}
        removed: Node = {}
        for name in old.keys() | new.keys():
            child_shape = shape.child(name)[0]
            element = "f:" + name
            if name not in old:
                added[element] = _whole(new[name], child_shape)
            elif name not in new:
                removed[element] = _whole(old[name], child_shape)
            else:
                a, m, r = _compare(old[name], new[name], child_shape)
                if a:
                    added[element] = a
                if m:
                    modified[element] = m
                if r:
                    removed[element] = r
        return added, modified, removed
    if (
        isinstance(old, list)
        and isinstance(new, list)
        and (old or new)
        and _granular_list(shape)
        and not shape.atomic
    ):
        element_shape = shape.element or UNTYPED
        before = _items(shape, old, duplicates_allowed=True)
        after = _items(shape, new, duplicates_allowed=True)
        added, modified, removed = {}, {}, {}
        for element in before.keys() | after.keys():
            if element not in before:
                added[element] = _whole(after[element], element_shape)
            elif element not in after:
                removed[element] = _whole(before[element], element_shape)
            else:
                a, m, r = _compare(before[element], after[element], element_shape)
                if a:
                    added[element] = a
                if m:
                    modified[element] = m
                if r:
                    removed[element] = r
        return added, modified, removed
    return {}, LEAF, {}


def merge(live: Any, applied: Any, shape: Shape) -> Any:
    """An applied configuration over the live object: maps and keyed lists merge, the rest is replaced."""
    if isinstance(live, dict) and isinstance(applied, dict) and not shape.atomic:
        out = dict(live)
        for name, value in applied.items():
            if value is None:
                out.pop(name, None)
            elif name in live:
                out[name] = merge(live[name], value, shape.child(name)[0])
            else:
                out[name] = value
        return out
    if isinstance(live, list) and isinstance(applied, list) and _granular_list(shape) and not shape.atomic:
        return _merge_items(live, applied, shape)
    return applied


def _merge_items(live: list[Any], applied: list[Any], shape: Shape) -> list[Any]:
    """The order structured-merge-diff gives: applied items in applied order, live-only items where they were."""
    element_shape = shape.element or UNTYPED
    live_elements = [item_element(shape, item) for item in live]
    applied_index = _items(shape, applied, duplicates_allowed=False)
    applied_elements = list(applied_index)
    live_index = dict(zip(live_elements, live, strict=True))
    shared = [e for e in applied_elements if e in live_index]
    out: list[Any] = []
    merged: set[str] = set()
    next_shared = 0
    left = right = 0
    while left < len(live_elements) or right < len(applied_elements):
        if left < len(live_elements) and right < len(applied_elements):
            element = live_elements[left]
            if element == applied_elements[right]:
                merged.add(element)
                out.append(merge(live_index[element], applied_index[element], element_shape))
                left += 1
                right += 1
                next_shared += 1
                continue
            if element in applied_index and next_shared < len(shared) and shared[next_shared] != element:
                left += 1
                continue
        if left < len(live_elements):
            element = live_elements[left]
            if element not in applied_index:
                out.append(live[left])
                left += 1
                continue
            if element in merged:
                left += 1
        if right < len(applied_elements):
            element = applied_elements[right]
            merged.add(element)
            if element in live_index:
                out.append(merge(live_index[element], applied_index[element], element_shape))
            else:
                out.append(applied_index[element])
            right += 1
            if next_shared < len(shared) and shared[next_shared] == element:
                next_shared += 1
    return out


def prune(value: Any, last: Node, owned: Node, shape: Shape) -> Any:
    """Remove what the applier owned last time and nobody owns now (both sets with named fields
    as members, see `ensure_named_fields_are_members`)."""
    if isinstance(value, dict) and not shape.atomic:
        out = dict(value)
        for element, before in last.items():
            if element == MEMBER or not element.startswith("f:") or element[2:] not in out:
                continue
            name = element[2:]
            now = owned.get(element)
            if MEMBER in before and (now is None or MEMBER not in now):
                del out[name]
            elif len(before) > (MEMBER in before):
                out[name] = prune(out[name], before, now or {}, shape.child(name)[0])
        return out
    if isinstance(value, list) and _granular_list(shape) and not shape.atomic:
        element_shape = shape.element or UNTYPED
        kept = []
        for item in value:
            element = item_element(shape, item)
            before = last.get(element)
            if before is None:
                kept.append(item)
                continue
            now = owned.get(element)
            if MEMBER in before and (now is None or MEMBER not in now):
                continue
            kept.append(prune(item, before, now or {}, element_shape))
        return kept
    return value
