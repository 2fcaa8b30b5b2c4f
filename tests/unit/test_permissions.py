"""The operator's Kubernetes permissions: least privilege, no wildcards, every rule explained."""

from __future__ import annotations

import pytest
from agentcore_operator.api.v1alpha1 import GROUP, PLURAL
from agentcore_operator.manager.permissions import PERMISSIONS, Permission

KUBERNETES_VERBS = {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
SCOPES = {"watched", "operator-namespace", "cluster"}
IDS = [f"{p.api_group or 'core'}/{','.join(p.resources)}" for p in PERMISSIONS]


def rule(resource: str, api_group: str, scope: str | None = None) -> Permission:
    (match,) = [
        p
        for p in PERMISSIONS
        if p.api_group == api_group and resource in p.resources and scope in (None, p.scope)
    ]
    return match


@pytest.mark.parametrize("permission", PERMISSIONS, ids=IDS)
def test_no_wildcards(permission: Permission) -> None:
    assert "*" not in permission.api_group
    assert all("*" not in resource for resource in permission.resources)
    assert all("*" not in verb for verb in permission.verbs)


@pytest.mark.parametrize("permission", PERMISSIONS, ids=IDS)
def test_every_rule_is_well_formed_and_explained(permission: Permission) -> None:
    assert permission.resources
    assert permission.verbs
    assert set(permission.verbs) <= KUBERNETES_VERBS
    assert len(set(permission.verbs)) == len(permission.verbs)
    assert permission.scope in SCOPES
    assert permission.why.strip()


def test_no_resource_is_granted_twice() -> None:
    keys = [(p.api_group, resource, p.scope) for p in PERMISSIONS for resource in p.resources]
    assert len(keys) == len(set(keys))


def test_sessions_are_never_updated() -> None:
    """The operator never writes a session's spec: it patches finalizers, a claim's labels and
    ownerReference (a merge patch), and status; it creates and deletes a pool's free sessions
    and a claim's cold one (whole objects, never a user's spec changed), and deletes a finished
    resource whose ttlSecondsAfterFinished has passed."""
    sessions = rule(PLURAL, GROUP)
    assert set(sessions.verbs) == {"get", "list", "watch", "create", "patch", "delete"}
    assert sessions.scope == "watched"
    status = rule(f"{PLURAL}/status", GROUP)
    assert set(status.verbs) <= {"get", "patch"}


def test_pools_are_only_read_and_their_status_written() -> None:
    """A pool holds no finalizer and its spec is the user's (or an HPA's, through scale)."""
    assert set(rule("codeinterpretersessionpools", GROUP).verbs) == {"get", "list", "watch"}
    assert set(rule("codeinterpretersessionpools/status", GROUP).verbs) == {"get", "patch"}


def test_events_are_only_created() -> None:
    assert rule("events", "").verbs == ("create",)


def test_nothing_but_sessions_and_expired_claims_is_deleted() -> None:
    deleting = [p for p in PERMISSIONS if {"delete", "deletecollection"} & set(p.verbs)]
    assert [(p.resources, p.verbs.count("delete")) for p in deleting] == [
        ((PLURAL,), 1),
        (("codeinterpretersessionclaims",), 1),
    ]
    assert all("deletecollection" not in p.verbs for p in deleting)


def test_claims_are_read_and_deleted_and_pools_only_read() -> None:
    """A claim's spec is the user's: the operator writes its status, deletes it at its TTL, and
    may name it as an owner with blockOwnerDeletion (update on its finalizers); pools are read."""
    assert set(rule("codeinterpretersessionclaims", GROUP).verbs) == {"get", "list", "watch", "delete"}
    assert rule("codeinterpretersessionclaims/finalizers", GROUP).verbs == ("update",)
    assert set(rule("codeinterpretersessionclaims/status", GROUP).verbs) == {"get", "patch"}
    assert set(rule("codeinterpretersessionpools", GROUP).verbs) == {"get", "list", "watch"}


def test_leases_are_only_read_created_and_updated_in_the_operators_namespace() -> None:
    """client-go's elector needs get, create and update; a standby also watches (a release
    wakes it at once). No list or delete."""
    leases = rule("leases", "coordination.k8s.io")
    assert set(leases.verbs) == {"get", "create", "update", "watch"}
    assert leases.scope == "operator-namespace"
    assert leases.only_with == "leaderElection.enabled"


def test_secrets_are_never_read() -> None:
    """AWS credentials come from the pod's identity (IRSA, Pod Identity), never from Secrets."""
    assert all("secrets" not in p.resources for p in PERMISSIONS)


def test_configmaps_are_confined_to_the_operator_namespace_and_the_watched_ones() -> None:
    assert {p.scope for p in PERMISSIONS if "configmaps" in p.resources} == {"operator-namespace", "watched"}
    # Exports are written by name: no list of a tenant's ConfigMaps, and never a delete
    # (garbage collection removes them with their session).
    assert set(rule("configmaps", "", "watched").verbs) == {"get", "create", "update", "patch"}


def test_cluster_wide_rules_are_read_only_but_the_policies_status() -> None:
    """Cluster-wide, the operator reads; it writes only the status of its own cluster-scoped
    kind (AgentCoreAccessPolicy), never a policy's spec nor a Namespace."""
    for permission in PERMISSIONS:
        if permission.scope == "cluster" and permission.resources != ("agentcoreaccesspolicies/status",):
            assert set(permission.verbs) <= {"get", "list", "watch"}, permission
    assert set(rule("agentcoreaccesspolicies/status", GROUP).verbs) == {"get", "patch"}


def test_tenancy_reads_policies_and_namespaces_cluster_wide() -> None:
    """Policies and Namespaces are cluster-scoped: read cluster-wide even when the operator
    watches a list of namespaces (a namespaced Role cannot grant them)."""
    assert rule("agentcoreaccesspolicies", GROUP).scope == "cluster"
    namespaces = rule("namespaces", "")
    assert namespaces.scope == "cluster"
    assert set(namespaces.verbs) == {"get", "list", "watch"}
