"""Typed spec and status of a CodeInterpreterSessionPool, mirroring crds/agentcore.dev_codeinterpretersessionpools.yaml.

A pool keeps `spec.replicas` free CodeInterpreterSession children started from
`spec.template`. The template's spec is a session spec: it is read with the session's own
reader (types.SessionSpec), so a template that could not start a session is refused here
with the same message the session would get. As for every kind, the types re-check what
the schema enforces: an object that skipped validation becomes a condition, never an
exception.
"""

from __future__ import annotations

import hashlib
import json
import string
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agentcore_operator.api.v1alpha1.types import (
    Condition,
    DeletionPolicy,
    HasConditions,
    SessionSpec,
    SpecError,
    bounded,
    format_time,
    parse_time,
    spec_and_meta,
)

POOL_PLURAL = "codeinterpretersessionpools"
POOL_KIND = "CodeInterpreterSessionPool"
POOL_FINALIZER = ""  # a pool holds no finalizer: ownerReference GC deletes its children

# The labels of pooled sessions (contract.md #17). The pool label stays when a claim binds the
# child; the state label moves from free to bound, so a pool's free set is `pool-state=free`.
POOL_LABEL = "agentcore.dev/pool"
POOL_STATE_LABEL = "agentcore.dev/pool-state"
CLAIM_LABEL = "agentcore.dev/claim"
TEMPLATE_LABEL = "agentcore.dev/pool-template"  # hash of the template a child was made from
# The five characters after `<pool>-` or `<claim>-` in a child's name (contract.md #17).
CHILD_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits
CHILD_SUFFIX_LENGTH = 5
FREE = "free"
BOUND = "bound"

DEFAULT_MIN_REMAINING_SECONDS = 60
MAX_POOL_NAME = 63  # the pool's name is a label value on its children
MAX_REPLICAS = 1000


def free_selector(pool_name: str) -> str:
    """status.selector: the pool's free children (the scale subresource's labelSelectorPath)."""
    return f"{POOL_LABEL}={pool_name},{POOL_STATE_LABEL}={FREE}"


@dataclass(frozen=True)
class PoolSpec:
    """The pool the user asked for, with defaults applied and its template checked."""

    replicas: int
    template_spec: dict[str, Any]
    session_timeout_seconds: int
    min_remaining_seconds: int = DEFAULT_MIN_REMAINING_SECONDS
    max_session_age_seconds: int = 0  # 0: replaced only when close to expiry
    template_labels: dict[str, str] = field(default_factory=dict)
    template_annotations: dict[str, str] = field(default_factory=dict)

    @property
    def template_hash(self) -> str:
        """Ten hex digits of the template: a child made from another template is replaced."""
        template = {
            "labels": self.template_labels,
            "annotations": self.template_annotations,
            "spec": self.template_spec,
        }
        return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]

    @classmethod
    def from_resource(cls, body: dict[str, Any], *, default_region: str) -> PoolSpec:
        """Read and check a pool's spec; raise SpecError naming the field."""
        spec, meta = spec_and_meta(body)
        name = str(meta.get("name", ""))
        if len(name) > MAX_POOL_NAME:
            raise SpecError(
                f"metadata.name must be at most {MAX_POOL_NAME} characters: it labels the sessions"
            )
        replicas = bounded(spec, "replicas", 0, 0, MAX_REPLICAS)
        template = spec.get("template")
        if not isinstance(template, dict):
            raise SpecError("spec.template is missing or not an object")
        template_meta = template.get("metadata") or {}
        if not isinstance(template_meta, dict):
            raise SpecError("spec.template.metadata is not an object")
        labels = _strings(template_meta, "labels")
        annotations = _strings(template_meta, "annotations")
        template_spec = template.get("spec")
        if not isinstance(template_spec, dict):
            raise SpecError("spec.template.spec is missing or not an object")
        child = {
            "metadata": {"namespace": meta.get("namespace", ""), "name": f"{name}-xxxxx"},
            "spec": template_spec,
        }
        try:
            session = SessionSpec.from_resource(child, default_region=default_region)
        except SpecError as exc:
            raise SpecError(str(exc).replace("spec.", "spec.template.spec.", 1)) from None
        if session.deletion_policy is not DeletionPolicy.DELETE:
            raise SpecError(
                "spec.template.spec.deletionPolicy must be Delete: the pool stops the sessions it lets go"
            )
        min_remaining = bounded(spec, "minRemainingSeconds", DEFAULT_MIN_REMAINING_SECONDS, 0, 28800)
        if min_remaining >= session.session_timeout_seconds:
            raise SpecError(
                f"spec.minRemainingSeconds {min_remaining} must be less than the template's "
                f"sessionTimeoutSeconds {session.session_timeout_seconds}"
            )
        max_age = bounded(spec, "maxSessionAgeSeconds", 0, 0, 28800)
        if 0 < max_age < 60:
            raise SpecError(f"spec.maxSessionAgeSeconds {max_age} must be 0 or at least 60")
        return cls(
            replicas=replicas,
            template_spec=dict(template_spec),
            session_timeout_seconds=session.session_timeout_seconds,
            min_remaining_seconds=min_remaining,
            max_session_age_seconds=max_age,
            template_labels=labels,
            template_annotations=annotations,
        )


def _strings(meta: dict[str, Any], key: str) -> dict[str, str]:
    value = meta.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise SpecError(f"spec.template.metadata.{key} must map names to strings")
    return {str(k): v for k, v in value.items()}


@dataclass(frozen=True)
class PoolStatus(HasConditions):
    """What the pool last recorded (the resource's .status).

    `replicas` counts the free children in any phase (the scale subresource's
    statusReplicasPath); `ready_replicas` the free ones that can be handed out (Ready, with
    at least minRemainingSeconds left). `child_failures` counts children that failed in a
    row, and `retry_after` is when the next child may be created after them (a template
    that cannot start is not retried in a hot loop).
    """

    replicas: int | None = None
    ready_replicas: int | None = None
    selector: str | None = None
    observed_generation: int | None = None
    child_failures: int | None = None
    retry_after: datetime | None = None
    conditions: tuple[Condition, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "replicas": self.replicas,
            "readyReplicas": self.ready_replicas,
            "selector": self.selector,
            "observedGeneration": self.observed_generation,
            "childFailures": self.child_failures,
            "retryAfter": format_time(self.retry_after) if self.retry_after else None,
            "conditions": [c.to_dict() for c in self.conditions] or None,
        }
        return {key: value for key, value in out.items() if value is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PoolStatus:
        data = data or {}

        def integer(key: str) -> int | None:
            value = data.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        def string(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        return cls(
            replicas=integer("replicas"),
            ready_replicas=integer("readyReplicas"),
            selector=string("selector"),
            observed_generation=integer("observedGeneration"),
            child_failures=integer("childFailures"),
            retry_after=parse_time(data.get("retryAfter")),
            conditions=tuple(
                Condition.from_dict(c) for c in data.get("conditions") or () if isinstance(c, dict)
            ),
        )
