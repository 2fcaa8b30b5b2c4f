"""Garbage collection by ownerReferences, as kube-controller-manager's garbage collector does it.

Two halves, as in Kubernetes:

- At DELETE (the API server's registry): the propagation policy of the DeleteOptions
  (`propagationPolicy`, or the older `orphanDependents`) becomes a finalizer on the owner.
  `Foreground` adds `foregroundDeletion`, `Orphan` adds `orphan`, `Background` (the default
  for every kind we serve) adds neither, and an object with any finalizer gets a
  deletionTimestamp and waits instead of going (`deletion_finalizers`).
- Afterwards (the controller, on its own task): a dependent whose owners are all gone is
  deleted (with its own finalizers honoured: it gets a deletionTimestamp and waits); an
  owner deleting in the foreground has its dependents deleted and keeps its
  `foregroundDeletion` finalizer until no dependent with `blockOwnerDeletion: true` is
  left; an owner deleting with `orphan` has its ownerReferences taken off its dependents,
  then the finalizer. A dependent with a live owner and a dangling one loses the
  dangling reference.

Ownership follows the conventions: an owner is found by kind, name and uid, in the
dependent's namespace when its kind is namespaced, at cluster scope otherwise. A
namespaced dependent may have a cluster-scoped owner; a cluster-scoped dependent naming a
namespaced owner, or an owner of a kind not served, is unresolvable and keeps it alive
(the garbage collector cannot decide, so it does nothing). Works for every kind the
server stores, custom resources included.

The controller hears every store event (as informers do) and keeps a dependents index
(owner uid -> dependents), so the cost per write of an object without ownerReferences is
a couple of dict lookups.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agentcore_operator.local.cluster.errors import ApiError
from agentcore_operator.local.cluster.resources import ResourceType
from agentcore_operator.local.cluster.store import TypeKey, WatchEvent

if TYPE_CHECKING:
    from agentcore_operator.local.cluster.server import EmulatedCluster

FOREGROUND_FINALIZER = "foregroundDeletion"
ORPHAN_FINALIZER = "orphan"
FOREGROUND, BACKGROUND, ORPHAN = "Foreground", "Background", "Orphan"
RESYNC_SECONDS = 1.0  # retry of work that met a conflict, as the controller's requeue

ObjectKey = tuple[TypeKey, str, str]  # (kind, namespace, name)
OwnerRef = tuple[str, str, str, str]  # (uid, apiVersion, kind, name)

log = logging.getLogger(__name__)


def propagation_policy(options: dict[str, Any]) -> str | None:
    """The DeleteOptions' policy, validated as the API server validates it (422 otherwise)."""
    policy = options.get("propagationPolicy")
    orphan_dependents = options.get("orphanDependents")
    problems = []
    if policy is not None and orphan_dependents is not None:
        problems.append(
            f"propagationPolicy: Invalid value: {_quoted(policy)}: "
            "orphanDependents and deletionPropagation cannot be both set"
        )
    if policy is not None and policy not in (FOREGROUND, BACKGROUND, ORPHAN):
        problems.append(
            f"propagationPolicy: Unsupported value: {_quoted(policy)}: supported values: "
            '"Foreground", "Background", "Orphan", "nil"'
        )
    if problems:
        summary = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
        raise ApiError(
            422,
            "Invalid",
            f'DeleteOptions.meta.k8s.io "" is invalid: {summary}',
            {"group": "meta.k8s.io", "kind": "DeleteOptions"},
        )
    if orphan_dependents is not None:
        return ORPHAN if orphan_dependents else BACKGROUND
    return str(policy) if policy is not None else None


def _quoted(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def deletion_finalizers(finalizers: list[str], policy: str | None) -> list[str]:
    """The finalizers an object keeps when deleted with `policy`.

    As the API server's registry does: both garbage-collection finalizers are taken off
    and the one the policy asks for is put back; without a policy, one already on the
    object stands (an earlier DELETE chose it), else the kind's default (Background).
    """
    if policy is None:
        return list(finalizers)
    kept = [f for f in finalizers if f not in (FOREGROUND_FINALIZER, ORPHAN_FINALIZER)]
    if policy == ORPHAN:
        kept.append(ORPHAN_FINALIZER)
    elif policy == FOREGROUND:
        kept.append(FOREGROUND_FINALIZER)
    return kept


def _owner_refs(meta: dict[str, Any]) -> tuple[OwnerRef, ...]:
    refs = meta.get("ownerReferences") or ()
    found = []
    for ref in refs:
        if isinstance(ref, dict) and ref.get("uid"):
            found.append(
                (
                    str(ref["uid"]),
                    str(ref.get("apiVersion", "")),
                    str(ref.get("kind", "")),
                    str(ref.get("name", "")),
                )
            )
    return tuple(found)


class GarbageCollector:
    """The garbage collector controller of one emulated cluster."""

    def __init__(self, cluster: EmulatedCluster) -> None:
        self.cluster = cluster
        self._dependents: dict[str, set[ObjectKey]] = {}  # owner uid -> dependents
        self._owners_of: dict[ObjectKey, tuple[OwnerRef, ...]] = {}
        self._attempt: set[ObjectKey] = set()  # dependents whose owners may be gone
        self._owners_to_check: set[tuple[OwnerRef, str]] = set()  # (owner, dependent namespace)
        self._deleting: set[ObjectKey] = set()  # owners with a foreground or orphan finalizer
        self._retry_attempts: set[ObjectKey] = set()  # work that failed, for the next pass
        self._retry_owners: set[ObjectKey] = set()
        self._wake = asyncio.Event()

    # -- the informer half: hear events, index, queue work ---------------------------------

    def observe(self, event: WatchEvent) -> None:
        meta = event.body["metadata"]
        key = (event.type_key, event.namespace, meta["name"])
        old_refs = self._owners_of.get(key)
        if event.kind == "DELETED":
            if old_refs is not None:
                self._unindex(key, old_refs)
                self._owners_to_check.update((ref, event.namespace) for ref in old_refs)
            dependents = self._dependents.pop(str(meta.get("uid")), None)
            if dependents:
                self._attempt.update(dependents)
            self._deleting.discard(key)
        else:
            refs = _owner_refs(meta) if meta.get("ownerReferences") else ()
            if refs != (old_refs or ()) or (refs and event.kind == "ADDED"):
                if old_refs is not None:
                    self._unindex(key, old_refs)
                    self._owners_to_check.update((ref, event.namespace) for ref in old_refs)
                if refs:
                    self._owners_of[key] = refs
                    for ref in refs:
                        self._dependents.setdefault(ref[0], set()).add(key)
                    self._attempt.add(key)
            elif refs and self._blocking_changed(event):
                self._owners_to_check.update((ref, event.namespace) for ref in refs)
            finalizers = meta.get("finalizers")
            if (
                meta.get("deletionTimestamp")
                and finalizers
                and (FOREGROUND_FINALIZER in finalizers or ORPHAN_FINALIZER in finalizers)
            ):
                self._deleting.add(key)
            if meta.get("deletionTimestamp") and refs:
                self._owners_to_check.update((ref, event.namespace) for ref in refs)
        if self._attempt or self._owners_to_check or self._deleting:
            self._wake.set()

    @staticmethod
    def _blocking_changed(event: WatchEvent) -> bool:
        previous = event.previous
        return previous is not None and previous["metadata"].get("ownerReferences") != event.body[
            "metadata"
        ].get("ownerReferences")

    def _unindex(self, key: ObjectKey, refs: tuple[OwnerRef, ...]) -> None:
        self._owners_of.pop(key, None)
        for ref in refs:
            dependents = self._dependents.get(ref[0])
            if dependents is not None:
                dependents.discard(key)
                if not dependents:
                    del self._dependents[ref[0]]

    # -- the controller half ---------------------------------------------------------------

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), RESYNC_SECONDS)
            self._wake.clear()
            self._attempt |= self._retry_attempts
            self._deleting |= self._retry_owners
            self._retry_attempts, self._retry_owners = set(), set()
            try:
                self.work()
            except Exception:  # a bug must not stop collection for the rest of the run
                log.exception("garbage collector pass failed")
            await asyncio.sleep(0)

    def work(self) -> None:
        """Drain the queues; work that meets a conflict is queued again for the next pass."""
        for _ in range(100):  # cascades settle in a few rounds; the rest waits for the next pass
            if not (self._attempt or self._owners_to_check or self._deleting):
                return
            attempts, self._attempt = self._attempt, set()
            for key in sorted(attempts):
                self._attempt_to_delete(key)
            owners, self._owners_to_check = self._owners_to_check, set()
            for ref, namespace in sorted(owners):
                found = self._find_owner(ref, namespace)
                if found is not None:
                    self._deleting.add(found)
            deleting, self._deleting = self._deleting, set()
            for key in sorted(deleting):
                self._process_deleting_owner(key)

    def _type(self, type_key: TypeKey) -> ResourceType | None:
        return self.cluster.registry.types.get(type_key)

    def _body(self, key: ObjectKey) -> tuple[ResourceType, dict[str, Any]] | None:
        resource_type = self._type(key[0])
        if resource_type is None:
            return None
        body = self.cluster.store.get(resource_type, key[1], key[2])
        return None if body is None else (resource_type, body)

    def _owner_location(self, ref: OwnerRef, namespace: str) -> tuple[ResourceType, str] | None:
        """Where the owner lives, or None when the reference cannot be resolved."""
        _, api_version, kind, _ = ref
        group, _, version = api_version.rpartition("/")
        for resource_type in self.cluster.registry.types.values():
            if (
                resource_type.kind == kind
                and resource_type.group == group
                and resource_type.version == version
            ):
                if resource_type.namespaced:
                    # A cluster-scoped dependent cannot have a namespaced owner.
                    return (resource_type, namespace) if namespace else None
                return resource_type, ""
        return None

    def _find_owner(self, ref: OwnerRef, namespace: str) -> ObjectKey | None:
        location = self._owner_location(ref, namespace)
        if location is None:
            return None
        resource_type, owner_namespace = location
        owner = self.cluster.store.get(resource_type, owner_namespace, ref[3])
        if owner is None or owner["metadata"].get("uid") != ref[0]:
            return None
        return (resource_type.key, owner_namespace, ref[3])

    def _attempt_to_delete(self, key: ObjectKey) -> None:
        found = self._body(key)
        if found is None:
            return
        resource_type, body = found
        meta = body["metadata"]
        refs = _owner_refs(meta)
        if not refs:
            return
        finalizers = meta.get("finalizers") or ()
        if meta.get("deletionTimestamp") and FOREGROUND_FINALIZER not in finalizers:
            return  # already going; its own finalizers decide when
        solid, dangling, waiting = [], [], []
        for ref in refs:
            location = self._owner_location(ref, key[1])
            if location is None:
                solid.append(ref)  # unresolvable: the collector cannot tell, so it keeps the object
                continue
            owner_type, owner_namespace = location
            owner = self.cluster.store.get(owner_type, owner_namespace, ref[3])
            if owner is None or owner["metadata"].get("uid") != ref[0]:
                dangling.append(ref)
            elif owner["metadata"].get("deletionTimestamp") and FOREGROUND_FINALIZER in (
                owner["metadata"].get("finalizers") or ()
            ):
                waiting.append(ref)
            else:
                solid.append(ref)
        if solid:
            gone = {ref[0] for ref in dangling + waiting}
            if gone:
                self._rewrite(resource_type, body, lambda m: _drop_refs(m, gone))
            return
        if waiting and self._dependents.get(str(meta.get("uid"))):
            policy = FOREGROUND  # an owner waits for us: our dependents must go first
        elif ORPHAN_FINALIZER in finalizers:
            policy = ORPHAN
        elif FOREGROUND_FINALIZER in finalizers:
            policy = FOREGROUND
        else:
            policy = BACKGROUND
        if meta.get("deletionTimestamp"):
            return
        try:
            self.cluster.delete_object(resource_type, key[1], key[2], policy=policy, uid=str(meta.get("uid")))
        except ApiError as error:
            if error.code == 409:
                self._retry_attempts.add(key)

    def _process_deleting_owner(self, key: ObjectKey) -> None:
        found = self._body(key)
        if found is None:
            return
        resource_type, owner = found
        meta = owner["metadata"]
        finalizers = meta.get("finalizers") or ()
        if not meta.get("deletionTimestamp"):
            return
        uid = str(meta.get("uid"))
        dependents = sorted(self._dependents.get(uid, ()))
        if ORPHAN_FINALIZER in finalizers:
            orphaned = True
            for dependent_key in dependents:
                dependent = self._body(dependent_key)
                if dependent is not None:
                    orphaned = (
                        self._rewrite(dependent[0], dependent[1], lambda m: _drop_refs(m, {uid})) and orphaned
                    )
            if orphaned:
                self._remove_finalizer(resource_type, key, ORPHAN_FINALIZER)
            else:
                self._retry_owners.add(key)
            return
        if FOREGROUND_FINALIZER not in finalizers:
            return
        blocked = False
        for dependent_key in dependents:
            dependent = self._body(dependent_key)
            if dependent is None:
                continue
            ref = next(
                (r for r in dependent[1]["metadata"].get("ownerReferences") or () if r.get("uid") == uid),
                None,
            )
            if ref is None:
                continue
            if ref.get("blockOwnerDeletion") is True:
                blocked = True
            self._attempt_to_delete(dependent_key)
        if not blocked:
            self._remove_finalizer(resource_type, key, FOREGROUND_FINALIZER)

    def _remove_finalizer(self, resource_type: ResourceType, key: ObjectKey, finalizer: str) -> None:
        current = self.cluster.store.get(resource_type, key[1], key[2])
        if current is None:
            return

        def drop(meta: dict[str, Any]) -> None:
            meta["finalizers"] = [f for f in meta.get("finalizers") or () if f != finalizer]

        if not self._rewrite(resource_type, current, drop):
            self._retry_owners.add(key)

    def _rewrite(
        self, resource_type: ResourceType, body: dict[str, Any], change: Callable[[dict[str, Any]], None]
    ) -> bool:
        try:
            self.cluster.update_metadata(resource_type, body, change)
        except ApiError as error:
            if error.code == 404:
                return True
            log.info("garbage collector write of %s deferred: %s", body["metadata"]["name"], error.message)
            return False
        return True


def _drop_refs(meta: dict[str, Any], uids: set[str]) -> None:
    refs = [r for r in meta.get("ownerReferences") or () if r.get("uid") not in uids]
    if refs:
        meta["ownerReferences"] = refs
    else:
        meta.pop("ownerReferences", None)
