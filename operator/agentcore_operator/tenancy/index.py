"""Which policy binds each namespace: fed by the watches of AgentCoreAccessPolicy and Namespaces.

A namespace is bound by every policy that selects it (by name or by its labels); when two
do, the one whose name sorts first wins and the other reports Overlap, so the answer is
deterministic and visible. Namespaces no policy binds run as the operator itself.

Each change says which namespaces' tenancy changed and which policies' bindings changed,
so the operator requeues exactly those sessions and policies (a raised maxSessions lets
waiting sessions start; a relabelled namespace moves to another policy's limits).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentcore_operator.api.v1alpha1 import SpecError
from agentcore_operator.runtime.errors import ApiError, ErrorKind
from agentcore_operator.tenancy.policy import NO_LIMITS, AccessPolicySpec, Identity, Limits


@dataclass(frozen=True)
class NamespaceTenancy:
    """What a namespace's sessions run as, and under which limits."""

    policy_name: str | None
    account_id: str  # 12 digits, or "" while the operator's own account is unknown
    role: Identity | None  # None: the operator's own identity
    region: str | None
    weight: int
    limits: Limits

    @property
    def account_key(self) -> str:
        """The rate limiter's and the quota gate's scope: "" is the operator's own account."""
        return self.role.account_id if self.role is not None else ""


UNBOUND = NamespaceTenancy(None, "", None, None, 1, NO_LIMITS)


@dataclass(frozen=True)
class Overlap:
    namespace: str
    winner: str


@dataclass
class Changes:
    """What one watch event changed: whose sessions and which policies to look at again."""

    namespaces: set[str] = field(default_factory=set)
    policies: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.namespaces or self.policies)


@dataclass(frozen=True)
class PolicyView:
    """What the policy's status reports (runtime loop: tenancy/kind.py)."""

    account_id: str
    namespaces: tuple[str, ...]
    overlaps: tuple[Overlap, ...]
    error: str | None


class TenancyIndex:
    def __init__(self, own_account: str = "") -> None:
        self._own_account = own_account
        self._specs: dict[str, AccessPolicySpec] = {}
        self._errors: dict[str, str] = {}
        self._labels: dict[str, dict[str, str]] = {}
        self._binding: dict[str, str] = {}  # namespace -> winning policy
        self._selected: dict[str, tuple[str, ...]] = {}  # namespace -> every policy selecting it, sorted

    # -- feeding ------------------------------------------------------------------

    @property
    def own_account(self) -> str:
        return self._own_account

    def set_own_account(self, account_id: str) -> Changes:
        """The operator's own account (GetCallerIdentity at startup): every unbound namespace changes."""
        self._own_account = account_id
        changes = Changes(policies={n for n, s in self._specs.items() if s.identity is None})
        changes.namespaces = {ns for ns in self._labels if ns not in self._binding}
        changes.namespaces |= {ns for ns, p in self._binding.items() if p in changes.policies}
        return changes

    def put_policy(self, body: Mapping[str, Any]) -> Changes:
        name = str((body.get("metadata") or {}).get("name", ""))
        try:
            spec: AccessPolicySpec | None = AccessPolicySpec.from_resource(body)
            self._errors.pop(name, None)
        except SpecError as exc:
            spec = None
            self._errors[name] = str(exc)
        old = self._specs.get(name)
        if spec is None:
            self._specs.pop(name, None)
        else:
            self._specs[name] = spec
        changes = self._rebind(set(self._labels))
        changes.policies.add(name)
        if old != spec:  # limits, region, identity: every namespace it binds looks again
            changes.namespaces |= {ns for ns, p in self._binding.items() if p == name}
        return changes

    def remove_policy(self, name: str) -> Changes:
        self._specs.pop(name, None)
        self._errors.pop(name, None)
        bound = {ns for ns, p in self._binding.items() if p == name}
        changes = self._rebind(set(self._labels))
        changes.namespaces |= bound
        changes.policies.discard(name)
        return changes

    def put_namespace(self, body: Mapping[str, Any]) -> Changes:
        meta = body.get("metadata") or {}
        name = str(meta.get("name", ""))
        labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
        if self._labels.get(name) == labels:
            return Changes()
        self._labels[name] = labels
        return self._rebind({name})

    def remove_namespace(self, name: str) -> Changes:
        self._labels.pop(name, None)
        return self._rebind({name})

    def _rebind(self, namespaces: set[str]) -> Changes:
        changes = Changes()
        names = sorted(self._specs)
        for namespace in namespaces:
            labels = self._labels.get(namespace)
            selecting = (
                tuple(p for p in names if self._specs[p].selector.matches(namespace, labels))
                if labels is not None
                else ()
            )
            before = self._selected.get(namespace, ())
            if selecting != before:
                changes.policies |= set(before) | set(selecting)
            if selecting:
                self._selected[namespace] = selecting
            else:
                self._selected.pop(namespace, None)
            winner = selecting[0] if selecting else None
            if self._binding.get(namespace) != winner:
                changes.namespaces.add(namespace)
            if winner is None:
                self._binding.pop(namespace, None)
            else:
                self._binding[namespace] = winner
        return changes

    # -- reading ------------------------------------------------------------------

    def for_namespace(self, namespace: str) -> NamespaceTenancy:
        name = self._binding.get(namespace)
        spec = self._specs.get(name) if name is not None else None
        if name is None or spec is None:
            return NamespaceTenancy(None, self._own_account, None, None, 1, NO_LIMITS)
        account = spec.identity.account_id if spec.identity is not None else self._own_account
        return NamespaceTenancy(name, account, spec.identity, spec.region, spec.weight, spec.limits)

    def namespaces_of(self, policy: str) -> tuple[str, ...]:
        return tuple(sorted(ns for ns, p in self._binding.items() if p == policy))

    def policy_view(self, policy: str) -> PolicyView:
        spec = self._specs.get(policy)
        account = ""
        if spec is not None:
            account = spec.identity.account_id if spec.identity is not None else self._own_account
        overlaps = tuple(
            Overlap(ns, selecting[0])
            for ns, selecting in sorted(self._selected.items())
            if policy in selecting and selecting[0] != policy
        )
        return PolicyView(account, self.namespaces_of(policy), overlaps, self._errors.get(policy))

    def identity_for(self, account_id: str) -> Identity | None:
        """The identity to act in an account with: None is the operator's own.

        A session is read and stopped in the account it was started in, whoever binds its
        namespace now: the role of the first policy (by name) naming that account. Raises
        ApiError (AccessDenied) when none does: guessing with the operator's own identity would
        see "not found" and take a live session for ended.
        """
        if not account_id or account_id == self._own_account:
            return None
        for name in sorted(self._specs):
            identity = self._specs[name].identity
            if identity is not None and identity.account_id == account_id:
                return identity
        raise ApiError(
            ErrorKind.ACCESS_DENIED,
            "AssumeRole",
            "NoIdentity",
            f"no AgentCoreAccessPolicy names a role in account {account_id}",
        )
