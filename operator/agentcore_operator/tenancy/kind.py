"""AgentCoreAccessPolicy on the generic reconcile loop: its status, from the tenancy index.

A policy owns nothing in AWS, so its decision never acts: it only says what the index
(tenancy/index.py) knows of it, and the loop (runtime/reconcile.py) writes that status when
it changed. The index's changes requeue the policies they concern (a namespace labelled
into a selector, a policy named earlier taking a namespace over).

| index says                                    | status                                          |
|-----------------------------------------------|-------------------------------------------------|
| the spec cannot be read                       | Ready False / InvalidSpec (message: the field)  |
| a namespace it selects is bound by a policy   | Ready False / Overlap (names each namespace and |
|   whose name sorts first                      |   the policy that binds it)                     |
| otherwise                                     | Ready True / Valid                              |

Always: namespaces (the bound ones, sorted), accountId (the role's, or the operator's own),
observedGeneration.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from agentcore_operator.runtime.conditions import READY, with_condition
from agentcore_operator.runtime.decision import Decision
from agentcore_operator.runtime.meta import ResourceMeta
from agentcore_operator.runtime.reconcile import NoBookkeeping
from agentcore_operator.tenancy.index import PolicyView, TenancyIndex
from agentcore_operator.tenancy.policy import POLICY_FINALIZER, AccessPolicyStatus


@dataclass(frozen=True)
class PolicyResource:
    meta: ResourceMeta
    index: PolicyView


class NoAction:
    """A policy's decision never acts (the type of the actions it does not have)."""


PolicyDecision = Decision[AccessPolicyStatus, NoAction]


def decide(resource: PolicyResource, status: AccessPolicyStatus, now: datetime) -> PolicyDecision:
    """The policy's status from what the index says of it. Pure: see the module table."""
    seen = resource.index
    new = replace(
        status,
        observed_generation=resource.meta.generation,
        account_id=seen.account_id or None,
        namespaces=seen.namespaces,
    )
    if seen.error is not None:
        new = with_condition(new, READY, False, "InvalidSpec", seen.error, now)
    elif seen.overlaps:
        taken = ", ".join(f"{o.namespace} (bound by {o.winner})" for o in seen.overlaps)
        message = f"namespaces selected by a policy whose name sorts first are not bound by this one: {taken}"
        new = with_condition(new, READY, False, "Overlap", message, now)
    else:
        where = f"account {seen.account_id}" if seen.account_id else "the operator's own account"
        message = f"binds {len(seen.namespaces)} namespaces to {where}"
        new = with_condition(new, READY, True, "Valid", message, now)
    return Decision(None, new)


@dataclass(frozen=True)
class PolicyKind(NoBookkeeping):
    """The policy's part of a pass (runtime.reconcile.ResourceKind): no bookkeeping."""

    index: TenancyIndex

    def view(self, body: dict[str, Any]) -> PolicyResource:
        meta = ResourceMeta.of(body, POLICY_FINALIZER)
        return PolicyResource(replace(meta, has_finalizer=True), self.index.policy_view(meta.name))

    def with_finalizer(self, view: PolicyResource) -> PolicyResource:
        return view

    def read_status(self, persisted: dict[str, Any]) -> AccessPolicyStatus:
        return AccessPolicyStatus.from_dict(persisted)

    def decide(
        self, view: PolicyResource, status: AccessPolicyStatus, observation: None, now: datetime
    ) -> PolicyDecision:
        return decide(view, status, now)

    def mutates(self, action: NoAction) -> bool:
        return False

    async def perform(self, action: NoAction) -> None:
        raise AssertionError("an AgentCoreAccessPolicy's decision never acts")  # pragma: no cover

    def ready_reason(self, status: AccessPolicyStatus) -> str | None:
        condition = status.condition(READY)
        return condition.reason if condition else None
