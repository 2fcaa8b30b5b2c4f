"""The emulated Kubernetes API server: discovery, CRUD, patch, watch, tables, OpenAPI.

Behaviour follows the Kubernetes API conventions (and the real server's messages) rather
than what any one client needs: kopf, the kubernetes Python client and the real kubectl
all talk to it in the tests. Differences from a real kube-apiserver are listed in
docs/cluster.md.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import re
import string
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from agentcore_operator.local.cluster import (
    admission,
    discovery,
    fieldmanager,
    fieldpath,
    fieldvalidation,
    garbage,
    gnostic,
    objectmeta,
    openapi,
    protobuf,
    scale,
    strategic,
    tables,
)
from agentcore_operator.local.cluster import namespaces as namespace_lifecycle
from agentcore_operator.local.cluster import schema as schemas
from agentcore_operator.local.cluster import watch as watches
from agentcore_operator.local.cluster.errors import ApiError, bad_request, conflict, invalid, not_found
from agentcore_operator.local.cluster.faults import REASONS, Fault, fault_from_json, triggered
from agentcore_operator.local.cluster.pagination import Pager, item_key
from agentcore_operator.local.cluster.params import query_flag
from agentcore_operator.local.cluster.patch import PatchError, json_patch, load_yaml, merge_patch
from agentcore_operator.local.cluster.resources import (
    BUILTIN_TYPES,
    CRD_TYPE,
    NAMESPACE_TYPE,
    Registry,
    ResourceType,
    load_crds,
    types_from_crd,
)
from agentcore_operator.local.cluster.store import (
    SelectorError,
    Store,
    check_field_labels,
    clone,
    field_matcher,
    label_matcher,
)

SERVER_VERSION = {
    "major": "1",
    "minor": "34",
    "gitVersion": "v1.34.0-agentcore-emulated",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.24",
    "compiler": "gc",
    "platform": "linux/amd64",
}
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
REQUEST_LOG_SIZE = 50_000
CONTROLLER_MANAGER = "kube-controller-manager"  # the field manager of the namespace controller and GC


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Request:
    method: str
    path: str
    query: str
    status: int
    at: float
    user_agent: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "at": self.at,
            "user_agent": self.user_agent,
        }


@dataclass
class Target:
    """What a URL names: a kind, perhaps a namespace, perhaps an object, perhaps a subresource."""

    resource_type: ResourceType
    namespace: str | None
    name: str | None = None
    subresource: str | None = None


@dataclass
class EmulatedCluster:
    """A CRD-aware Kubernetes API server in one aiohttp application."""

    crd_paths: list[Path] = field(default_factory=list)
    bookmark_interval: float = 5.0
    seed: int = 0

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self.registry = Registry()
        self.store = Store()
        self.pager = Pager()
        self.requests: deque[Request] = deque(maxlen=REQUEST_LOG_SIZE)
        self.faults: list[Fault] = []
        self._streams: set[web.StreamResponse] = set()
        self.namespaces = namespace_lifecycle.NamespaceLifecycle(self)
        self.garbage_collector = garbage.GarbageCollector(self)
        self.admission = admission.Admission(self.store, self.registry)
        self.store.listeners += [self.namespaces.observe, self.garbage_collector.observe]
        for resource_type in BUILTIN_TYPES:
            self.registry.add(resource_type)
        for name in DEFAULT_NAMESPACES:
            self._create(NAMESPACE_TYPE, None, {"metadata": {"name": name}}, dry_run=False)
        for crd in load_crds(self.crd_paths):
            self._create(CRD_TYPE, None, crd, dry_run=False)

    # -- the application ---------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024**2, middlewares=[self._middleware])
        app.router.add_get("/_cluster/requests", self._get_requests)
        app.router.add_delete("/_cluster/requests", self._clear_requests)
        app.router.add_get("/_cluster/faults", self._get_faults)
        app.router.add_post("/_cluster/faults", self._post_fault)
        app.router.add_delete("/_cluster/faults", self._delete_faults)
        app.router.add_post("/_cluster/drop-watches", self._post_drop_watches)
        app.router.add_get("/version", self._version)
        app.router.add_get("/version/", self._version)
        app.router.add_get("/healthz", self._ok)
        app.router.add_get("/readyz", self._ok)
        app.router.add_get("/livez", self._ok)
        app.router.add_get("/api", self._api_versions)
        app.router.add_get("/apis", self._api_groups)
        app.router.add_get("/openapi/v3", self._openapi_index)
        app.router.add_get("/openapi/v3/{path:.*}", self._openapi_document)
        app.router.add_get("/openapi/v2", self._openapi_v2)
        app.router.add_route("*", "/{path:api/.*|apis/.*}", self._resource)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        status = 500
        warnings = fieldvalidation.collecting()
        try:
            if not request.path.startswith("/_cluster/"):
                self._apply_fault(request)
            response: web.StreamResponse = await handler(request)
            status = response.status
            fieldvalidation.add_warning_headers(response, warnings)
            return response
        except ApiError as error:
            status = error.code
            return self._reply(request, error.status(), error.code)
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            if not request.path.startswith("/_cluster/"):
                agent = request.headers.get("User-Agent", "")
                self.requests.append(
                    Request(request.method, request.path, request.query_string, status, time.time(), agent)
                )

    def _apply_fault(self, request: web.Request) -> None:
        fault = triggered(self.faults, request, self._random)
        if fault is not None:
            raise ApiError(fault.status, REASONS.get(fault.status, "InternalError"), fault.message)

    # -- control endpoints (tests) -----------------------------------------------------

    async def _get_requests(self, request: web.Request) -> web.Response:
        return web.json_response({"requests": [r.to_dict() for r in self.requests]})

    async def _clear_requests(self, request: web.Request) -> web.Response:
        self.requests.clear()
        return web.json_response({"requests": []})

    async def _get_faults(self, request: web.Request) -> web.Response:
        return web.json_response({"faults": [f.to_dict() for f in self.faults]})

    async def _post_fault(self, request: web.Request) -> web.Response:
        try:
            self.faults.append(fault_from_json(await request.json()))
        except (KeyError, TypeError, ValueError, re.error) as exc:
            return web.json_response(
                {"error": f"expected method, path, status, count (and userAgent or token): {exc}"}, status=400
            )
        return web.json_response({"faults": [f.to_dict() for f in self.faults]}, status=201)

    async def _delete_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return web.json_response({"faults": []})

    async def _post_drop_watches(self, request: web.Request) -> web.Response:
        return web.json_response({"dropped": self.drop_watches()})

    def inject_fault(
        self,
        method: str,
        path_pattern: str,
        status: int,
        count: int | None = 1,
        rate: float = 1.0,
        *,
        user_agent: str | None = None,
        token: str | None = None,
    ) -> None:
        """Fail requests whose method and path match with `status`: the next `count` (None: every
        one), each with probability `rate` (drawn from the seeded generator, so runs repeat);
        with `user_agent` (a regex) or `token`, only that client's requests."""
        self.faults.append(
            Fault(
                method.upper(),
                re.compile(path_pattern),
                status,
                count,
                rate,
                user_agent=re.compile(user_agent) if user_agent is not None else None,
                token=token,
            )
        )

    def drop_watches(self) -> int:
        """End every open watch stream, as an API server restart or a load balancer would."""
        return self.store.drop_watches()

    # -- discovery ---------------------------------------------------------------------

    async def _ok(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response(SERVER_VERSION)

    async def _api_versions(self, request: web.Request) -> web.Response:
        return web.json_response(discovery.api_versions(request.host))

    async def _api_groups(self, request: web.Request) -> web.Response:
        return web.json_response(discovery.api_groups(self.registry))

    # -- OpenAPI (kubectl explain, field validation support) ---------------------------

    def _openapi_paths(self) -> dict[str, str]:
        versions: dict[str, tuple[str, str]] = {}
        for resource_type in self.registry.types.values():
            prefix = (
                f"apis/{resource_type.group}/{resource_type.version}" if resource_type.group else "api/v1"
            )
            versions[prefix] = (resource_type.group, resource_type.version)
        return {prefix: f"/openapi/v3/{prefix}?hash={self.store.resource_version}" for prefix in versions}

    async def _openapi_index(self, request: web.Request) -> web.Response:
        paths = {prefix: {"serverRelativeURL": url} for prefix, url in self._openapi_paths().items()}
        return web.json_response({"paths": paths})

    async def _openapi_v2(self, request: web.Request) -> web.Response:
        document = openapi.v2_document(self.registry.types.values())
        if gnostic.wanted(request.headers.get("Accept", "")):
            return web.Response(body=gnostic.encode_document(document), content_type=gnostic.MEDIA_TYPE)
        return web.json_response(document)

    async def _openapi_document(self, request: web.Request) -> web.Response:
        prefix = request.match_info["path"]
        if prefix.startswith("api/v1"):
            group, version = "", "v1"
        else:
            parts = prefix.split("/")
            if len(parts) != 3 or parts[0] != "apis":
                raise ApiError(404, "NotFound", f"no OpenAPI document at {prefix}")
            group, version = parts[1], parts[2]
        types = self.registry.in_group_version(group, version)
        if not types:
            raise ApiError(404, "NotFound", f"no OpenAPI document at {prefix}")
        return web.json_response(openapi.v3_document(group, version, types))

    # -- routing -----------------------------------------------------------------------

    def _target(self, path: str) -> Target | dict[str, Any]:
        """Resolve a URL to a target, or to a discovery document."""
        parts = [p for p in path.strip("/").split("/") if p]
        if parts[0] == "api":
            if len(parts) == 1:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            if parts[1] != "v1":
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            group, version, rest = "", "v1", parts[2:]
        else:
            if len(parts) == 2:
                versions = self.registry.groups().get(parts[1])
                if not versions:
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                return {"kind": "APIGroup", "apiVersion": "v1", **discovery.group(parts[1], versions)}
            group, version, rest = parts[1], parts[2], parts[3:]
        if not rest:
            if not self.registry.in_group_version(group, version):
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return discovery.resource_list(self.registry, group, version)
        namespace: str | None = None
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
        ):
            namespace, rest = rest[1], rest[2:]
        plural = rest[0]
        resource_type = self.registry.get(group, version, plural)
        if resource_type is None or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if namespace is not None and not resource_type.namespaced:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        if subresource is not None and not (
            (subresource == "status" and resource_type.status_subresource)
            or (subresource == "finalize" and resource_type is NAMESPACE_TYPE)
            or (subresource == "scale" and resource_type.scale is not None)
        ):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return Target(resource_type, namespace, name, subresource)

    async def _resource(self, request: web.Request) -> web.StreamResponse:
        target = self._target(request.path)
        if isinstance(target, dict):
            if request.method != "GET":
                raise ApiError(
                    405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
                )
            return web.json_response(target)
        method = request.method
        query = request.query
        dry_run = query.get("dryRun") == "All"
        validation = fieldvalidation.directive(query)
        manager = fieldmanager.manager_name(query.get("fieldManager"), request.headers.get("User-Agent", ""))
        if target.name is None:
            if method == "GET":
                if query_flag(query.get("watch")):
                    return await self._watch(request, target)
                return self._respond(request, self._list(target, query), target, listing=True)
            if method == "POST":
                body = await self._body(request, target)
                created = self._create(
                    target.resource_type,
                    target.namespace,
                    body,
                    dry_run=dry_run,
                    validation=validation,
                    manager=manager,
                )
                return self._respond(request, created, target, status=201)
            if method == "DELETE":
                options = await self._delete_options(request, target)
                return self._reply(request, self._delete_collection(target, query, options, dry_run), 200)
            raise ApiError(
                405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
            )
        if target.subresource == "scale":
            return await self._scale(request, target, dry_run, validation, manager)
        if method == "GET":
            current = self._existing(target)
            if query_flag(query.get("watch")):
                return await self._watch(request, target)
            return self._respond(request, current, target)
        if method == "PUT":
            body = await self._body(request, target)
            updated = self._replace(target, body, dry_run=dry_run, validation=validation, manager=manager)
            return self._respond(request, updated, target)
        if method == "PATCH":
            updated = await self._patch(request, target, dry_run, validation, manager)
            return self._respond(request, updated, target)
        if method == "DELETE":
            options = await self._delete_options(request, target)
            deleted = self._delete(target, options, dry_run)
            # The API server says 202 Accepted only to the old orphanDependents=false, when the
            # object is not gone yet (its dependents go first).
            pending = options.get("orphanDependents") is False and deleted is self.store.get(
                target.resource_type, target.namespace or "", target.name
            )
            return self._respond(request, deleted, target, status=202 if pending else 200)
        raise ApiError(
            405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
        )

    async def _scale(
        self, request: web.Request, target: Target, dry_run: bool, validation: str, manager: str
    ) -> web.Response:
        """GET, PUT and PATCH of a custom resource's scale subresource (scale.py)."""
        current = self._existing(target)
        if request.method in ("PUT", "PATCH"):
            raw = await request.read()
            wanted = (
                scale.patched(scale.of(target.resource_type, current), request.content_type, raw)
                if request.method == "PATCH"
                else self._json_object(raw)
            )
            new, expected = scale.written(target.resource_type, current, wanted)
            current = self._write(
                target,
                current,
                new,
                dry_run=dry_run,
                expected_version=expected,
                validation=validation,
                manager=manager,
            )
        elif request.method != "GET":
            raise ApiError(
                405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
            )
        answer = scale.of(target.resource_type, current)
        if scale.wants_table(request.headers.get("Accept", "")):
            return web.json_response(scale.table(target.resource_type, answer))
        return self._reply(request, answer, 200)

    async def _delete_options(self, request: web.Request, target: Target) -> dict[str, Any]:
        """DeleteOptions from the body, or from query parameters as the API server also reads them."""
        options = await self._body(request, target) if request.can_read_body else {}
        if "propagationPolicy" in request.query:
            options.setdefault("propagationPolicy", request.query["propagationPolicy"])
        if "orphanDependents" in request.query:
            options.setdefault("orphanDependents", query_flag(request.query.get("orphanDependents")))
        return options

    async def _body(self, request: web.Request, target: Target) -> dict[str, Any]:
        raw = await request.read()
        if request.content_type == protobuf.PROTOBUF:
            return self._protobuf_body(raw, target)
        return self._json_object(raw, yaml_body="yaml" in (request.content_type or ""))

    def _json_object(self, raw: bytes, *, yaml_body: bool = False) -> dict[str, Any]:
        if not raw.strip():
            return {}
        try:
            body = load_yaml(raw) if yaml_body else json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise bad_request(f"the body of the request was in an unknown format: {exc}") from exc
        if not isinstance(body, dict):
            raise bad_request("the body of the request must be an object")
        return body

    def _respond(
        self,
        request: web.Request,
        body: dict[str, Any],
        target: Target,
        *,
        status: int = 200,
        listing: bool = False,
    ) -> web.Response:
        if tables.wants_table(request.headers.get("Accept", "")):
            rows = body["items"] if listing else [body]
            rendered = tables.table(
                target.resource_type, rows, request.query.get("includeObject", "Metadata")
            )
            rendered["metadata"] = (
                body["metadata"] if listing else {"resourceVersion": body["metadata"]["resourceVersion"]}
            )
            return web.json_response(rendered, status=status)
        return self._reply(request, body, status, target.resource_type.key, listing=listing)

    def _protobuf_body(self, raw: bytes, target: Target) -> dict[str, Any]:
        """Built-in kinds take protobuf, as client-go's typed clients send it; custom resources do not."""
        if target.resource_type.custom:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{JSON}, application/yaml, {APPLY_PATCH}",
            )
        try:
            return protobuf.decode_object(raw)
        except (protobuf.ProtobufError, ValueError) as exc:
            raise bad_request(f"the body of the request was in an unknown format: {exc}") from exc

    def _reply(
        self,
        request: web.Request,
        body: dict[str, Any],
        status: int,
        type_key: tuple[str, str, str] | None = None,
        *,
        listing: bool = False,
    ) -> web.Response:
        """Protobuf when the client lists it first and the kind has a message; JSON otherwise, as for
        custom resources on a real server (client-go decodes by the response's Content-Type)."""
        if protobuf.accepts_protobuf_first(request.headers.get("Accept", "")):
            try:
                encoded = protobuf.encode_object(body)
            except protobuf.ProtobufError:
                pass
            else:
                return web.Response(body=encoded, status=status, content_type=protobuf.PROTOBUF)
        if type_key is None:
            return web.json_response(body, status=status)
        data = self.store.encoded_list(type_key, body) if listing else self.store.encoded(type_key, body)
        return web.Response(body=data, status=status, content_type=JSON)

    # -- reads -------------------------------------------------------------------------

    def _existing(self, target: Target) -> dict[str, Any]:
        assert target.name is not None
        body = self.store.get(target.resource_type, target.namespace or "", target.name)
        if body is None:
            raise not_found(target.resource_type, target.name)
        return body

    def _selectors(self, query: Any, resource_type: ResourceType) -> tuple[Any, Any]:
        try:
            selector = query.get("fieldSelector")
            check_field_labels(selector, resource_type.field_labels)
            return label_matcher(query.get("labelSelector")), field_matcher(selector)
        except SelectorError as exc:
            raise bad_request(str(exc)) from exc

    def _list(self, target: Target, query: Any) -> dict[str, Any]:
        labels, fields = self._selectors(query, target.resource_type)
        resource_type = target.resource_type

        def collect() -> list[dict[str, Any]]:
            items = [
                body
                for body in self.store.items(resource_type, target.namespace)
                if labels(body["metadata"].get("labels") or {}) and fields(body)
            ]
            items.sort(key=item_key)
            return items

        try:
            limit = int(query.get("limit") or 0)
        except ValueError as exc:
            raise bad_request(f"invalid limit {query.get('limit')!r}") from exc
        label_selector, field_selector = query.get("labelSelector", ""), query.get("fieldSelector", "")
        page = self.pager.page(
            (resource_type.key, target.namespace, label_selector, field_selector),
            target.namespace,
            collect,
            self.store.resource_version,
            limit,
            query.get("continue"),
            count_remaining=not (label_selector or field_selector),
        )
        return {
            "kind": f"{resource_type.kind}List",
            "apiVersion": resource_type.group_version,
            "metadata": page.metadata,
            "items": page.items,
        }

    async def _watch(self, request: web.Request, target: Target) -> web.StreamResponse:
        query = request.query
        labels, fields = self._selectors(query, target.resource_type)
        if target.name is not None:
            by_name = field_matcher(f"metadata.name={target.name}")
            fields = (lambda f, n: lambda body: f(body) and n(body))(fields, by_name)
        return await watches.serve(
            request,
            self.store,
            target.resource_type,
            target.namespace,
            labels,
            fields,
            selective=bool(target.name or query.get("labelSelector") or query.get("fieldSelector")),
            bookmark_interval=self.bookmark_interval,
            streams=self._streams,
        )

    # -- writes ------------------------------------------------------------------------

    def _prepare(
        self,
        resource_type: ResourceType,
        body: dict[str, Any],
        old: dict[str, Any] | None,
        *,
        validation: str,
    ) -> dict[str, Any]:
        """Schema work for custom resources: unknown fields, pruning, defaults, validation, CEL;
        defaults and API validation for the built-in kinds that have them."""
        name = body.get("metadata", {}).get("name", "")
        if resource_type is NAMESPACE_TYPE:
            namespace_lifecycle.label_with_name(body)
        if resource_type.schema is None:
            if builtin_errors := admission.prepare(resource_type, body):
                raise invalid(resource_type, name, builtin_errors)
            return body
        unknown = schemas.unknown_fields(resource_type.schema, body)
        refusal = fieldvalidation.unknown_fields(
            resource_type.kind, resource_type.version, unknown, validation
        )
        if refusal:
            raise bad_request(refusal)
        schemas.prune(resource_type.schema, body)
        schemas.apply_defaults(resource_type.schema, body)
        errors = schemas.validate(resource_type.schema, body)
        errors += schemas.cel_errors(resource_type.schema, body, old, has_old=old is not None)
        if errors:
            raise invalid(resource_type, name, errors)
        return body

    def _create(
        self,
        resource_type: ResourceType,
        namespace: str | None,
        body: dict[str, Any],
        *,
        dry_run: bool,
        validation: str = fieldvalidation.WARN,
        manager: str = "kube-apiserver",
        managed_fields: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        body = clone(body)
        meta = body.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if resource_type.namespaced:
            if namespace is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            if meta.get("namespace") not in (None, "", namespace):
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            if self.store.get(NAMESPACE_TYPE, "", namespace) is None:
                raise ApiError(
                    404,
                    "NotFound",
                    f'namespaces "{namespace}" not found',
                    {"name": namespace, "kind": "namespaces"},
                )
            meta["namespace"] = namespace
            self.namespaces.admit_create(resource_type, namespace, meta.get("name") or "")
        else:
            meta.pop("namespace", None)
        self._check_kind(resource_type, body)
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
            meta["name"] = f"{meta['generateName']}{suffix}"
        objectmeta.check(resource_type, body)
        name = meta["name"]
        if self.store.get(resource_type, namespace or "", name) is not None:
            raise ApiError(
                409,
                "AlreadyExists",
                f'{resource_type.qualified} "{name}" already exists',
                {"name": name, "group": resource_type.group, "kind": resource_type.plural},
            )
        if resource_type.status_subresource and resource_type.custom:
            body.pop("status", None)
        body = self._prepare(resource_type, body, None, validation=validation)
        if resource_type is CRD_TYPE:
            self._check_crd(body)
        if managed_fields is None:
            managed_fields = fieldmanager.Write.of(resource_type, None, manager, now_rfc3339()).update(
                None, body
            )
        fieldmanager.set_managed_fields(body, managed_fields)
        for server_field in (
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "generation",
        ):
            meta.pop(server_field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta["generation"] = 1
        self.admission.admit(
            admission.Attributes(resource_type, "CREATE", namespace or "", name, body, None, "", dry_run)
        )
        if dry_run:
            meta["resourceVersion"] = str(self.store.resource_version)
            return body
        meta["resourceVersion"] = str(self.store.next_version())
        if resource_type is NAMESPACE_TYPE:
            spec = body.get("spec")
            body["spec"] = {
                **(spec if isinstance(spec, dict) else {}),
                "finalizers": [namespace_lifecycle.KUBERNETES_FINALIZER],
            }
            body["status"] = {"phase": "Active"}
        self.store.put(resource_type, body, "ADDED")
        if resource_type is CRD_TYPE:
            self._register_crd(body)
        return body

    def _check_kind(self, resource_type: ResourceType, body: dict[str, Any]) -> None:
        kind = body.setdefault("kind", resource_type.kind)
        api_version = body.setdefault("apiVersion", resource_type.group_version)
        if kind != resource_type.kind or api_version != resource_type.group_version:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({resource_type.group_version})"
                if api_version != resource_type.group_version
                else f"the kind in the data ({kind}) does not match the expected kind ({resource_type.kind})"
            )

    def _check_crd(self, body: dict[str, Any]) -> None:
        try:
            spec = body["spec"]
            expected = f"{spec['names']['plural']}.{spec['group']}"
        except (KeyError, TypeError) as exc:
            raise invalid(
                CRD_TYPE,
                body["metadata"]["name"],
                [schemas.FieldError("spec", "FieldValueRequired", f"Required value: {exc}")],
            ) from exc
        if body["metadata"]["name"] != expected:
            raise invalid(
                CRD_TYPE,
                body["metadata"]["name"],
                [
                    schemas.FieldError(
                        "metadata.name",
                        "FieldValueInvalid",
                        f'Invalid value: {json.dumps(body["metadata"]["name"])}: must be spec.names.plural+"."+spec.group',
                    )
                ],
            )

    def _register_crd(self, crd: dict[str, Any]) -> None:
        spec = crd["spec"]
        self.registry.remove_group_kind(spec["group"], spec["names"]["plural"])
        for resource_type in types_from_crd(crd):
            self.registry.add(resource_type)
        if not crd.get("status", {}).get("conditions"):
            accepted = copy.deepcopy(crd)
            accepted["status"] = {
                "conditions": [
                    {
                        "type": "NamesAccepted",
                        "status": "True",
                        "reason": "NoConflicts",
                        "message": "no conflicts found",
                        "lastTransitionTime": now_rfc3339(),
                    },
                    {
                        "type": "Established",
                        "status": "True",
                        "reason": "InitialNamesAccepted",
                        "message": "the initial names have been accepted",
                        "lastTransitionTime": now_rfc3339(),
                    },
                ],
                "acceptedNames": spec["names"],
                "storedVersions": [v["name"] for v in spec.get("versions", []) if v.get("storage")],
            }
            accepted["metadata"]["resourceVersion"] = str(self.store.next_version())
            self.store.put(CRD_TYPE, accepted, "MODIFIED")

    def _write(
        self,
        target: Target,
        old: dict[str, Any],
        new: dict[str, Any],
        *,
        dry_run: bool,
        expected_version: str | None,
        validation: str = fieldvalidation.WARN,
        manager: str = "kube-apiserver",  # the server's own writes (controllers pass theirs)
        managed_fields: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Every update ends here: preconditions, subresource rules, schema, generation, finalizers."""
        resource_type = target.resource_type
        name = old["metadata"]["name"]
        if expected_version and expected_version != old["metadata"]["resourceVersion"]:
            raise conflict(resource_type, name)
        new = clone(new)
        if not isinstance(new.get("metadata"), dict):
            raise bad_request("metadata must be an object")
        self._check_kind(resource_type, new)
        meta = new["metadata"]
        if meta.get("name", name) != name:
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        old_meta = old["metadata"]
        if target.subresource == "status":
            # Only .status may change through /status.
            status = new.get("status")
            new = clone(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        elif target.subresource == "finalize" or resource_type is NAMESPACE_TYPE:
            new = namespace_lifecycle.finalizers_written(target.subresource, old, new)
        elif resource_type.status_subresource:
            if "status" in old:
                new["status"] = clone(old["status"])
            else:
                new.pop("status", None)
        meta = new["metadata"]
        for server_field in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "namespace",
            "generation",
        ):
            if server_field in old_meta:
                meta[server_field] = old_meta[server_field]
            else:
                meta.pop(server_field, None)
        meta["name"] = name
        meta["resourceVersion"] = old_meta["resourceVersion"]
        objectmeta.check(resource_type, new)
        if old_meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or ()) - set(old_meta.get("finalizers") or ())
            if added:
                raise ApiError(
                    422,
                    "Invalid",
                    f'{resource_type.kind_qualified} "{name}" is invalid: '
                    f"metadata.finalizers: Forbidden: no new finalizers can be added if the object is "
                    f"being deleted, found new finalizers {json.dumps(sorted(added))}",
                )
        new = self._prepare(resource_type, new, old, validation=validation)
        if managed_fields is None:
            managed_fields = fieldmanager.Write.of(
                resource_type, target.subresource, manager, now_rfc3339()
            ).update(old, new)
        fieldmanager.set_managed_fields(new, managed_fields)
        self.admission.admit(admission.update(resource_type, target.subresource, new, old, dry_run))
        if new == old:
            return old  # a no-op write changes nothing, not even resourceVersion
        if target.subresource != "status" and _spec_of(new) != _spec_of(old):
            meta["generation"] = int(old_meta.get("generation", 1)) + 1
        if not meta.get("finalizers"):
            meta.pop("finalizers", None)
        if dry_run:
            return new
        meta["resourceVersion"] = str(self.store.next_version())
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and not namespace_lifecycle.held_by_spec(resource_type, new)
        ):
            self.store.remove(resource_type, new)
            if resource_type is CRD_TYPE:
                self.registry.remove_group_kind(new["spec"]["group"], new["spec"]["names"]["plural"])
            return new
        self.store.put(resource_type, new, "MODIFIED")
        if resource_type is CRD_TYPE and target.subresource is None:
            self._register_crd(new)
        return new

    def _replace(
        self, target: Target, body: dict[str, Any], *, dry_run: bool, validation: str, manager: str
    ) -> dict[str, Any]:
        old = self._existing(target)
        expected = (body.get("metadata") or {}).get("resourceVersion")
        if not expected and target.resource_type.custom:
            # Custom resources do not allow unconditional updates (AllowUnconditionalUpdate is false).
            required = schemas.FieldError(
                "metadata.resourceVersion",
                "FieldValueInvalid",
                "Invalid value: 0x0: must be specified for an update",
            )
            raise invalid(target.resource_type, old["metadata"]["name"], [required], by_resource=True)
        return self._write(
            target,
            old,
            body,
            dry_run=dry_run,
            validation=validation,
            expected_version=expected,
            manager=manager,
        )

    async def _patch(
        self, request: web.Request, target: Target, dry_run: bool, validation: str, manager: str
    ) -> dict[str, Any]:
        content_type = request.content_type
        raw = await request.read()
        try:
            force = fieldmanager.apply_force(
                content_type == APPLY_PATCH, request.query.get("fieldManager"), request.query.get("force")
            )
        except fieldmanager.ApplyError as exc:
            raise ApiError(exc.code, exc.reason, exc.message, exc.details) from exc
        if content_type == APPLY_PATCH:
            return self._server_side_apply(
                target, raw, dry_run=dry_run, validation=validation, force=force, manager=manager
            )
        old = self._existing(target)
        try:
            patch = json.loads(raw)
        except ValueError as exc:
            raise bad_request(f"the body of the request was in an unknown format: {exc}") from exc
        if content_type == JSON_PATCH:
            try:
                new = json_patch(old, patch)
            except PatchError as exc:
                if exc.test_failed:
                    raise ApiError(
                        422,
                        "Invalid",
                        f"the server rejected our request due to an error in our request: {exc}",
                    ) from exc
                raise ApiError(
                    422, "Invalid", f"the server rejected our request due to an error in our request: {exc}"
                ) from exc
            expected = None
            if (old.get("metadata") or {}).get("resourceVersion") != (new.get("metadata") or {}).get(
                "resourceVersion"
            ):
                expected = new["metadata"].get("resourceVersion")  # a patch that sets rv is a precondition
        elif content_type == MERGE_PATCH or (
            content_type == STRATEGIC_PATCH and not target.resource_type.custom
        ):
            if not isinstance(patch, dict):
                raise bad_request("a merge patch must be a JSON object")
            if content_type == STRATEGIC_PATCH:
                shape = fieldpath.builtin_shape(target.resource_type.group, target.resource_type.kind)
                try:
                    new = strategic.apply(old, patch, shape)
                except strategic.StrategicPatchError as exc:
                    raise bad_request(str(exc)) from exc
            else:
                new = merge_patch(old, patch)
            expected = (
                (patch.get("metadata") or {}).get("resourceVersion")
                if isinstance(patch.get("metadata"), dict)
                else None
            )
        elif content_type == STRATEGIC_PATCH:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{JSON_PATCH}, {MERGE_PATCH}, {APPLY_PATCH}",
            )
        else:
            raise ApiError(
                415, "UnsupportedMediaType", f"the media type {content_type!r} is not supported for PATCH"
            )
        return self._write(
            target,
            old,
            new,
            dry_run=dry_run,
            validation=validation,
            expected_version=expected,
            manager=manager,
        )

    def _server_side_apply(
        self, target: Target, raw: bytes, *, dry_run: bool, validation: str, force: bool, manager: str
    ) -> dict[str, Any]:
        assert target.name is not None
        resource_type = target.resource_type
        current = self.store.get(resource_type, target.namespace or "", target.name)
        if current is None and target.subresource:
            raise not_found(resource_type, target.name)
        where = (
            f"{target.namespace or ''}/{target.name}; "
            f"{resource_type.group}/{resource_type.version}, Kind={resource_type.kind}"
        )
        try:
            applied = fieldmanager.parse_apply(raw, resource_type.group_version, resource_type.schema, where)
            if current is None:
                applied.setdefault("metadata", {})["name"] = target.name
            merged, managed_fields = fieldmanager.Write.of(
                resource_type, target.subresource, manager, now_rfc3339()
            ).apply(current, applied, force=force, where=where)
        except fieldmanager.ApplyError as exc:
            raise ApiError(exc.code, exc.reason, exc.message, exc.details) from exc
        if current is None:
            return self._create(
                resource_type,
                target.namespace,
                merged,
                dry_run=dry_run,
                validation=validation,
                manager=manager,
                managed_fields=managed_fields,
            )
        return self._write(
            target,
            current,
            merged,
            dry_run=dry_run,
            validation=validation,
            expected_version=applied.get("metadata", {}).get("resourceVersion"),
            manager=manager,
            managed_fields=managed_fields,
        )

    def _delete(self, target: Target, options: dict[str, Any], dry_run: bool) -> dict[str, Any]:
        old = self._existing(target)
        resource_type = target.resource_type
        meta = old["metadata"]
        dry_run = dry_run or "All" in (options.get("dryRun") or ())  # kubectl sends it in DeleteOptions
        policy = garbage.propagation_policy(options)
        preconditions = options.get("preconditions") or {}
        if preconditions.get("uid") and preconditions["uid"] != meta["uid"]:
            raise conflict(resource_type, meta["name"])
        if (
            preconditions.get("resourceVersion")
            and preconditions["resourceVersion"] != meta["resourceVersion"]
        ):
            raise conflict(resource_type, meta["name"])
        if resource_type is NAMESPACE_TYPE:
            self.namespaces.admit_delete(meta["name"])
        self.admission.admit(
            admission.Attributes(
                resource_type, "DELETE", meta.get("namespace", ""), meta["name"], None, old, "", dry_run
            )
        )
        if dry_run:
            return old
        finalizers = garbage.deletion_finalizers(list(meta.get("finalizers") or ()), policy)
        if resource_type is NAMESPACE_TYPE:
            return self.namespaces.delete(old, finalizers)
        if not finalizers:
            return self.remove_object(resource_type, old)
        if meta.get("deletionTimestamp") and finalizers == list(meta.get("finalizers") or ()):
            return old
        new = clone(old)
        new_meta = new["metadata"]
        if not new_meta.get("deletionTimestamp"):
            new_meta["deletionTimestamp"] = now_rfc3339()
            new_meta["deletionGracePeriodSeconds"] = 0
            new_meta["generation"] = int(meta.get("generation", 1)) + 1
        new_meta["finalizers"] = finalizers
        return self.store_update(resource_type, new)

    def _delete_collection(
        self, target: Target, query: Any, options: dict[str, Any], dry_run: bool
    ) -> dict[str, Any]:
        listing = self._list(target, query)
        for body in listing["items"]:
            meta = body["metadata"]
            self._delete(Target(target.resource_type, meta.get("namespace"), meta["name"]), options, dry_run)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}

    # -- for the controllers (namespace lifecycle, garbage collector) ------------------

    def now(self) -> str:
        return now_rfc3339()

    def store_update(self, resource_type: ResourceType, new: dict[str, Any]) -> dict[str, Any]:
        """Store a changed object under the next resourceVersion; one being deleted whose last
        finalizer is gone goes instead."""
        meta = new["metadata"]
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and not namespace_lifecycle.held_by_spec(resource_type, new)
        ):
            return self.remove_object(resource_type, new)
        meta["resourceVersion"] = str(self.store.next_version())
        self.store.put(resource_type, new, "MODIFIED")
        return new

    def remove_object(self, resource_type: ResourceType, old: dict[str, Any]) -> dict[str, Any]:
        gone: dict[str, Any] = clone(old)
        gone["metadata"]["resourceVersion"] = str(self.store.next_version())
        self.store.remove(resource_type, gone)
        if resource_type is CRD_TYPE:
            self.registry.remove_group_kind(old["spec"]["group"], old["spec"]["names"]["plural"])
        return gone

    def delete_object(
        self, resource_type: ResourceType, namespace: str, name: str, *, policy: str, uid: str | None = None
    ) -> dict[str, Any]:
        """DELETE as a controller sends it: with a propagation policy and a uid precondition."""
        options: dict[str, Any] = {"propagationPolicy": policy}
        if uid:
            options["preconditions"] = {"uid": uid}
        return self._delete(Target(resource_type, namespace or None, name), options, dry_run=False)

    def update_metadata(
        self, resource_type: ResourceType, body: dict[str, Any], change: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any]:
        """Change an object's metadata (finalizers, ownerReferences) as a controller's update does."""
        new = clone(body)
        change(new["metadata"])
        return self.controller_write(resource_type, body, new)

    def controller_write(
        self,
        resource_type: ResourceType,
        old: dict[str, Any],
        new: dict[str, Any],
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """A controller's update, conditional on the version it read (409 otherwise).

        It goes through the same write path as a client's, so managedFields (under
        kube-controller-manager), resourceVersion, watch events and the encoding cache
        follow; stored objects are never changed in place.
        """
        meta = old["metadata"]
        target = Target(resource_type, meta.get("namespace") or None, meta["name"], subresource)
        return self._write(
            target,
            old,
            new,
            dry_run=False,
            expected_version=meta["resourceVersion"],
            manager=CONTROLLER_MANAGER,
        )

    async def run_controllers(self) -> None:
        """kube-controller-manager's part: the namespace controller and the garbage collector."""
        await asyncio.gather(self.namespaces.run(), self.garbage_collector.run())

    # -- serving -----------------------------------------------------------------------

    @asynccontextmanager
    async def serving(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[Serving]:
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        server = site._server
        assert server is not None
        bound = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        controllers = asyncio.create_task(self.run_controllers(), name="emulated-cluster-controllers")
        try:
            yield Serving(self, host, int(bound))
        finally:
            controllers.cancel()
            with suppress(asyncio.CancelledError):
                await controllers
            self.drop_watches()
            await runner.cleanup()

    def write_kubeconfig(self, path: Path, url: str) -> Path:
        """A kubeconfig whose current context points at `url` (plain HTTP, token auth ignored)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "agentcore-emulated", "cluster": {"server": url}}],
            "users": [{"name": "agentcore-emulated", "user": {"token": "emulated-cluster-accepts-anyone"}}],
            "contexts": [
                {
                    "name": "agentcore-emulated",
                    "context": {
                        "cluster": "agentcore-emulated",
                        "user": "agentcore-emulated",
                        "namespace": "default",
                    },
                }
            ],
            "current-context": "agentcore-emulated",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path


@dataclass(frozen=True)
class Serving:
    cluster: EmulatedCluster
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _spec_of(body: dict[str, Any]) -> dict[str, Any]:
    """Everything generation tracks: all but metadata and status."""
    return {k: v for k, v in body.items() if k not in ("metadata", "status", "kind", "apiVersion")}
