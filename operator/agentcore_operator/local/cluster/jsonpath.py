"""The JSONPath subset of CRD printer columns: `.a.b`, `[0]`, `[*]`, `[?(@.k=="v")]`."""

from __future__ import annotations

import re
from typing import Any

TOKEN_RE = re.compile(
    r"""\.([A-Za-z0-9_\-]+)|\[(\d+|\*)\]|\[\?\(@\.([A-Za-z0-9_\-.]+)\s*==\s*["']([^"']*)["']\)\]"""
)


def evaluate(path: str, document: Any) -> list[Any]:
    """All values the path selects (empty when it selects nothing)."""
    nodes = [document]
    position = 0
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    while position < len(path):
        match = TOKEN_RE.match(path, position)
        if match is None:
            raise ValueError(f"unsupported JSONPath {path!r} at {position}")
        position = match.end()
        field, index, filter_key, filter_value = match.groups()
        selected: list[Any] = []
        for node in nodes:
            if field is not None:
                if isinstance(node, dict) and field in node:
                    selected.append(node[field])
            elif index is not None:
                if isinstance(node, list):
                    if index == "*":
                        selected.extend(node)
                    elif int(index) < len(node):
                        selected.append(node[int(index)])
            elif isinstance(node, list):
                for item in node:
                    value: Any = item
                    for part in filter_key.split("."):
                        value = value.get(part) if isinstance(value, dict) else None
                    if value is not None and str(value) == filter_value:
                        selected.append(item)
        nodes = selected
    return nodes
