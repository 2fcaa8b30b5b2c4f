"""The `fieldValidation` directive: what a write with unknown fields gets.

`Strict` refuses it (400, the decoder's "strict decoding error"), `Warn` (the server's
default since Kubernetes 1.27) accepts it with the fields pruned and one `Warning:` header
per field, which kubectl prints and the kubernetes Python client logs; `Ignore` prunes them
silently. Warnings are collected per request in a context variable, so the schema code
that finds them need not know about HTTP.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import Any

from aiohttp import web

STRICT = "Strict"
WARN = "Warn"
IGNORE = "Ignore"
_warnings: ContextVar[list[str] | None] = ContextVar("warnings", default=None)


def directive(query: Any) -> str:
    value = query.get("fieldValidation") or WARN
    return value if value in (STRICT, WARN, IGNORE) else WARN


def collecting() -> list[str]:
    """Start collecting this request's warnings (in the middleware, around the handler)."""
    warnings: list[str] = []
    _warnings.set(warnings)
    return warnings


def warn(text: str) -> None:
    warnings = _warnings.get()
    if warnings is not None and text not in warnings:
        warnings.append(text)


def add_warning_headers(response: web.StreamResponse, warnings: list[str]) -> None:
    if response.prepared:
        return
    for text in warnings:
        response.headers.add("Warning", f"299 - {json.dumps(text)}")


def unknown_fields(kind: str, version: str, unknown: list[str], mode: str) -> str | None:
    """The refusal for Strict (as the API server words it); a warning per field for Warn."""
    if not unknown:
        return None
    if mode == STRICT:
        fields = ", ".join(f'unknown field "{path}"' for path in unknown)
        return f'{kind} in version "{version}" cannot be handled as a {kind}: strict decoding error: {fields}'
    if mode == WARN:
        for path in unknown:
            warn(f'unknown field "{path}"')
    return None
