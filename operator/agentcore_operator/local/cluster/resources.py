"""The kinds the emulated cluster serves: a few built-in ones, and every CRD it is given.

A `ResourceType` carries what discovery, routing, validation and table printing need,
read from the CRD exactly as the API server reads it (names, scope, subresources,
schema, printer columns), so a test of the cluster is a test of our CRD.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status_subresource: bool = False
    schema: dict[str, Any] | None = None  # openAPIV3Schema; None: anything goes (built-ins)
    printer_columns: tuple[dict[str, Any], ...] = ()
    custom: bool = False
    selectable_fields: tuple[str, ...] = ()  # a CRD's selectableFields, as field selector labels
    # A CRD's scale subresource: (specReplicasPath, statusReplicasPath, labelSelectorPath or "").
    scale: tuple[str, str, str] | None = None
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def field_labels(self) -> tuple[str, ...] | None:
        """What a field selector may name: for custom resources metadata.name, metadata.namespace
        and the CRD's selectableFields; None (anything) for built-in kinds."""
        if not self.custom:
            return None
        return ("metadata.name", "metadata.namespace", *self.selectable_fields)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.group, self.version, self.plural)

    @property
    def qualified(self) -> str:
        """codeinterpretersessions.agentcore.dev, as in error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def kind_qualified(self) -> str:
        """CodeInterpreterSession.agentcore.dev, as in validation messages."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def api_resource(self) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            resource["shortNames"] = list(self.short_names)
        if self.categories:
            resource["categories"] = list(self.categories)
        return resource


def _builtin(
    group: str, version: str, kind: str, plural: str, namespaced: bool, **extra: Any
) -> ResourceType:
    return ResourceType(group, version, kind, plural, kind.lower(), namespaced, **extra)


CRD_TYPE = _builtin(
    "apiextensions.k8s.io",
    "v1",
    "CustomResourceDefinition",
    "customresourcedefinitions",
    False,
    short_names=("crd", "crds"),
    categories=("api-extensions",),
    status_subresource=True,
)
NAMESPACE_TYPE = _builtin(
    "", "v1", "Namespace", "namespaces", False, short_names=("ns",), status_subresource=True
)
EVENT_TYPE = _builtin("", "v1", "Event", "events", True, short_names=("ev",))
POLICY_TYPE = _builtin(
    "admissionregistration.k8s.io",
    "v1",
    "ValidatingAdmissionPolicy",
    "validatingadmissionpolicies",
    False,
    categories=("api-extensions",),
    status_subresource=True,
)
BINDING_TYPE = _builtin(
    "admissionregistration.k8s.io",
    "v1",
    "ValidatingAdmissionPolicyBinding",
    "validatingadmissionpolicybindings",
    False,
    categories=("api-extensions",),
)

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    NAMESPACE_TYPE,
    EVENT_TYPE,
    _builtin("", "v1", "ConfigMap", "configmaps", True, short_names=("cm",)),
    _builtin("", "v1", "Secret", "secrets", True),
    _builtin("", "v1", "ServiceAccount", "serviceaccounts", True, short_names=("sa",)),
    _builtin(
        "",
        "v1",
        "Service",
        "services",
        True,
        short_names=("svc",),
        categories=("all",),
        status_subresource=True,
    ),
    _builtin("coordination.k8s.io", "v1", "Lease", "leases", True),
    _builtin("events.k8s.io", "v1", "Event", "events", True, short_names=("ev",)),
    CRD_TYPE,
    POLICY_TYPE,
    BINDING_TYPE,
    _builtin(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        True,
        short_names=("deploy",),
        categories=("all",),
        status_subresource=True,
    ),
    _builtin("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _builtin("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _builtin("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    _builtin("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    _builtin(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        True,
        short_names=("pdb",),
        status_subresource=True,
    ),
    _builtin("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors", True, short_names=("smon",)),
)


def types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """One ResourceType per served version of a CustomResourceDefinition object."""
    spec = crd["spec"]
    names = spec["names"]
    types = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        types.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                kind=names["kind"],
                plural=names["plural"],
                singular=names.get("singular", names["kind"].lower()),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames", ())),
                categories=tuple(names.get("categories", ())),
                status_subresource="status" in (version.get("subresources") or {}),
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                printer_columns=tuple(version.get("additionalPrinterColumns", ())),
                custom=True,
                selectable_fields=tuple(
                    str(selectable.get("jsonPath", "")).lstrip(".")
                    for selectable in version.get("selectableFields") or ()
                ),
                scale=_scale_paths((version.get("subresources") or {}).get("scale")),
            )
        )
    return types


def _scale_paths(scale: Any) -> tuple[str, str, str] | None:
    if not isinstance(scale, dict):
        return None
    return (
        str(scale.get("specReplicasPath", "")),
        str(scale.get("statusReplicasPath", "")),
        str(scale.get("labelSelectorPath") or ""),
    )


def load_crds(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Every CustomResourceDefinition document in the given files or folders."""
    crds: list[dict[str, Any]] = []
    for path in paths:
        files = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path]
        for file in files:
            for document in yaml.safe_load_all(file.read_text()):
                if isinstance(document, dict) and document.get("kind") == "CustomResourceDefinition":
                    crds.append(document)
    return crds


@dataclass
class Registry:
    """All served kinds, looked up by (group, version, plural), kind or short name."""

    types: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)

    def add(self, resource_type: ResourceType) -> None:
        self.types[resource_type.key] = resource_type

    def remove_group_kind(self, group: str, plural: str) -> None:
        for key in [k for k, t in self.types.items() if t.group == group and t.plural == plural and t.custom]:
            del self.types[key]

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self.types.get((group, version, plural))

    def groups(self) -> dict[str, list[str]]:
        """group -> versions, in a stable order (core group excluded)."""
        found: dict[str, list[str]] = {}
        for resource_type in self.types.values():
            if resource_type.group:
                versions = found.setdefault(resource_type.group, [])
                if resource_type.version not in versions:
                    versions.append(resource_type.version)
        return found

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self.types.values() if t.group == group and t.version == version]
