"""Kubernetes writes of a session beyond its own status: the export ConfigMap, and the TTL delete.

`spec.export.configMapName` hands the session to workloads the Kubernetes way: a ConfigMap
in the resource's namespace, owned by the resource (so garbage collection removes it with
the resource), that a pod mounts as a volume (it sees each renewal within the kubelet's
sync period) or reads with `envFrom`. The operator never takes over a ConfigMap it does not
own: one that exists without our ownerReference is left untouched (ExportConflict).

These calls live apart from controller/kube.py's KubeWriter on purpose: that class is the
hot path of every pass; these are the writes of two optional features.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from agentcore_operator.api.v1alpha1 import GROUP, KIND, PLURAL, VERSION
from agentcore_operator.controller.observations import Exported, ExportRefused, Observation, ResourceDeleted
from agentcore_operator.controller.state_machine import (
    EXPORT_CONFLICT,
    DeleteResource,
    ExportConfigMap,
    KubeAction,
)

logger = logging.getLogger("agentcore_operator.export")

MANAGED_BY = {"app.kubernetes.io/managed-by": "agentcore-operator"}


def owner_reference(action: ExportConfigMap) -> dict[str, Any]:
    # No blockOwnerDeletion: setting it needs update on the owner's finalizers subresource,
    # and a ConfigMap is nothing the session's deletion should wait for.
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "name": action.owner_name,
        "uid": action.owner_uid,
        "controller": True,
    }


def owned_by(configmap: dict[str, Any], uid: str) -> bool:
    refs = (configmap.get("metadata") or {}).get("ownerReferences") or ()
    return any(isinstance(ref, dict) and ref.get("uid") == uid for ref in refs)


class SessionObjects:
    """The export ConfigMap and the resource's own deletion, each call in a worker thread."""

    def __init__(self, configuration: k8s.Configuration) -> None:
        self._api = k8s.ApiClient(configuration)
        self._core = k8s.CoreV1Api(self._api)
        self._objects = k8s.CustomObjectsApi(self._api)

    def close(self) -> None:
        self._api.close()

    async def perform(self, action: KubeAction) -> Observation:
        if isinstance(action, ExportConfigMap):
            return await self.export(action)
        return await self.delete(action)

    async def export(self, action: ExportConfigMap) -> Observation:
        try:
            return await asyncio.to_thread(self._export, action)
        except ApiException as exc:
            message = f"writing ConfigMap {action.name} failed: {exc.status} {exc.reason}"
            logger.warning("%s/%s: %s", action.namespace, action.owner_name, message)
            return self._refused(action, "ExportFailed", message)

    def _export(self, action: ExportConfigMap) -> Observation:
        data = dict(action.data)
        for _ in range(3):  # a create racing a create, or an update racing an update
            current = self._read(action.namespace, action.name)
            if current is None:
                body = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": action.name,
                        "namespace": action.namespace,
                        "labels": MANAGED_BY,
                        "ownerReferences": [owner_reference(action)],
                    },
                    "data": data,
                }
                try:
                    self._core.create_namespaced_config_map(action.namespace, body)
                except ApiException as exc:
                    if exc.status == 409:
                        continue
                    raise
                return self._done(action)
            if not owned_by(current, action.owner_uid):
                message = (
                    f"ConfigMap {action.name} exists and is not owned by this {KIND}; it is left "
                    f"untouched. Delete it, or choose another spec.export.configMapName"
                )
                return self._refused(action, EXPORT_CONFLICT, message)
            if current.get("data") == data:
                return self._done(action)
            patch = {
                "metadata": {"resourceVersion": current["metadata"].get("resourceVersion")},
                "data": {**{key: None for key in current.get("data") or {} if key not in data}, **data},
            }
            try:
                self._core.patch_namespaced_config_map(action.name, action.namespace, patch)
            except ApiException as exc:
                if exc.status == 409:
                    continue
                raise
            return self._done(action)
        return self._refused(action, "ExportFailed", f"ConfigMap {action.name} kept changing; retrying")

    def _read(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            response = self._core.read_namespaced_config_map(name, namespace, _preload_content=False)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        body: dict[str, Any] = json.loads(response.data)
        return body

    @staticmethod
    def _done(action: ExportConfigMap) -> Exported:
        return Exported(action.fingerprint, action.requeue_after, action.backoff)

    @staticmethod
    def _refused(action: ExportConfigMap, reason: str, message: str) -> ExportRefused:
        return ExportRefused(action.fingerprint, reason, message, action.requeue_after, action.backoff)

    async def delete(self, action: DeleteResource) -> Observation:
        """Delete the resource, only if it is still the one that finished (uid precondition)."""
        options = k8s.V1DeleteOptions(
            preconditions=k8s.V1Preconditions(uid=action.uid), propagation_policy="Background"
        )
        try:
            await asyncio.to_thread(
                self._objects.delete_namespaced_custom_object,
                GROUP,
                VERSION,
                action.namespace,
                PLURAL,
                action.name,
                body=options,
            )
        except ApiException as exc:
            if exc.status in (404, 409):  # gone already, or a new resource of the same name
                return ResourceDeleted()
            logger.warning(
                "deleting %s/%s failed: %s %s", action.namespace, action.name, exc.status, exc.reason
            )
            return ResourceDeleted(failure=f"{exc.status} {exc.reason}")
        return ResourceDeleted()
