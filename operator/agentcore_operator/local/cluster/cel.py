"""The one CEL environment of the emulated cluster (cel-python), shared by the CRD
`x-kubernetes-validations` rules (schema.py) and ValidatingAdmissionPolicy expressions
(admission.py).

Programs are compiled once per expression text. cel-python words its errors differently
from cel-go; `error_text` rewrites the common one (a missing key) as cel-go says it, so
messages read as a real API server's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any


class CompileError(ValueError):
    """An expression that does not parse."""


@lru_cache(maxsize=512)
def program(expression: str) -> Any:
    """The compiled program of an expression; CompileError if it does not parse."""
    from celpy.celparser import CELParseError  # only the local extra has cel-python

    environment = _environment()
    try:
        return environment.program(environment.compile(expression))
    except CELParseError as exc:
        raise CompileError(" ".join(str(exc).split())) from exc


@lru_cache(maxsize=1)
def _environment() -> Any:
    import celpy

    return celpy.Environment()


def value(data: Any) -> Any:
    """A JSON value (dicts, lists, strings, numbers, None) as a CEL value."""
    from celpy.adapter import json_to_cel

    return json_to_cel(data)


def evaluate(expression: str, activation: Mapping[str, Any]) -> Any:
    """Run an expression over an activation of CEL values; raises on an evaluation error.

    The result is a CEL value (BoolType is a bool subclass, StringType a str subclass)."""
    return program(expression).evaluate(dict(activation))


def lazy_map(expressions: Mapping[str, str], activation: dict[str, Any]) -> Any:
    """A CEL map whose values are expressions evaluated over `activation` on first read, then
    kept: composition variables as the API server evaluates them (lazily, once per request). A
    value that fails is an error value, which fails only the expressions that read it."""
    from celpy import celtypes

    class LazyMap(celtypes.MapType):
        def __getitem__(self, key: Any) -> Any:
            if key not in done:
                expression = expressions[str(key)]
                try:
                    done[key] = evaluate(expression, activation)
                except Exception as exc:  # the reader's error then reads as cel-go's: the cause itself
                    done[key] = error(error_text(exc))
            return done[key]

    done: dict[Any, Any] = {}
    return LazyMap({celtypes.StringType(name): None for name in expressions})


def boolean(result: Any) -> bool | None:
    """A CEL result as a Python bool, or None if it is not a boolean."""
    from celpy import celtypes

    if isinstance(result, bool | celtypes.BoolType):
        return bool(result)
    return None


def error(message: str) -> Any:
    """A deferred evaluation error, as a value: used only if an expression reads it."""
    from celpy.evaluation import CELEvalError

    return CELEvalError(message, ValueError, None)


_MISSING_KEY = re.compile(r"no such member in mapping: '([^']*)'")


def error_text(exc: BaseException) -> str:
    """An evaluation error as cel-go would word it where we know its wording."""
    text = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    return _MISSING_KEY.sub(lambda match: f"no such key: {match.group(1)}", text)
