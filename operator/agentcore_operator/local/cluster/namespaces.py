"""Namespace deletion, as a real cluster does it, in three places as there:

- the namespace registry (DELETE): a namespace whose `spec.finalizers` holds `kubernetes`
  is not removed but marked: deletionTimestamp set, `status.phase: Terminating`;
- NamespaceLifecycle admission: nothing new may be created in a terminating namespace
  (403 Forbidden, "unable to create new content in namespace X because it is being
  terminated"), and `default`, `kube-system` and `kube-public` may not be deleted;
- kube-controller-manager's namespace controller, on its own task: it deletes every
  object in a terminating namespace (objects without finalizers go at once, the others
  get a deletionTimestamp and wait for their finalizers), reports progress in the
  namespace's conditions (NamespaceContentRemaining, NamespaceFinalizersRemaining, ...),
  and when the last object is gone takes `kubernetes` off `spec.finalizers`; the
  namespace then goes (or waits for its own metadata.finalizers).

So an operator's finalizers run on namespace deletion, as they would on a real cluster.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import TYPE_CHECKING, Any

from agentcore_operator.local.cluster.errors import ApiError
from agentcore_operator.local.cluster.resources import NAMESPACE_TYPE, ResourceType
from agentcore_operator.local.cluster.store import WatchEvent, clone

if TYPE_CHECKING:
    from agentcore_operator.local.cluster.server import EmulatedCluster

KUBERNETES_FINALIZER = "kubernetes"
IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
RESYNC_SECONDS = 1.0
TERMINATING_CAUSE = "NamespaceTerminating"

# The namespace controller's conditions when all is well, with their reasons and messages.
OK_CONDITIONS: tuple[tuple[str, str, str], ...] = (
    ("NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered", "All resources successfully discovered"),
    (
        "NamespaceDeletionGroupVersionParsingFailure",
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    (
        "NamespaceDeletionContentFailure",
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    ("NamespaceContentRemaining", "ContentRemoved", "All content successfully removed"),
    ("NamespaceFinalizersRemaining", "ContentHasNoFinalizers", "All content-preserving finalizers finished"),
)

log = logging.getLogger(__name__)


NAME_LABEL = "kubernetes.io/metadata.name"


def label_with_name(namespace: dict[str, Any]) -> None:
    """Every namespace carries `kubernetes.io/metadata.name: <name>` (set by the API server on
    create and update since Kubernetes 1.22), so selectors can pick namespaces by name."""
    meta = namespace.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("name"), str):
        labels = meta.get("labels")
        meta["labels"] = {**(labels if isinstance(labels, dict) else {}), NAME_LABEL: meta["name"]}


def terminating(namespace: dict[str, Any] | None) -> bool:
    return namespace is not None and bool(namespace["metadata"].get("deletionTimestamp"))


def held_by_spec(resource_type: ResourceType, body: dict[str, Any]) -> bool:
    """A namespace stays while `spec.finalizers` is not empty, whatever its metadata.finalizers."""
    return resource_type is NAMESPACE_TYPE and bool((body.get("spec") or {}).get("finalizers"))


class NamespaceLifecycle:
    """Admission, registry and controller for the namespaces of one emulated cluster."""

    def __init__(self, cluster: EmulatedCluster) -> None:
        self.cluster = cluster
        self._terminating: set[str] = set()
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()

    # -- admission -------------------------------------------------------------------------

    def admit_create(self, resource_type: ResourceType, namespace: str, name: str) -> None:
        if namespace not in self._terminating:
            return
        reason = f"unable to create new content in namespace {namespace} because it is being terminated"
        subject = f'{resource_type.qualified} "{name}"' if name else resource_type.qualified
        raise ApiError(
            403,
            "Forbidden",
            f"{subject} is forbidden: {reason}",
            {
                "name": name,
                "group": resource_type.group,
                "kind": resource_type.plural,
                "causes": [
                    {
                        "reason": TERMINATING_CAUSE,
                        "message": f"namespace {namespace} is being terminated",
                        "field": "metadata.namespace",
                    }
                ],
            },
        )

    def admit_delete(self, name: str) -> None:
        if name in IMMORTAL_NAMESPACES:
            raise ApiError(
                403,
                "Forbidden",
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                {"name": name, "group": "", "kind": "namespaces"},
            )

    # -- registry --------------------------------------------------------------------------

    def delete(self, old: dict[str, Any], finalizers: list[str]) -> dict[str, Any]:
        """DELETE of a namespace: mark it Terminating; it goes only when nothing holds it."""
        meta = old["metadata"]
        if not held_by_spec(NAMESPACE_TYPE, old) and not finalizers:
            return self.cluster.remove_object(NAMESPACE_TYPE, old)
        if meta.get("deletionTimestamp") and finalizers == (meta.get("finalizers") or []):
            return old
        new = clone(old)
        new_meta = new["metadata"]
        new_meta.setdefault("deletionTimestamp", self.cluster.now())
        new_meta.setdefault("deletionGracePeriodSeconds", 0)
        if finalizers:
            new_meta["finalizers"] = finalizers
        else:
            new_meta.pop("finalizers", None)
        new.setdefault("status", {})["phase"] = "Terminating"
        return self.cluster.store_update(NAMESPACE_TYPE, new)

    # -- controller ------------------------------------------------------------------------

    def observe(self, event: WatchEvent) -> None:
        if event.type_key == NAMESPACE_TYPE.key:
            name = event.body["metadata"]["name"]
            if event.kind == "DELETED":
                self._terminating.discard(name)
                self._dirty.discard(name)
            elif terminating(event.body):
                self._terminating.add(name)
                self._dirty.add(name)
                self._wake.set()
        elif event.namespace in self._terminating:
            self._dirty.add(event.namespace)
            self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), RESYNC_SECONDS)
            except TimeoutError:
                self._dirty |= self._terminating
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            for name in sorted(dirty):
                try:
                    self.sync(name)
                except ApiError as error:  # a conflict: the next pass tries again
                    log.info("namespace %s not finalized yet: %s", name, error.message)
                    self._dirty.add(name)
                except Exception:  # a bug must not stop every later namespace deletion
                    log.exception("namespace controller failed on %s", name)
            await asyncio.sleep(0)

    def sync(self, name: str) -> None:
        """One pass of the namespace controller over one namespace."""
        store = self.cluster.store
        namespace = store.get(NAMESPACE_TYPE, "", name)
        if not terminating(namespace):
            self._terminating.discard(name)
            return
        assert namespace is not None
        if KUBERNETES_FINALIZER in ((namespace.get("spec") or {}).get("finalizers") or ()):
            remaining, finalizers = self._delete_content(name)
            namespace = self._report(namespace, remaining, finalizers)
            if remaining:
                return  # the deletions still pending will wake us
            namespace = self._finalize(namespace)
        if not held_by_spec(NAMESPACE_TYPE, namespace):
            self.delete(namespace, list(namespace["metadata"].get("finalizers") or ()))

    def _delete_content(self, namespace: str) -> tuple[Counter[str], Counter[str]]:
        """Delete what is left (background propagation, as the controller asks); count what stays."""
        remaining: Counter[str] = Counter()
        finalizers: Counter[str] = Counter()
        for resource_type in list(self.cluster.registry.types.values()):
            if not resource_type.namespaced:
                continue
            for body in list(self.cluster.store.items(resource_type, namespace)):
                meta = body["metadata"]
                if not meta.get("deletionTimestamp"):
                    try:
                        self.cluster.delete_object(
                            resource_type, namespace, meta["name"], policy="Background"
                        )
                    except ApiError as error:
                        if error.code != 404:
                            raise
                left = self.cluster.store.get(resource_type, namespace, meta["name"])
                if left is not None:
                    remaining[f"{resource_type.plural}.{resource_type.group}"] += 1
                    for finalizer in left["metadata"].get("finalizers") or ():
                        finalizers[finalizer] += 1
        return remaining, finalizers

    def _report(
        self, namespace: dict[str, Any], remaining: Counter[str], finalizers: Counter[str]
    ) -> dict[str, Any]:
        """Conditions as the namespace controller writes them; written only when they change."""
        wanted: list[tuple[str, str, str, str]] = [
            (kind, "False", reason, message) for kind, reason, message in OK_CONDITIONS
        ]
        if remaining:
            counts = ", ".join(
                sorted(f"{resource} has {n} resource instances" for resource, n in remaining.items())
            )
            wanted[3] = (
                wanted[3][0],
                "True",
                "SomeResourcesRemain",
                f"Some resources are remaining: {counts}",
            )
        if finalizers:
            counts = ", ".join(
                sorted(f"{finalizer} in {n} resource instances" for finalizer, n in finalizers.items())
            )
            wanted[4] = (
                wanted[4][0],
                "True",
                "SomeFinalizersRemain",
                f"Some content in the namespace has finalizers remaining: {counts}",
            )
        status = namespace.get("status") or {}
        old = {c.get("type"): c for c in status.get("conditions") or ()}
        conditions = []
        changed = status.get("phase") != "Terminating"
        for kind, value, reason, message in wanted:
            previous = old.get(kind)
            if previous and (previous.get("status"), previous.get("reason"), previous.get("message")) == (
                value,
                reason,
                message,
            ):
                conditions.append(previous)
                continue
            changed = True
            since = previous["lastTransitionTime"] if previous and previous.get("status") == value else None
            conditions.append(
                {
                    "type": kind,
                    "status": value,
                    "lastTransitionTime": since or self.cluster.now(),
                    "reason": reason,
                    "message": message,
                }
            )
        if not changed:
            return namespace
        new = clone(namespace)
        new["status"] = {**status, "phase": "Terminating", "conditions": conditions}
        return self.cluster.controller_write(NAMESPACE_TYPE, namespace, new, "status")

    def _finalize(self, namespace: dict[str, Any]) -> dict[str, Any]:
        """What the controller does through `/finalize`: take `kubernetes` off spec.finalizers."""
        new = clone(namespace)
        spec = new.setdefault("spec", {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or () if f != KUBERNETES_FINALIZER]
        if not spec["finalizers"]:
            del spec["finalizers"]
        return self.cluster.controller_write(NAMESPACE_TYPE, namespace, new, "finalize")


def finalizers_written(subresource: str | None, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Who may write a namespace's `spec.finalizers`: `/finalize` only, and nothing else there.

    As the namespace strategy does: an update of the namespace keeps the old finalizers
    and status; `/finalize` (what the controller, or `kubectl replace --raw`, uses to
    release a namespace) changes the finalizers and nothing else.
    """
    if subresource == "finalize":
        finalizers = (new.get("spec") or {}).get("finalizers")
        new = clone(old)
        if finalizers:
            new.setdefault("spec", {})["finalizers"] = finalizers
        else:
            (new.get("spec") or {}).pop("finalizers", None)
        return new
    spec = new.get("spec")
    if not isinstance(spec, dict):
        spec = new["spec"] = {}
    old_finalizers = (old.get("spec") or {}).get("finalizers")
    if old_finalizers:
        spec["finalizers"] = old_finalizers
    else:
        spec.pop("finalizers", None)
    if "status" in old:
        new["status"] = clone(old["status"])
    else:
        new.pop("status", None)
    return new
