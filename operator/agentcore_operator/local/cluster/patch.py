"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902), as the API server applies them."""

from __future__ import annotations

import copy
from typing import Any

import yaml


class _JsonYamlLoader(yaml.SafeLoader):
    """YAML as the API server reads it (sigs.k8s.io/yaml): converted to JSON, so an unquoted
    timestamp stays a string rather than becoming a datetime no JSON encoder can write."""


_JsonYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(raw: bytes | str) -> Any:
    return yaml.load(raw, Loader=_JsonYamlLoader)  # a SafeLoader, without timestamps


class PatchError(ValueError):
    """The patch cannot be applied; `test_failed` tells a failed `test` op from a bad patch."""

    def __init__(self, message: str, *, test_failed: bool = False) -> None:
        super().__init__(message)
        self.test_failed = test_failed


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"invalid JSON pointer {pointer!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def _parent(document: Any, pointer: str) -> tuple[Any, str]:
    tokens = _tokens(pointer)
    if not tokens:
        raise PatchError("the root cannot be the target of this operation")
    node = document
    for token in tokens[:-1]:
        node = _child(node, token, pointer)
    return node, tokens[-1]


def _child(node: Any, token: str, pointer: str) -> Any:
    if isinstance(node, dict):
        if token not in node:
            raise PatchError(f"doc is missing path: {pointer!r}")
        return node[token]
    if isinstance(node, list):
        try:
            return node[int(token)]
        except (ValueError, IndexError) as exc:
            raise PatchError(f"doc is missing path: {pointer!r}") from exc
    raise PatchError(f"doc is missing path: {pointer!r}")


def _get(document: Any, pointer: str) -> Any:
    node = document
    for token in _tokens(pointer):
        node = _child(node, token, pointer)
    return node


def _add(document: Any, pointer: str, value: Any) -> Any:
    if pointer == "":
        return value
    parent, token = _parent(document, pointer)
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        index = len(parent) if token == "-" else int(token)
        if index > len(parent):
            raise PatchError(f"add operation index out of range: {pointer!r}")
        parent.insert(index, value)
    else:
        raise PatchError(f"doc is missing path: {pointer!r}")
    return document


def _remove(document: Any, pointer: str) -> Any:
    parent, token = _parent(document, pointer)
    if isinstance(parent, dict):
        if token not in parent:
            raise PatchError(f"unable to remove nonexistent key: {token}: missing value")
        del parent[token]
    elif isinstance(parent, list):
        try:
            del parent[int(token)]
        except (ValueError, IndexError) as exc:
            raise PatchError(f"unable to remove index {token}: out of range") from exc
    return document


def json_patch(document: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    document = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise PatchError(f"invalid operation {operation!r}")
        op, path = operation["op"], operation["path"]
        if op == "add":
            document = _add(document, path, copy.deepcopy(operation.get("value")))
        elif op == "remove":
            document = _remove(document, path)
        elif op == "replace":
            _get(document, path)
            document = _remove(document, path) if path else document
            document = _add(document, path, copy.deepcopy(operation.get("value")))
        elif op == "move":
            value = _get(document, operation["from"])
            document = _remove(document, operation["from"])
            document = _add(document, path, value)
        elif op == "copy":
            document = _add(document, path, copy.deepcopy(_get(document, operation["from"])))
        elif op == "test":
            try:
                actual = _get(document, path)
            except PatchError as exc:
                raise PatchError(f"testing value {path} failed: {exc}", test_failed=True) from exc
            if actual != operation.get("value"):
                raise PatchError(f"testing value {path} failed: test failed", test_failed=True)
        else:
            raise PatchError(f"unexpected op {op!r}")
    return document
