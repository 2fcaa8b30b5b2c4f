"""agentcore.dev/v1alpha1 AgentCoreAccessPolicy: the typed spec and status, mirroring crds/.

A cluster-scoped policy binds namespaces (by name, or by a label selector over Namespaces)
to the AWS identity their sessions run as, with a default region, a fair-share weight and
limits that apply to each bound namespace on its own. The API server's schema refuses most
bad input; `from_resource` checks it again (a policy written before the CRD was updated, or
to a server that skipped validation) and says which field is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentcore_operator.api.v1alpha1.types import (
    INTERPRETER_ARN_RE,
    REGION_RE,
    Condition,
    HasConditions,
    SpecError,
)

POLICY_KIND = "AgentCoreAccessPolicy"
POLICY_PLURAL = "agentcoreaccesspolicies"
POLICY_FINALIZER = "agentcore.dev/access-policy"  # never added: a policy owns nothing in AWS

ROLE_ARN_RE = re.compile(r"^arn:aws(-[a-z]+)*:iam::(?P<account>[0-9]{12}):role/[\w+=,.@/-]{1,512}$")
EXTERNAL_ID_RE = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
DEFAULT_DURATION_SECONDS = 3600
SELECTOR_OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist"})


@dataclass(frozen=True)
class Identity:
    """An IAM role to assume: what a cached credential provider is keyed by."""

    role_arn: str
    external_id: str | None = None
    session_tags: tuple[tuple[str, str], ...] = ()
    duration_seconds: int = DEFAULT_DURATION_SECONDS

    @property
    def account_id(self) -> str:
        match = ROLE_ARN_RE.fullmatch(self.role_arn)
        return match.group("account") if match else ""

    def __repr__(self) -> str:
        # The external id is not a secret, but it is the role's second factor: keep it out of logs.
        return f"Identity(role_arn={self.role_arn!r}, external_id={'***' if self.external_id else None})"


@dataclass(frozen=True)
class Requirement:
    """One matchExpressions entry of a metav1.LabelSelector."""

    key: str
    operator: str
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        match self.operator:
            case "In":
                return labels.get(self.key) in self.values
            case "NotIn":
                return labels.get(self.key) not in self.values
            case "Exists":
                return self.key in labels
            case _:  # DoesNotExist
                return self.key not in labels


@dataclass(frozen=True)
class NamespaceSelector:
    """names OR the label selector (matchLabels AND every matchExpression)."""

    names: frozenset[str] = frozenset()
    match_labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[Requirement, ...] = ()
    has_selector: bool = False

    def matches(self, namespace: str, labels: Mapping[str, str]) -> bool:
        if namespace in self.names:
            return True
        if not self.has_selector:
            return False
        return all(labels.get(k) == v for k, v in self.match_labels) and all(
            r.matches(labels) for r in self.expressions
        )

    @property
    def uses_labels(self) -> bool:
        return self.has_selector


@dataclass(frozen=True)
class Limits:
    """Applied per bound namespace. None: no limit."""

    max_sessions: int | None = None
    max_session_timeout_seconds: int | None = None
    allowed_interpreters: frozenset[str] | None = None

    def allows_interpreter(self, identifier: str, ref_name: str | None) -> bool:
        """Listed by id, by ARN (either form matches the other), or by CodeInterpreter name."""
        if self.allowed_interpreters is None:
            return True
        if ref_name is not None and ref_name in self.allowed_interpreters:
            return True
        return _bare_id(identifier) in {_bare_id(entry) for entry in self.allowed_interpreters}


def _bare_id(identifier: str) -> str:
    match = INTERPRETER_ARN_RE.fullmatch(identifier)
    return match.group("id") if match else identifier


NO_LIMITS = Limits()


@dataclass(frozen=True)
class AccessPolicySpec:
    selector: NamespaceSelector
    identity: Identity | None = None
    region: str | None = None
    weight: int = 1
    limits: Limits = NO_LIMITS

    @classmethod
    def from_resource(cls, body: Mapping[str, Any]) -> AccessPolicySpec:
        spec = body.get("spec")
        if not isinstance(spec, Mapping):
            raise SpecError("spec is required")
        return cls(
            selector=_selector(spec.get("namespaceSelector")),
            identity=_identity(spec.get("identity")),
            region=_region(spec.get("region")),
            weight=_int(spec.get("weight"), "spec.weight", 1, 1000, default=1) or 1,
            limits=_limits(spec.get("limits")),
        )


@dataclass(frozen=True)
class AccessPolicyStatus(HasConditions):
    observed_generation: int | None = None
    account_id: str | None = None
    namespaces: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"namespaces": list(self.namespaces)}
        if self.observed_generation is not None:
            out["observedGeneration"] = self.observed_generation
        if self.account_id:
            out["accountId"] = self.account_id
        if self.conditions:
            out["conditions"] = [c.to_dict() for c in self.conditions]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> AccessPolicyStatus:
        data = data or {}
        generation = data.get("observedGeneration")
        return cls(
            observed_generation=generation if isinstance(generation, int) else None,
            account_id=str(data["accountId"]) if data.get("accountId") else None,
            namespaces=tuple(str(n) for n in data.get("namespaces") or ()),
            conditions=tuple(
                Condition.from_dict(c) for c in data.get("conditions") or () if isinstance(c, dict)
            ),
        )


def _selector(raw: Any) -> NamespaceSelector:
    if not isinstance(raw, Mapping):
        raise SpecError("spec.namespaceSelector is required (names or selector)")
    names = raw.get("names")
    selector = raw.get("selector")
    if names is None and selector is None:
        raise SpecError("spec.namespaceSelector needs names or selector")
    if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
        raise SpecError("spec.namespaceSelector.names must be a list of namespace names")
    if selector is None:
        return NamespaceSelector(names=frozenset(names or ()))
    if not isinstance(selector, Mapping):
        raise SpecError("spec.namespaceSelector.selector must be a label selector")
    labels = selector.get("matchLabels") or {}
    if not isinstance(labels, Mapping):
        raise SpecError("spec.namespaceSelector.selector.matchLabels must map keys to values")
    expressions: list[Requirement] = []
    for index, item in enumerate(selector.get("matchExpressions") or ()):
        where = f"spec.namespaceSelector.selector.matchExpressions[{index}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("key"), str):
            raise SpecError(f"{where} needs a key")
        operator = item.get("operator")
        if operator not in SELECTOR_OPERATORS:
            raise SpecError(f"{where}.operator must be one of In, NotIn, Exists, DoesNotExist")
        values = item.get("values") or []
        if (operator in ("In", "NotIn")) != bool(values):
            raise SpecError(f"{where}: In and NotIn need values; Exists and DoesNotExist take none")
        expressions.append(Requirement(item["key"], operator, frozenset(str(v) for v in values)))
    return NamespaceSelector(
        names=frozenset(names or ()),
        match_labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
        expressions=tuple(expressions),
        has_selector=True,
    )


def _identity(raw: Any) -> Identity | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise SpecError("spec.identity must be an object with roleArn")
    role = raw.get("roleArn")
    if not isinstance(role, str) or not ROLE_ARN_RE.fullmatch(role):
        raise SpecError(
            f"spec.identity.roleArn {role!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
        )
    external = raw.get("externalId")
    if external is not None and (not isinstance(external, str) or not EXTERNAL_ID_RE.fullmatch(external)):
        raise SpecError("spec.identity.externalId must be 2 to 1224 characters of [\\w+=,.@:/-]")
    tags: list[tuple[str, str]] = []
    raw_tags = raw.get("sessionTags") or []
    if not isinstance(raw_tags, list) or len(raw_tags) > 50:
        raise SpecError("spec.identity.sessionTags must be a list of at most 50 {key, value}")
    for index, tag in enumerate(raw_tags):
        if not isinstance(tag, Mapping) or not isinstance(tag.get("key"), str) or "value" not in tag:
            raise SpecError(f"spec.identity.sessionTags[{index}] needs key and value")
        tags.append((tag["key"], str(tag["value"])))
    duration = _int(raw.get("durationSeconds"), "spec.identity.durationSeconds", 900, 43200)
    return Identity(
        role_arn=role,
        external_id=external,
        session_tags=tuple(tags),
        duration_seconds=duration or DEFAULT_DURATION_SECONDS,
    )


def _region(raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not REGION_RE.fullmatch(raw):
        raise SpecError(f"spec.region {raw!r} is not an AWS region name")
    return raw


def _limits(raw: Any) -> Limits:
    if raw is None:
        return NO_LIMITS
    if not isinstance(raw, Mapping):
        raise SpecError("spec.limits must be an object")
    allowed = raw.get("allowedInterpreters")
    if allowed is not None and (
        not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed)
    ):
        raise SpecError("spec.limits.allowedInterpreters must be a list of interpreter ids, ARNs or names")
    return Limits(
        max_sessions=_int(raw.get("maxSessions"), "spec.limits.maxSessions", 0, None),
        max_session_timeout_seconds=_int(
            raw.get("maxSessionTimeoutSeconds"), "spec.limits.maxSessionTimeoutSeconds", 60, 28800
        ),
        allowed_interpreters=frozenset(allowed) if allowed is not None else None,
    )


def _int(raw: Any, where: str, low: int, high: int | None, *, default: int | None = None) -> int | None:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < low or (high is not None and raw > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise SpecError(f"{where} must be an integer {bounds}, not {raw!r}")
    return raw
