"""Talking to the Kubernetes API: status, our finalizer, events, the ledger, and the watch.

The operator writes only `.status`, its own finalizer and events; never spec, labels or
user annotations, so GitOps tools see no drift. The kubernetes client reads the
credentials (in-cluster token with its refresh, or kubeconfig); the requests themselves go
out as plain JSON on the event loop. The client's model classes
(`CoreV1Event`, `V1ObjectMeta`...) copy the default `Configuration` in every constructor,
and its calls need a worker thread each: during a burst of thousands of sessions, models,
threads and urllib3 cost more CPU than the requests did.

Which HTTP client carries them: the writer's short requests go over the small keep-alive
client in `http1` (aiohttp's per-request machinery cost more CPU than the request), unless
the configuration names a proxy (that client does not do proxies) or the platform engineer
chose `--kube-http-client aiohttp`. The informer's lists and watch streams always use the
connection's aiohttp session.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import ssl
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp
import kopf
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from agentcore_operator.api.v1alpha1 import FINALIZER, GROUP, KIND, PLURAL, VERSION
from agentcore_operator.controller.http1 import Http1Client
from agentcore_operator.runtime.decision import EventNote

logger = logging.getLogger(__name__)

EVENT_MESSAGE_LIMIT = 1024
COMPONENT = "agentcore-operator"
USER_AGENT = "agentcore-operator"
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60.0)
# Which client carries KubeWriter's requests (the --kube-http-client setting); the first is the default.
KUBE_HTTP_CLIENTS = ("builtin", "aiohttp")
_REPORTING_INSTANCE = os.environ.get("HOSTNAME", COMPONENT)


class KubeConflict(Exception):
    """The object changed under us (409, or a failed JSON-patch test); retry on a fresh copy."""


class KubeError(Exception):
    """The API server answered with an error status (the message is its Status message)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"({status}) {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class WatchExpired(Exception):
    """410 Gone: the resourceVersion to watch from is too old; list again."""


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


class KubeConnection:
    """The API server's HTTP clients, with the client configuration's TLS and credentials.

    An aiohttp session (watches, lists, and every request through a proxy) and, unless
    `http_client` is "aiohttp" or a proxy is configured, the small `Http1Client` for the
    writer's requests; each holds at most `pool_size` connections. Both are created on first
    use inside the running loop (several operators may share a process in tests, each on its
    own loop). Every request asks the configuration for its credentials, so a refreshed
    in-cluster token or a re-run exec plugin is picked up as the client would.
    """

    def __init__(
        self,
        configuration: k8s.Configuration,
        *,
        pool_size: int = 16,
        user_agent: str | None = None,
        http_client: str = KUBE_HTTP_CLIENTS[0],
    ) -> None:
        if http_client not in KUBE_HTTP_CLIENTS:
            raise ValueError(f"http_client {http_client!r} is not one of {', '.join(KUBE_HTTP_CLIENTS)}")
        self.configuration = configuration
        self.base = str(configuration.host).rstrip("/")
        self._pool_size = pool_size
        # The API server's audit log (and the emulated cluster's) shows which replica wrote.
        self._user_agent = user_agent or USER_AGENT
        self._session: aiohttp.ClientSession | None = None
        self._use_builtin = http_client == "builtin" and not self.proxy
        self._builtin: Http1Client | None = None
        self._builtin_loop: asyncio.AbstractEventLoop | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, ssl=_ssl_context(self.configuration))
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self._user_agent, "Accept": "application/json"},
                json_serialize=json.dumps,
            )
        return self._session

    def headers(self, content_type: str | None = None) -> dict[str, str]:
        headers: dict[str, str] = {}
        for setting in self.configuration.auth_settings().values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[str(setting["key"])] = str(setting["value"])
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def builtin_client(self) -> Http1Client | None:
        """The keep-alive client for this loop; None when requests must go through aiohttp."""
        if not self._use_builtin:
            return None
        loop = asyncio.get_running_loop()
        if self._builtin is None or self._builtin_loop is not loop:
            context = _ssl_context(self.configuration)
            self._builtin = Http1Client(
                self.base,
                ssl_context=context if isinstance(context, ssl.SSLContext) else None,
                user_agent=self._user_agent,
                pool_size=self._pool_size,
                timeout=float(REQUEST_TIMEOUT.total or 60.0),
                server_hostname=getattr(self.configuration, "tls_server_name", None) or None,
            )
            self._builtin_loop = loop
        return self._builtin

    @property
    def proxy(self) -> str | None:
        return self.configuration.proxy or None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._builtin is not None:
            await self._builtin.close()
            self._builtin = None


def _ssl_context(configuration: k8s.Configuration) -> ssl.SSLContext | bool:
    if not str(configuration.host).startswith("https"):
        return False
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert or None)
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file or None)
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif configuration.assert_hostname is False:
        context.check_hostname = False
    return context


async def raise_for_status(response: aiohttp.ClientResponse) -> None:
    """A Kubernetes Status answer as KubeError, with the server's own reason and message."""
    if response.status < 400:
        return
    raise status_error(response.status, response.reason or "", await response.text())


def status_error(status: int, reason: str, text: str) -> KubeError:
    """The KubeError for an error answer: its Status JSON's reason and message when it has one."""
    message = text[:500]
    try:
        answer = json.loads(text)
        if isinstance(answer, dict):
            reason = str(answer.get("reason") or reason)
            message = str(answer.get("message") or message)
    except ValueError:
        pass
    return KubeError(status, reason, message)


JSON = "application/json"


JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


class KubeWriter:
    """The operator's few writes, as plain JSON on the event loop.

    Bodies go out as dicts; an answer is parsed (once, with `json`) only where the caller
    needs the new object and its resourceVersion (status and finalizer patches, lists).
    """

    # The kind written to; `for_kind` gives a writer for another kind on the same connection.
    plural = PLURAL
    kind = KIND
    finalizer = FINALIZER

    def __init__(
        self,
        configuration: k8s.Configuration,
        *,
        pool_size: int = 16,
        user_agent: str | None = None,
        http_client: str = KUBE_HTTP_CLIENTS[0],
    ) -> None:
        self.connection = KubeConnection(
            configuration, pool_size=pool_size, user_agent=user_agent, http_client=http_client
        )
        self._custom = f"/apis/{GROUP}/{VERSION}"

    def for_kind(self, plural: str, kind: str, finalizer: str) -> KubeWriter:
        """The same writes for another kind of the group, sharing this writer's connection."""
        writer = copy.copy(self)
        writer.plural, writer.kind, writer.finalizer = plural, kind, finalizer
        return writer

    async def close(self) -> None:
        await self.connection.close()

    async def server_version(self) -> str:
        """GET /version: the cheapest proof that the API server answers and trusts us."""
        info = json.loads(await self._request("GET", "/version"))
        return str(info.get("gitVersion"))

    async def patch_status(
        self, body: dict[str, Any], old: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Merge-patch the status from `old` to `new` (keys that went away are nulled)."""
        patch: dict[str, Any] = dict(new)
        for key in old:
            if key not in new and key != "kopf":
                patch[key] = None
        return await self._write("PATCH", self._object_path(body) + "/status", {"status": patch}, MERGE_PATCH)

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
        return await self._write("PATCH", self._object_path(body), ops, JSON_PATCH)

    async def remove_finalizer(self, body: dict[str, Any]) -> dict[str, Any] | None:
        finalizers = list((body.get("metadata") or {}).get("finalizers") or [])
        if self.finalizer not in finalizers:
            return body
        index = finalizers.index(self.finalizer)
        path = f"/metadata/finalizers/{index}"
        ops = [{"op": "test", "path": path, "value": self.finalizer}, {"op": "remove", "path": path}]
        return await self._write("PATCH", self._object_path(body), ops, JSON_PATCH)

    async def post_event(self, body: dict[str, Any], note: EventNote) -> None:
        """Best effort: an event that cannot be posted is logged, never raised."""
        meta = body.get("metadata") or {}
        namespace = meta.get("namespace")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta.get('name', 'session')}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": self.kind,
                "name": meta.get("name"),
                "namespace": namespace,
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": note.reason,
            "message": note.message[:EVENT_MESSAGE_LIMIT],
            "type": note.type,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": _REPORTING_INSTANCE,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self._request("POST", f"/api/v1/namespaces/{namespace}/events", event)
        except Exception as exc:  # events are advisory; a failure must not fail the reconcile
            logger.warning(
                "could not post event %s for %s/%s: %s",
                note.reason,
                namespace,
                meta.get("name"),
                exc,
            )

    async def merge_configmap_data(
        self, namespace: str, name: str, changes: dict[str, str | None], labels: dict[str, str]
    ) -> None:
        """Set (or, for None, remove) keys of a ConfigMap's data, creating it when missing."""
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        patch = {"metadata": {"labels": labels}, "data": changes}
        try:
            await self._request("PATCH", f"{path}/{name}", patch, STRATEGIC_MERGE_PATCH)
        except KubeError as exc:
            if exc.status != 404:
                raise
            configmap = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "data": {k: v for k, v in changes.items() if v is not None},
            }
            await self._request("POST", path, configmap)

    async def configmap_data(self, namespace: str, label_selector: str) -> list[dict[str, str]]:
        listing = json.loads(
            await self._request(
                "GET", f"/api/v1/namespaces/{namespace}/configmaps", query=[("labelSelector", label_selector)]
            )
        )
        return [dict(item.get("data") or {}) for item in listing.get("items") or []]

    async def session_uids(self, namespaces: tuple[str, ...]) -> set[str]:
        """UIDs of every CodeInterpreterSession that exists, from a fresh LIST (not the cache)."""
        if namespaces:
            paths = [f"{self._custom}/namespaces/{ns}/{PLURAL}" for ns in namespaces]
        else:
            paths = [f"{self._custom}/{PLURAL}"]
        pages = [json.loads(await self._request("GET", path)) for path in paths]
        return {str(item["metadata"]["uid"]) for page in pages for item in page.get("items") or []}

    async def create(self, plural: str, namespace: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Create an object of the group; KubeConflict when one of that name exists."""
        return await self._write("POST", self._path(plural, namespace), body, JSON)

    async def delete(
        self, plural: str, namespace: str, name: str, uid: str, resource_version: str | None = None
    ) -> None:
        """Delete an object of the group if it is still the one with `uid` (gone already is fine).

        With `resource_version`, only if it has not changed since it was read: KubeConflict
        otherwise (a pool's free session that a claim bound meanwhile is not deleted).
        """
        preconditions = {"uid": uid, **({"resourceVersion": resource_version} if resource_version else {})}
        options = {"preconditions": preconditions, "propagationPolicy": "Background"}
        try:
            await self._request("DELETE", self._path(plural, namespace, name), options)
        except KubeError as exc:
            if exc.status == 404:
                return
            if exc.status == 409:
                if resource_version is None:
                    return  # another object of that name now
                raise KubeConflict(f"{exc.reason}: {exc.message}") from exc
            raise

    def _path(self, plural: str, namespace: str, name: str | None = None) -> str:
        path = f"{self._custom}/namespaces/{quote(namespace, safe='')}/{plural}"
        return path if name is None else f"{path}/{quote(name, safe='')}"

    async def read(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """GET one object of the group (None when it does not exist)."""
        return await self._write("GET", self._path(plural, namespace, name), None, JSON)

    async def merge_patch(
        self, plural: str, namespace: str, name: str, patch: dict[str, Any]
    ) -> dict[str, Any] | None:
        """A JSON merge patch of an object of the group (a resourceVersion in it makes it conditional)."""
        return await self._write("PATCH", self._path(plural, namespace, name), patch, MERGE_PATCH)

    def _object_path(self, body: dict[str, Any]) -> str:
        namespace, name = _ns_name(body)
        if not namespace:  # a cluster-scoped kind (AgentCoreAccessPolicy)
            return f"{self._custom}/{self.plural}/{quote(name, safe='')}"
        return self._path(self.plural, namespace, name)

    async def _write(self, method: str, path: str, payload: Any, content_type: str) -> dict[str, Any] | None:
        """A write whose answer is the object: None when it is gone, KubeConflict on races."""
        try:
            data = await self._request(method, path, payload, content_type)
        except KubeError as exc:
            if exc.status == 404:
                return None
            if exc.status in (409, 422):
                raise KubeConflict(f"{exc.reason}: {exc.message}") from exc
            raise
        result = json.loads(data)
        return result if isinstance(result, dict) else None

    async def _request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        content_type: str = JSON,
        query: list[tuple[str, str]] | None = None,
    ) -> bytes:
        """One call; the answer's bytes (parsed by the caller only if it needs them)."""
        connection = self.connection
        body = None if payload is None else json.dumps(payload).encode()
        headers = connection.headers(content_type if payload is not None else None)
        client = connection.builtin_client()
        if client is not None:
            answer = await client.request(method, path, query=query, body=body, headers=headers)
            if answer.status >= 400:
                raise status_error(answer.status, answer.reason, answer.body.decode("utf-8", "replace"))
            return answer.body
        async with connection.session().request(
            method,
            connection.base + path,
            params=query,
            data=body,
            headers=headers,
            proxy=connection.proxy,
            timeout=REQUEST_TIMEOUT,
        ) as response:
            await raise_for_status(response)
            return await response.read()


def _ns_name(body: dict[str, Any]) -> tuple[str, str]:
    meta = body.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name"))
