"""Writes to the Kubernetes API: status, our finalizer, events.

The operator writes only `.status`, its own finalizer and events; never spec, labels or
user annotations, so GitOps tools see no drift. Calls use the official client in worker
threads; one Configuration serves both these writes and kopf's watches.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
import os
from datetime import UTC, datetime
from typing import Any

import kopf
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException

from agentcore_operator.api.v1alpha1 import FINALIZER, GROUP, KIND, PLURAL, VERSION
from agentcore_operator.runtime.decision import EventNote

logger = logging.getLogger(__name__)

EVENT_MESSAGE_LIMIT = 1024
COMPONENT = "agentcore-operator"


class KubeConflict(Exception):
    """The object changed under us (409, or a failed JSON-patch test); retry on a fresh copy."""


def load_configuration(kubeconfig: str | None = None, context: str | None = None) -> k8s.Configuration:
    """In-cluster credentials when running in a pod, else the kubeconfig (explicit or default)."""
    configuration = k8s.Configuration()
    if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        k8s_config.load_incluster_config(client_configuration=configuration)
    else:
        k8s_config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
    return configuration


def connection_info(configuration: k8s.Configuration) -> kopf.ConnectionInfo:
    """The same credentials, in the form kopf's login handler returns."""
    header = (configuration.api_key or {}).get("authorization") or (configuration.api_key or {}).get(
        "BearerToken"
    )
    scheme, token = None, None
    if header:
        scheme, _, token = str(header).partition(" ")
        if not token:
            scheme, token = "Bearer", scheme
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        username=configuration.username or None,
        password=configuration.password or None,
        scheme=scheme,
        token=token,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )


class KubeWriter:
    """The operator's few writes, each in a worker thread."""

    # The kind written to; `for_kind` gives a writer for another kind on the same client.
    plural = PLURAL
    kind = KIND
    finalizer = FINALIZER

    def __init__(
        self, configuration: k8s.Configuration, *, pool_size: int = 16, user_agent: str | None = None
    ) -> None:
        configuration.connection_pool_maxsize = pool_size
        self._api = k8s.ApiClient(configuration)
        if user_agent:  # the API server's audit log (and the emulated cluster's) shows which replica wrote
            self._api.user_agent = user_agent
        self._objects = k8s.CustomObjectsApi(self._api)
        self._core = k8s.CoreV1Api(self._api)

    def for_kind(self, plural: str, kind: str, finalizer: str) -> KubeWriter:
        """The same writes for another kind of the group, sharing this writer's connections."""
        writer = copy.copy(self)
        writer.plural, writer.kind, writer.finalizer = plural, kind, finalizer
        return writer

    def close(self) -> None:
        self._api.close()

    async def server_version(self) -> str:
        """GET /version: the cheapest proof that the API server answers and trusts us."""
        info = await asyncio.to_thread(k8s.VersionApi(self._api).get_code)
        return str(info.git_version)

    async def patch_status(
        self, body: dict[str, Any], old: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Merge-patch the status from `old` to `new` (keys that went away are nulled)."""
        patch: dict[str, Any] = dict(new)
        for key in old:
            if key not in new and key != "kopf":
                patch[key] = None
        namespace, name = _ns_name(body)
        return await self._call(
            self._objects.patch_namespaced_custom_object_status,
            GROUP,
            VERSION,
            namespace,
            self.plural,
            name,
            {"status": patch},
        )

    async def add_finalizer(self, body: dict[str, Any]) -> dict[str, Any] | None:
        meta = body.get("metadata") or {}
        finalizers = list(meta.get("finalizers") or [])
        if self.finalizer in finalizers:
            return body
        ops: list[dict[str, Any]] = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": meta.get("resourceVersion")}
        ]
        if finalizers:
            ops.append({"op": "add", "path": "/metadata/finalizers/-", "value": self.finalizer})
        else:
            ops.append({"op": "add", "path": "/metadata/finalizers", "value": [self.finalizer]})
        return await self._patch(body, ops)

    async def remove_finalizer(self, body: dict[str, Any]) -> dict[str, Any] | None:
        finalizers = list((body.get("metadata") or {}).get("finalizers") or [])
        if self.finalizer not in finalizers:
            return body
        index = finalizers.index(self.finalizer)
        path = f"/metadata/finalizers/{index}"
        return await self._patch(
            body, [{"op": "test", "path": path, "value": self.finalizer}, {"op": "remove", "path": path}]
        )

    async def post_event(self, body: dict[str, Any], note: EventNote) -> None:
        """Best effort: an event that cannot be posted is logged, never raised."""
        meta = body.get("metadata") or {}
        now = datetime.now(UTC)
        event = k8s.CoreV1Event(
            metadata=k8s.V1ObjectMeta(
                generate_name=f"{meta.get('name', 'session')}.", namespace=meta.get("namespace")
            ),
            involved_object=k8s.V1ObjectReference(
                api_version=f"{GROUP}/{VERSION}",
                kind=self.kind,
                name=meta.get("name"),
                namespace=meta.get("namespace"),
                uid=meta.get("uid"),
                resource_version=meta.get("resourceVersion"),
            ),
            reason=note.reason,
            message=note.message[:EVENT_MESSAGE_LIMIT],
            type=note.type,
            source=k8s.V1EventSource(component=COMPONENT),
            reporting_component=COMPONENT,
            reporting_instance=os.environ.get("HOSTNAME", COMPONENT),
            first_timestamp=now,
            last_timestamp=now,
            count=1,
        )
        try:
            await asyncio.to_thread(self._core.create_namespaced_event, meta.get("namespace"), event)
        except Exception as exc:  # events are advisory; a failure must not fail the reconcile
            logger.warning(
                "could not post event %s for %s/%s: %s",
                note.reason,
                meta.get("namespace"),
                meta.get("name"),
                exc,
            )

    async def merge_configmap_data(
        self, namespace: str, name: str, changes: dict[str, str | None], labels: dict[str, str]
    ) -> None:
        """Set (or, for None, remove) keys of a ConfigMap's data, creating it when missing."""
        patch = {"metadata": {"labels": labels}, "data": changes}
        try:
            await asyncio.to_thread(self._core.patch_namespaced_config_map, name, namespace, patch)
        except ApiException as exc:
            if exc.status != 404:
                raise
            data = {k: v for k, v in changes.items() if v is not None}
            configmap = k8s.V1ConfigMap(
                metadata=k8s.V1ObjectMeta(name=name, namespace=namespace, labels=labels), data=data
            )
            await asyncio.to_thread(self._core.create_namespaced_config_map, namespace, configmap)

    async def configmap_data(self, namespace: str, label_selector: str) -> list[dict[str, str]]:
        result = await asyncio.to_thread(
            self._core.list_namespaced_config_map, namespace, label_selector=label_selector
        )
        return [dict(item.data or {}) for item in result.items]

    async def session_uids(self, namespaces: tuple[str, ...]) -> set[str]:
        """UIDs of every CodeInterpreterSession that exists, from a fresh LIST (not the cache)."""
        if namespaces:
            pages = [
                await asyncio.to_thread(
                    self._objects.list_namespaced_custom_object, GROUP, VERSION, ns, PLURAL
                )
                for ns in namespaces
            ]
        else:
            pages = [
                await asyncio.to_thread(self._objects.list_cluster_custom_object, GROUP, VERSION, PLURAL)
            ]
        return {str(item["metadata"]["uid"]) for page in pages for item in page.get("items", [])}

    async def _patch(self, body: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any] | None:
        namespace, name = _ns_name(body)
        # The client would label a list body as a merge patch; say what it is.
        patch = functools.partial(
            self._objects.patch_namespaced_custom_object, _content_type="application/json-patch+json"
        )
        return await self._call(patch, GROUP, VERSION, namespace, self.plural, name, ops)

    async def _call(self, method: Any, *args: Any) -> dict[str, Any] | None:
        """Run a client call; None when the object is gone, KubeConflict on races."""
        try:
            result = await asyncio.to_thread(method, *args)
        except ApiException as exc:
            if exc.status == 404:
                return None
            if exc.status in (409, 422):
                raise KubeConflict(str(exc.reason)) from exc
            raise
        return dict(result) if isinstance(result, dict) else None


def _ns_name(body: dict[str, Any]) -> tuple[str, str]:
    meta = body.get("metadata") or {}
    return str(meta.get("namespace")), str(meta.get("name"))
