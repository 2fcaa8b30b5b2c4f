"""metav1.LabelSelector as objects carry it (matchLabels and matchExpressions), as
`metav1.LabelSelectorAsSelector` reads it: the requirements are ANDed, an empty selector
matches everything, and a malformed one is an error (not a silent no-match)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


class LabelSelectorError(ValueError):
    pass


def is_empty(selector: Mapping[str, Any] | None) -> bool:
    return not selector or (not selector.get("matchLabels") and not selector.get("matchExpressions"))


def matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """Whether `labels` satisfy `selector`; LabelSelectorError if the selector is malformed."""
    if not selector:
        return True
    if not isinstance(selector, Mapping):
        raise LabelSelectorError(f"a label selector must be an object, not {selector!r}")
    labels = labels or {}
    for key, wanted in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != wanted:
            return False
    for requirement in selector.get("matchExpressions") or ():
        if not _requirement_holds(requirement, labels):
            return False
    return True


def _requirement_holds(requirement: Any, labels: Mapping[str, str]) -> bool:
    if not isinstance(requirement, Mapping):
        raise LabelSelectorError(f"a match expression must be an object, not {requirement!r}")
    key = str(requirement.get("key") or "")
    operator, values = requirement.get("operator"), requirement.get("values") or []
    if operator not in OPERATORS:
        raise LabelSelectorError(f'"{operator}" is not a valid label selector operator')
    if operator in ("In", "NotIn") and not values:
        raise LabelSelectorError("for 'in', 'notin' operators, values set can't be empty")
    if operator in ("Exists", "DoesNotExist") and values:
        raise LabelSelectorError("values set must be empty for exists and does not exist")
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    return key not in labels
