"""The CodeInterpreterSessionPool CRD, generated from the CodeInterpreterSession CRD.

A pool's `spec.template.spec` is a session spec. Rather than a hand-kept copy that drifts,
the pool CRD is written by this module from the session CRD: the session's spec schema
goes in as it is, minus its transition rules (`oldSelf`: a session's fields are immutable,
a template's are not; a changed template replaces the free sessions). The conditions schema
is the session's too. tests/unit/test_pool_crd.py checks that crds/ and the chart's copy
hold exactly what this produces; after changing the session CRD, run

    python -m agentcore_operator.api.v1alpha1.pool_crd   # from the repository root
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml

from agentcore_operator.api.v1alpha1.pool import (
    DEFAULT_MIN_REMAINING_SECONDS,
    MAX_POOL_NAME,
    MAX_REPLICAS,
    POOL_KIND,
    POOL_PLURAL,
)
from agentcore_operator.api.v1alpha1.types import GROUP, VERSION

SESSION_CRD = "agentcore.dev_codeinterpretersessions.yaml"
POOL_CRD = f"{GROUP}_{POOL_PLURAL}.yaml"
HEADER = (
    "# Generated from agentcore.dev_codeinterpretersessions.yaml by\n"
    "# `python -m agentcore_operator.api.v1alpha1.pool_crd`: edit that module, not this file.\n"
)
TEMPLATE_SPEC_DESCRIPTION = (
    "The spec of every session of the pool: a CodeInterpreterSession spec. deletionPolicy must be "
    "Delete. Changing it replaces the free sessions (bound ones keep theirs)."
)
DEFAULT_SESSION_TIMEOUT = 900


def without_transition_rules(schema: Any) -> Any:
    """The schema with every CEL rule that reads `oldSelf` removed, at any depth."""
    if isinstance(schema, list):
        return [without_transition_rules(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "x-kubernetes-validations":
            rules = [rule for rule in value if "oldSelf" not in rule["rule"]]
            if rules:
                out[key] = rules
        else:
            out[key] = without_transition_rules(value)
    return out


def template_spec_schema(session_crd: dict[str, Any]) -> dict[str, Any]:
    """The session CRD's spec schema, as a template's (no immutability, its own description)."""
    schema = _openapi(session_crd)["properties"]["spec"]
    spec: dict[str, Any] = without_transition_rules(copy.deepcopy(schema))
    spec["description"] = TEMPLATE_SPEC_DESCRIPTION
    return spec


def _openapi(crd: dict[str, Any]) -> dict[str, Any]:
    (version,) = crd["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def _integer(description: str, *, minimum: int, maximum: int, default: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "integer", "format": "int32", "minimum": minimum, "maximum": maximum}
    if default is not None:
        out["default"] = default
    out["description"] = description
    return out


def pool_crd(session_crd: dict[str, Any]) -> dict[str, Any]:
    """The CodeInterpreterSessionPool CRD for this session CRD."""
    string_map = {"type": "object", "additionalProperties": {"type": "string"}}
    conditions = copy.deepcopy(_openapi(session_crd)["properties"]["status"]["properties"]["conditions"])
    conditions["description"] = "Standard conditions; Ready is True when readyReplicas reaches spec.replicas."
    timeout = f"(has(self.template.spec.sessionTimeoutSeconds) ? self.template.spec.sessionTimeoutSeconds : {DEFAULT_SESSION_TIMEOUT})"
    spec = {
        "type": "object",
        "description": "How many free sessions to keep, and what each is.",
        "required": ["template"],
        "x-kubernetes-validations": [
            {
                "rule": "!has(self.template.spec.deletionPolicy) || self.template.spec.deletionPolicy == 'Delete'",
                "message": "template.spec.deletionPolicy must be Delete: the pool stops the sessions it lets go",
                "fieldPath": ".template.spec.deletionPolicy",
            },
            {
                "rule": f"!has(self.minRemainingSeconds) || self.minRemainingSeconds < {timeout}",
                "message": "minRemainingSeconds must be less than the template's sessionTimeoutSeconds",
                "fieldPath": ".minRemainingSeconds",
            },
        ],
        "properties": {
            "replicas": _integer(
                "How many free sessions to keep started (the scale subresource: kubectl scale, an HPA).",
                minimum=0,
                maximum=MAX_REPLICAS,
                default=0,
            ),
            "template": {
                "type": "object",
                "description": "The sessions to keep: labels and annotations, and a CodeInterpreterSession spec.",
                "required": ["spec"],
                "properties": {
                    "metadata": {
                        "type": "object",
                        "description": "Labels and annotations copied to every session of the pool.",
                        "properties": {"labels": string_map, "annotations": string_map},
                    },
                    "spec": template_spec_schema(session_crd),
                },
            },
            "minRemainingSeconds": _integer(
                "A free session with less than this left is never handed out; it is replaced before.",
                minimum=0,
                maximum=28800,
                default=DEFAULT_MIN_REMAINING_SECONDS,
            ),
            "maxSessionAgeSeconds": {
                **_integer(
                    "Replace free sessions older than this (0: only when close to their expiry).",
                    minimum=0,
                    maximum=28800,
                    default=0,
                ),
                "x-kubernetes-validations": [
                    {"rule": "self == 0 || self >= 60", "message": "0, or at least 60"}
                ],
            },
        },
    }
    status = {
        "type": "object",
        "description": "The pool as last observed.",
        "properties": {
            "replicas": {"type": "integer", "description": "Free sessions of the pool, in any phase."},
            "readyReplicas": {
                "type": "integer",
                "description": "Free sessions Ready with at least minRemainingSeconds left: the ones a claim can take.",
            },
            "selector": {"type": "string", "description": "The label selector of the free sessions."},
            "observedGeneration": {"type": "integer", "format": "int64"},
            "childFailures": {"type": "integer", "description": "Sessions of the pool that failed in a row."},
            "retryAfter": {
                "type": "string",
                "format": "date-time",
                "description": "After failed sessions, no new one is created before this time.",
            },
            "conditions": conditions,
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{POOL_PLURAL}.{GROUP}",
            "labels": {"app.kubernetes.io/part-of": "agentcore-operator"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": POOL_KIND,
                "listKind": f"{POOL_KIND}List",
                "plural": POOL_PLURAL,
                "singular": POOL_KIND.lower(),
                "shortNames": ["cisp"],
                "categories": ["agentcore"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                            "labelSelectorPath": ".status.selector",
                        },
                    },
                    "additionalPrinterColumns": [
                        _column("Desired", "integer", ".spec.replicas", "Free sessions wanted."),
                        _column("Free", "integer", ".status.replicas", "Free sessions, in any phase."),
                        _column(
                            "Ready", "integer", ".status.readyReplicas", "Free sessions a claim can take now."
                        ),
                        {
                            **_column(
                                "Reason",
                                "string",
                                '.status.conditions[?(@.type=="Ready")].reason',
                                "Why the pool is or is not Ready.",
                            ),
                            "priority": 1,
                        },
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": (
                                "A warm pool of CodeInterpreterSessions: spec.replicas free sessions kept Ready "
                                "for CodeInterpreterSessionClaims to take."
                            ),
                            "required": ["spec"],
                            "x-kubernetes-validations": [
                                {
                                    "rule": f"self.metadata.name.size() <= {MAX_POOL_NAME}",
                                    "message": f"a pool's name labels its sessions: at most {MAX_POOL_NAME} characters",
                                }
                            ],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }


def _column(name: str, type_: str, path: str, description: str) -> dict[str, Any]:
    return {"name": name, "type": type_, "jsonPath": path, "description": description}


def render(session_crd: dict[str, Any]) -> str:
    return HEADER + yaml.safe_dump(pool_crd(session_crd), sort_keys=False, width=120, allow_unicode=True)


def write(repo: Path) -> list[Path]:
    """Regenerate the pool CRD in crds/ and in the chart's crds/."""
    session = yaml.safe_load((repo / "crds" / SESSION_CRD).read_text())
    text = render(session)
    targets = [repo / "crds" / POOL_CRD, repo / "charts" / "agentcore-operator" / "crds" / POOL_CRD]
    for target in targets:
        target.write_text(text)
    return targets


if __name__ == "__main__":  # pragma: no cover
    for path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()):
        print(path)
