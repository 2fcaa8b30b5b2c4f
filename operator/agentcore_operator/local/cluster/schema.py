"""Structural-schema handling of custom resources, as the API server does it.

In the API server's order: unknown fields are found (an error with
`fieldValidation=Strict`, else pruned), defaults are applied, the OpenAPI constraints
are checked, then the `x-kubernetes-validations` CEL rules run (transition rules, those
naming `oldSelf`, only on updates where the old value exists). Messages copy the
API server's wording, because users and tests read them.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from agentcore_operator.local.cluster import cel

ROOT_META_FIELDS = ("apiVersion", "kind", "metadata")


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str  # FieldValueInvalid, FieldValueNotSupported, FieldValueRequired, FieldValueTooLong, ...
    detail: str  # what follows "field: " in the message

    @property
    def message(self) -> str:
        return f"{self.field}: {self.detail}"

    def cause(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.detail, "field": self.field}


def go_value(value: Any) -> str:
    """How the API server prints an offending value: strings quoted, numbers bare."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(_type_name(value))


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# -- unknown fields ----------------------------------------------------------------------


def unknown_fields(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """Paths of fields the schema does not know (metadata and preserved subtrees excepted)."""
    found: list[str] = []
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return found
    if isinstance(value, dict) and schema.get("type", "object") == "object":
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        for name, item in value.items():
            if not path and name in ROOT_META_FIELDS:
                continue
            child = _join(path, name)
            if properties is not None and name in properties:
                found += unknown_fields(properties[name], item, child)
            elif isinstance(additional, dict):
                found += unknown_fields(additional, item, child)
            elif additional is True:
                continue
            elif properties is not None or additional is False:
                found.append(child)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += unknown_fields(schema["items"], item, f"{path}[{index}]")
    return found


def prune(schema: dict[str, Any], value: Any, root: bool = True) -> Any:
    """Drop unknown fields, in place; returns the value."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return value
    if isinstance(value, dict) and schema.get("type", "object") == "object":
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        for name in list(value):
            if root and name in ROOT_META_FIELDS:
                continue
            if properties is not None and name in properties:
                prune(properties[name], value[name], False)
            elif isinstance(additional, dict):
                prune(additional, value[name], False)
            elif additional is True:
                continue
            elif properties is not None or additional is False:
                del value[name]
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            prune(schema["items"], item, False)
    return value


# -- defaults ----------------------------------------------------------------------------


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Fill in `default`s of absent properties of objects that are present, in place."""
    if isinstance(value, dict):
        for name, child in (schema.get("properties") or {}).items():
            if name not in value and "default" in child:
                value[name] = copy.deepcopy(child["default"])
            if name in value:
                apply_defaults(child, value[name])
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for name in value:
                apply_defaults(additional, value[name])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            apply_defaults(schema["items"], item)
    return value


# -- OpenAPI constraints -----------------------------------------------------------------


def validate(schema: dict[str, Any], value: Any, path: str = "") -> list[FieldError]:
    errors: list[FieldError] = []
    _check(schema, value, path, errors, root=True)
    return errors


def _check(
    schema: dict[str, Any], value: Any, path: str, errors: list[FieldError], root: bool = False
) -> None:
    where = path or "<root>"
    if value is None:
        if not schema.get("nullable"):
            expected = schema.get("type")
            if expected:
                errors.append(
                    FieldError(
                        where,
                        "FieldValueTypeInvalid",
                        f'Invalid value: "null": {where} in body must be of type {expected}: "null"',
                    )
                )
        return
    expected = schema.get("type")
    if expected and not _is_type(value, expected):
        kind = _type_name(value)
        errors.append(
            FieldError(
                where,
                "FieldValueTypeInvalid",
                f'Invalid value: "{kind}": {where} in body must be of type {expected}: "{kind}"',
            )
        )
        return
    if "enum" in schema and value not in schema["enum"]:
        supported = ", ".join(go_value(v) for v in schema["enum"])
        errors.append(
            FieldError(
                where,
                "FieldValueNotSupported",
                f"Unsupported value: {go_value(value)}: supported values: {supported}",
            )
        )
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(
                FieldError(
                    where, "FieldValueTooLong", f"Too long: may not be more than {schema['maxLength']} bytes"
                )
            )
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(
                FieldError(
                    where,
                    "FieldValueInvalid",
                    f"Invalid value: {go_value(value)}: {where} in body should be at least "
                    f"{schema['minLength']} chars long",
                )
            )
        if "pattern" in schema and not _pattern(schema["pattern"]).search(value):
            errors.append(
                FieldError(
                    where,
                    "FieldValueInvalid",
                    f"Invalid value: {go_value(value)}: {where} in body should match '{schema['pattern']}'",
                )
            )
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(
                FieldError(
                    where,
                    "FieldValueInvalid",
                    f"Invalid value: {go_value(value)}: {where} in body should be greater than "
                    f"or equal to {schema['minimum']}",
                )
            )
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(
                FieldError(
                    where,
                    "FieldValueInvalid",
                    f"Invalid value: {go_value(value)}: {where} in body should be less than or "
                    f"equal to {schema['maximum']}",
                )
            )
    if isinstance(value, dict):
        for name in schema.get("required", ()):
            if name not in value:
                errors.append(FieldError(_join(path, name), "FieldValueRequired", "Required value"))
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for name, item in value.items():
            if root and name in ROOT_META_FIELDS:
                continue
            if name in properties:
                _check(properties[name], item, _join(path, name), errors)
            elif isinstance(additional, dict):
                _check(additional, item, _join(path, name), errors)
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            errors.append(
                FieldError(
                    where,
                    "TooMany",
                    f"Too many: {len(value)}: must have at most {schema['maxProperties']} items",
                )
            )
    if isinstance(value, list):
        items = schema.get("items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(
                FieldError(
                    where,
                    "FieldValueTooMany",
                    f"Too many: {len(value)}: must have at most {schema['maxItems']} items",
                )
            )
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(
                FieldError(
                    where,
                    "FieldValueInvalid",
                    f"Invalid value: {len(value)}: {where} in body should have at least {schema['minItems']} items",
                )
            )
        if isinstance(items, dict):
            for index, item in enumerate(value):
                _check(items, item, f"{path}[{index}]", errors)
        keys = schema.get("x-kubernetes-list-map-keys")
        if schema.get("x-kubernetes-list-type") == "map" and keys:
            seen: set[tuple[Any, ...]] = set()
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    identity = tuple(item.get(k) for k in keys)
                    if identity in seen:
                        errors.append(
                            FieldError(
                                f"{path}[{index}]",
                                "FieldValueDuplicate",
                                f"Duplicate value: {json.dumps(dict(zip(keys, identity, strict=True)))}",
                            )
                        )
                    seen.add(identity)


def _is_type(value: Any, expected: str) -> bool:
    if expected == "object":
        return isinstance(value, dict)
    if expected == "array":
        return isinstance(value, list)
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# -- CEL ---------------------------------------------------------------------------------


def cel_errors(
    schema: dict[str, Any], new: Any, old: Any, path: str = "", *, has_old: bool
) -> list[FieldError]:
    """Evaluate every x-kubernetes-validations rule in the schema against the new (and old) value."""
    errors: list[FieldError] = []
    _cel(schema, new, old, path, errors, has_old, root=True)
    return errors


def _cel(
    schema: dict[str, Any],
    new: Any,
    old: Any,
    path: str,
    errors: list[FieldError],
    has_old: bool,
    root: bool = False,
) -> None:
    if new is None:
        return
    if has_old and new == old:
        # Validation ratcheting (KEP-4008, on by default since 1.30): a value left unchanged by
        # an update is not held to the rules again. A status write leaves the spec's rules be.
        return
    where = path or "<root>"
    for rule in schema.get("x-kubernetes-validations", ()):
        expression = rule["rule"]
        transition = "oldSelf" in expression
        if transition and not has_old:
            continue
        try:
            ok = _evaluate(expression, new, old if has_old else None, transition)
        except Exception as exc:  # a rule that cannot be evaluated is a failure, with the reason
            errors.append(
                FieldError(
                    where,
                    "FieldValueInvalid",
                    f"Invalid value: {go_value(_type_name(new))}: "
                    f"{rule.get('message') or expression}: evaluation error: {exc}",
                )
            )
            continue
        if not ok:
            message = rule.get("message") or f"failed rule: {expression}"
            field_path = rule.get("fieldPath")
            target = f"{path}{field_path}" if field_path else where
            errors.append(
                FieldError(
                    target, "FieldValueInvalid", f"Invalid value: {go_value(_type_name(new))}: {message}"
                )
            )
    if isinstance(new, dict):
        for name, child in (schema.get("properties") or {}).items():
            if root and name in ROOT_META_FIELDS:
                continue
            if name in new:
                old_child = old.get(name) if isinstance(old, dict) else None
                child_has_old = has_old and isinstance(old, dict) and name in old
                _cel(child, new[name], old_child, _join(path, name), errors, child_has_old)
    elif isinstance(new, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(new):
            _cel(schema["items"], item, None, f"{path}[{index}]", errors, False)


def _evaluate(expression: str, new: Any, old: Any, transition: bool) -> bool:
    """One rule's verdict. A verdict is a pure function of the rule and its inputs, and
    cel-python takes milliseconds per rule, so verdicts are remembered (bounded)."""
    key = (expression, json.dumps(new, sort_keys=True), json.dumps(old, sort_keys=True) if transition else "")
    verdict = _verdicts.get(key)
    if verdict is None:
        if len(_verdicts) >= VERDICT_CACHE_SIZE:
            _verdicts.clear()
        verdict = _verdicts[key] = _run_rule(expression, new, old, transition)
    return verdict


VERDICT_CACHE_SIZE = 4096
_verdicts: dict[tuple[str, str, str], bool] = {}


def _run_rule(expression: str, new: Any, old: Any, transition: bool) -> bool:
    context = {"self": cel.value(new)}
    if transition:
        context["oldSelf"] = cel.value(old)
    return bool(cel.evaluate(expression, context))
