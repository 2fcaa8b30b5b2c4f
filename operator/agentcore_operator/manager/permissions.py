"""Every Kubernetes permission the operator uses, in one list.

The Helm chart's RBAC is tested against this list (nothing more, nothing less), and the
integration tests check that every request the running operator sends to the emulated
cluster is covered by it. A new API call in the code therefore fails a test until it is
declared here and granted in the chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scope = Literal["watched", "operator-namespace", "cluster"]


@dataclass(frozen=True)
class Permission:
    """One RBAC rule: verbs on resources of an API group, granted where `scope` says.

    `watched` rules go in a ClusterRole when all namespaces are watched, else in a Role in
    each watched namespace; `operator-namespace` rules always go in a Role in the operator's
    own namespace; `cluster` rules always go in a ClusterRole (cluster-scoped objects).
    """

    api_group: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    scope: Scope
    why: str
    only_with: str | None = None  # the chart value that turns this rule on; None: always granted


PERMISSIONS: tuple[Permission, ...] = (
    Permission(
        api_group="agentcore.dev",
        resources=("codeinterpretersessions",),
        verbs=("get", "list", "watch", "create", "patch", "delete"),
        scope="watched",
        why=(
            "watch sessions; add and remove the finalizer; delete a finished one (ttlSecondsAfterFinished); "
            "create and delete a pool's free sessions (CodeInterpreterSessionPool); a claim creates its cold "
            "session, binds a pooled one (labels and ownerReference, under its resourceVersion) and deletes "
            "the one it started when ttlSecondsUnbound passes"
        ),
    ),
    Permission(
        api_group="agentcore.dev",
        resources=("codeinterpretersessionclaims",),
        verbs=("get", "list", "watch", "delete"),
        scope="watched",
        why="watch claims; delete a claim whose ttlSecondsAfterBound or shutdownTime has passed",
    ),
    Permission(
        api_group="agentcore.dev",
        resources=("codeinterpretersessionclaims/finalizers",),
        verbs=("update",),
        scope="watched",
        why=(
            "a claim's session names the claim as its owner with blockOwnerDeletion, which the API "
            "server's OwnerReferencesPermissionEnforcement admits only with update on the owner's finalizers"
        ),
    ),
    Permission(
        api_group="agentcore.dev",
        resources=("codeinterpretersessionpools",),
        verbs=("get", "list", "watch"),
        scope="watched",
        why=(
            "watch session pools (their children are sessions; a pool holds no finalizer); a claim reads "
            "its pool's template for a cold session"
        ),
    ),
    Permission(
        api_group="agentcore.dev",
        resources=("codeinterpreters",),
        verbs=("get", "list", "watch", "patch"),
        scope="watched",
        why="watch code interpreters; add and remove their finalizer",
    ),
    Permission(
        api_group="agentcore.dev",
        resources=(
            "codeinterpretersessions/status",
            "codeinterpreters/status",
            "codeinterpretersessionpools/status",
            "codeinterpretersessionclaims/status",
        ),
        verbs=("get", "patch"),
        scope="watched",
        why="write the observed session, code interpreter, pool and claim state",
    ),
    Permission(
        api_group="",
        resources=("events",),
        verbs=("create",),
        scope="watched",
        why="tell users what happened (kubectl describe)",
    ),
    Permission(
        api_group="",
        resources=("configmaps",),
        verbs=("get", "create", "update", "patch"),
        scope="watched",
        why="spec.export.configMapName: hand the session id to workloads (a ConfigMap owned by the session)",
    ),
    Permission(
        api_group="",
        resources=("configmaps",),
        verbs=("get", "list", "create", "patch"),
        scope="operator-namespace",
        why="the session ledger: which sessions this operator started (orphan recovery)",
    ),
    Permission(
        api_group="coordination.k8s.io",
        resources=("leases",),
        verbs=("get", "create", "update", "watch"),
        scope="operator-namespace",
        why="leader election: the Lease says which replica acts; a standby watches it to take over at once",
        only_with="leaderElection.enabled",
    ),
    Permission(
        api_group="agentcore.dev",
        resources=("agentcoreaccesspolicies",),
        verbs=("get", "list", "watch"),
        scope="cluster",
        why="tenancy: which AWS identity, region and limits each namespace's sessions have",
    ),
    Permission(
        api_group="agentcore.dev",
        resources=("agentcoreaccesspolicies/status",),
        verbs=("get", "patch"),
        scope="cluster",
        why="tenancy: report each policy's bound namespaces, account and overlaps",
    ),
    Permission(
        api_group="",
        resources=("namespaces",),
        verbs=("get", "list", "watch"),
        scope="cluster",
        why="tenancy: match namespaces' labels against the policies' selectors",
    ),
    Permission(
        api_group="apiextensions.k8s.io",
        resources=("customresourcedefinitions",),
        verbs=("get", "list", "watch"),
        scope="cluster",
        why="kopf discovers the CRD and notices when it is installed or removed",
    ),
)
