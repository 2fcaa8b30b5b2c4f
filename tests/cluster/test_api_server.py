"""The emulated API server, behaviour by behaviour, over HTTP as any client would see it.

Each test names the Kubernetes API convention it pins; each would fail if the behaviour
were missing (most of them against plain kmock, which is where the gaps were).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from agentcore_operator.local.cluster.testing import ClusterHandle, running_cluster

REPO = Path(__file__).resolve().parents[2]
GROUP_PATH = "/apis/agentcore.dev/v1alpha1"
CIS = f"{GROUP_PATH}/namespaces/default/codeinterpretersessions"


@pytest.fixture
def cluster() -> Iterator[ClusterHandle]:
    with running_cluster() as handle:
        yield handle


class Api:
    """A tiny client: JSON in, JSON out, status codes kept."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()

    def call(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json", **params: Any
    ) -> tuple[int, Any]:
        data = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
        response = self.http.request(
            method,
            self.url + path,
            data=data,
            params=params or None,
            headers={"Content-Type": content_type},
            timeout=10,
        )
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text

    def ok(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json", **params: Any
    ) -> Any:
        status, answer = self.call(method, path, body, content_type, **params)
        assert status < 300, (status, answer)
        return answer


@pytest.fixture
def api(cluster: ClusterHandle) -> Api:
    return Api(cluster.url)


def session(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "agentcore.dev/v1alpha1",
        "kind": "CodeInterpreterSession",
        "metadata": {"name": name},
        "spec": spec,
    }


# 1. discovery -------------------------------------------------------------------------------


def test_discovery_serves_core_crds_and_our_kind(api: Api) -> None:
    core = {r["name"] for r in api.ok("GET", "/api/v1")["resources"]}
    assert {"namespaces", "events", "configmaps", "secrets"} <= core
    groups = {g["name"] for g in api.ok("GET", "/apis")["groups"]}
    assert {"coordination.k8s.io", "apiextensions.k8s.io", "events.k8s.io", "agentcore.dev"} <= groups
    assert "leases" in {r["name"] for r in api.ok("GET", "/apis/coordination.k8s.io/v1")["resources"]}
    ours = {r["name"]: r for r in api.ok("GET", GROUP_PATH)["resources"]}
    cis = ours["codeinterpretersessions"]
    assert (cis["kind"], cis["singularName"], cis["namespaced"]) == (
        "CodeInterpreterSession",
        "codeinterpretersession",
        True,
    )
    assert cis["shortNames"] == ["cis"] and cis["categories"] == ["agentcore"]
    assert "codeinterpretersessions/status" in ours
    assert ours["codeinterpreters"]["shortNames"] == ["ci"] and "codeinterpreters/status" in ours
    crds = api.ok("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
    names = sorted(crd["metadata"]["name"] for crd in crds["items"])
    assert names == sorted(
        yaml.safe_load(path.read_text())["metadata"]["name"] for path in (REPO / "crds").glob("*.yaml")
    )
    for crd in crds["items"]:
        assert {c["type"] for c in crd["status"]["conditions"]} >= {"Established", "NamesAccepted"}


def test_a_crd_created_over_the_api_is_served_at_once(api: Api) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}
                            },
                        }
                    },
                }
            ],
        },
    }
    api.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    created = api.ok(
        "POST",
        "/apis/example.com/v1/namespaces/default/widgets",
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}},
    )
    assert created["spec"] == {"size": 3}


# 2. metadata ---------------------------------------------------------------------------------


def test_server_sets_metadata_and_one_cluster_wide_resource_version(api: Api) -> None:
    first = api.ok("POST", CIS, session("one"))
    cm = api.ok(
        "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "c"}, "data": {"a": "b"}}
    )
    second = api.ok("POST", CIS, session("two"))
    versions = [int(x["metadata"]["resourceVersion"]) for x in (first, cm, second)]
    assert versions == sorted(versions) and len(set(versions)) == 3
    meta = first["metadata"]
    assert meta["namespace"] == "default" and meta["generation"] == 1
    assert len(meta["uid"]) == 36 and meta["creationTimestamp"].endswith("Z")
    assert first["spec"]["sessionTimeoutSeconds"] == 900  # defaulted


def test_generation_moves_with_spec_only(api: Api) -> None:
    api.ok("POST", CIS, session("gen"))
    path = f"{CIS}/gen"
    api.ok("PATCH", path, {"metadata": {"labels": {"team": "a"}}}, "application/merge-patch+json")
    api.ok("PATCH", f"{path}/status", {"status": {"phase": "Ready"}}, "application/merge-patch+json")
    assert api.ok("GET", path)["metadata"]["generation"] == 1
    api.ok("PATCH", path, {"spec": {"deletionPolicy": "Retain"}}, "application/merge-patch+json")
    assert api.ok("GET", path)["metadata"]["generation"] == 2


def test_errors_are_status_objects(api: Api) -> None:
    status, missing = api.call("GET", f"{CIS}/nope")
    assert status == 404 and missing["kind"] == "Status" and missing["reason"] == "NotFound"
    assert missing["message"] == 'codeinterpretersessions.agentcore.dev "nope" not found'
    api.ok("POST", CIS, session("dup"))
    status, exists = api.call("POST", CIS, session("dup"))
    assert (status, exists["reason"]) == (409, "AlreadyExists")
    status, bad = api.call("POST", CIS, session("bad", sessionTimeoutSeconds=10, deletionPolicy="Never"))
    assert status == 422 and bad["reason"] == "Invalid"
    causes = {c["field"]: c for c in bad["details"]["causes"]}
    assert causes["spec.sessionTimeoutSeconds"]["reason"] == "FieldValueInvalid"
    assert causes["spec.deletionPolicy"]["reason"] == "FieldValueNotSupported"
    status, no_ns = api.call("POST", f"{GROUP_PATH}/namespaces/ghost/codeinterpretersessions", session("x"))
    assert status == 404 and 'namespaces "ghost" not found' in no_ns["message"]


# 3. status subresource -------------------------------------------------------------------------


def test_status_subresource_isolation(api: Api) -> None:
    created = api.ok("POST", CIS, {**session("iso"), "status": {"phase": "Ready"}})
    assert "status" not in created  # ignored on create
    path = f"{CIS}/iso"
    api.ok("PATCH", path, {"status": {"phase": "Ready"}}, "application/merge-patch+json")
    assert "status" not in api.ok("GET", path)
    api.ok(
        "PATCH",
        f"{path}/status",
        {"spec": {"deletionPolicy": "Retain"}, "status": {"phase": "Starting"}},
        "application/merge-patch+json",
    )
    body = api.ok("GET", path)
    assert body["status"] == {"phase": "Starting"} and body["spec"]["deletionPolicy"] == "Delete"


# 4. patch and put ----------------------------------------------------------------------------


def test_patch_flavours_and_optimistic_concurrency(api: Api) -> None:
    body = api.ok("POST", CIS, session("p"))
    path, version = f"{CIS}/p", body["metadata"]["resourceVersion"]
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": version},
        {"op": "add", "path": "/metadata/finalizers", "value": ["x/y"]},
    ]
    patched = api.ok("PATCH", path, ops, "application/json-patch+json")
    assert patched["metadata"]["finalizers"] == ["x/y"]
    status, _ = api.call("PATCH", path, ops, "application/json-patch+json")  # the test op now fails
    assert status == 422
    stale = {"metadata": {"resourceVersion": version}, "spec": {"deletionPolicy": "Retain"}}
    status, conflict = api.call("PATCH", path, stale, "application/merge-patch+json")
    assert (status, conflict["reason"]) == (409, "Conflict")
    status, _ = api.call("PATCH", path, {"spec": {}}, "application/strategic-merge-patch+json")
    assert status == 415
    current = api.ok("GET", path)
    stale_put = dict(current, metadata=dict(current["metadata"], resourceVersion=version))
    assert api.call("PUT", path, stale_put)[0] == 409
    current["spec"]["deletionPolicy"] = "Retain"
    assert api.ok("PUT", path, current)["spec"]["deletionPolicy"] == "Retain"


def test_a_no_op_write_changes_nothing(api: Api) -> None:
    body = api.ok("POST", CIS, session("same"))
    again = api.ok(
        "PATCH", f"{CIS}/same", {"spec": {"deletionPolicy": "Delete"}}, "application/merge-patch+json"
    )
    assert again["metadata"]["resourceVersion"] == body["metadata"]["resourceVersion"]


# 5. validation ----------------------------------------------------------------------------


def test_defaults_pruning_preserved_fields_and_strictness(api: Api) -> None:
    created = api.ok("POST", CIS, session("prune", unknownField=1))
    assert "unknownField" not in created["spec"]
    assert created["spec"]["sessionTimeoutSeconds"] == 900 and created["spec"]["deletionPolicy"] == "Delete"
    status, strict = api.call("POST", CIS, session("strict", unknownField=1), fieldValidation="Strict")
    assert status == 400 and 'unknown field "spec.unknownField"' in strict["message"]
    kept = api.ok(
        "PATCH",
        f"{CIS}/prune/status",
        {"status": {"kopf": {"anything": {"goes": 1}}, "other": 2}},
        "application/merge-patch+json",
    )
    assert kept["status"] == {"kopf": {"anything": {"goes": 1}}}


def test_cel_rules_including_transitions(api: Api) -> None:
    api.ok("POST", CIS, session("cel", sessionName="one"))
    status, answer = api.call(
        "PATCH", f"{CIS}/cel", {"spec": {"sessionName": "two"}}, "application/merge-patch+json"
    )
    assert status == 422
    assert answer["details"]["causes"][0] == {
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: "string": sessionName is immutable',
        "field": "spec.sessionName",
    }
    arn = "arn:aws:bedrock-agentcore:us-west-2:123456789012:code-interpreter-custom/ds-a1b2c3d4e5"
    status, answer = api.call(
        "POST", CIS, session("mismatch", codeInterpreterIdentifier=arn, region="us-east-1")
    )
    assert status == 422 and "another region than spec.region" in answer["message"]


# 6. list ---------------------------------------------------------------------------------------


def test_list_kind_version_and_selectors(api: Api) -> None:
    for name, team in (("a", "red"), ("b", "blue"), ("c", None)):
        body = session(name)
        if team:
            body["metadata"]["labels"] = {"team": team}
        api.ok("POST", CIS, body)
    listing = api.ok("GET", CIS)
    assert (
        listing["kind"] == "CodeInterpreterSessionList" and listing["apiVersion"] == "agentcore.dev/v1alpha1"
    )
    assert int(listing["metadata"]["resourceVersion"]) > 0

    def names(**params: Any) -> list[str]:
        return [i["metadata"]["name"] for i in api.ok("GET", CIS, **params)["items"]]

    assert names(labelSelector="team=red") == ["a"]
    assert names(labelSelector="team!=red") == ["b", "c"]
    assert names(labelSelector="team in (red,blue)") == ["a", "b"]
    assert names(labelSelector="team notin (red)") == ["b", "c"]
    assert names(labelSelector="team") == ["a", "b"]
    assert names(labelSelector="!team") == ["c"]
    assert names(fieldSelector="metadata.name=b") == ["b"]
    everywhere = api.ok(
        "GET", f"{GROUP_PATH}/codeinterpretersessions", fieldSelector="metadata.namespace=default"
    )
    assert len(everywhere["items"]) == 3
    assert (
        api.ok("GET", f"{GROUP_PATH}/codeinterpretersessions", fieldSelector="metadata.namespace=other")[
            "items"
        ]
        == []
    )


# 7. watch --------------------------------------------------------------------------------------


def watch_lines(url: str, params: dict[str, Any], wanted: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    with requests.get(url, params={"watch": "true", **params}, stream=True, timeout=timeout) as response:
        for line in response.iter_lines():
            if line:
                events.append(json.loads(line))
                if len(events) >= wanted:
                    break
    return events


def test_watch_resumes_after_a_resource_version(api: Api, cluster: ClusterHandle) -> None:
    api.ok("POST", CIS, session("before"))
    version = api.ok("GET", CIS)["metadata"]["resourceVersion"]
    api.ok("POST", CIS, session("after"))
    events = watch_lines(cluster.url + CIS, {"resourceVersion": version, "timeoutSeconds": 2}, wanted=1)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "after")]


def test_watch_bookmarks_and_timeout(api: Api, cluster: ClusterHandle) -> None:
    cluster.cluster.bookmark_interval = 0.2
    version = api.ok("GET", CIS)["metadata"]["resourceVersion"]
    began = time.monotonic()
    events = watch_lines(
        cluster.url + CIS,
        {"resourceVersion": version, "allowWatchBookmarks": "true", "timeoutSeconds": 1},
        wanted=100,
    )
    assert time.monotonic() - began < 5  # the server ended the stream at timeoutSeconds
    assert events and all(e["type"] == "BOOKMARK" for e in events)
    assert events[0]["object"]["metadata"]["resourceVersion"] == version


def test_watch_of_an_expired_version_is_gone(api: Api, cluster: ClusterHandle) -> None:
    cluster.cluster.store.history.clear()
    for index in range(3):
        api.ok("POST", CIS, session(f"e{index}"))
    status, answer = api.call("GET", CIS, watch="true", resourceVersion="1")
    assert status == 410 and answer["reason"] == "Expired"


# 8. events -------------------------------------------------------------------------------------


def test_events_in_both_apis_are_stored_and_listable(api: Api, cluster: ClusterHandle) -> None:
    api.ok(
        "POST",
        "/api/v1/namespaces/default/events",
        {
            "metadata": {"name": "x.1"},
            "involvedObject": {"kind": "CodeInterpreterSession", "name": "x", "uid": "u1"},
            "reason": "Started",
            "message": "Started session S",
            "type": "Normal",
        },
    )
    api.ok(
        "POST",
        "/apis/events.k8s.io/v1/namespaces/default/events",
        {
            "metadata": {"name": "x.2"},
            "regarding": {"kind": "CodeInterpreterSession", "name": "x"},
            "reason": "Ready",
            "note": "ready",
            "type": "Normal",
            "eventTime": "2026-01-01T00:00:00.000000Z",
        },
    )
    listed = api.ok("GET", "/api/v1/namespaces/default/events", fieldSelector="involvedObject.uid=u1")
    assert [e["reason"] for e in listed["items"]] == ["Started"]
    assert [e["reason"] for e in api.ok("GET", "/apis/events.k8s.io/v1/events")["items"]] == ["Ready"]
    assert [e["reason"] for e in cluster.events("default")] == ["Started"]


# 9. tables --------------------------------------------------------------------------------------


def test_table_from_printer_columns(api: Api, cluster: ClusterHandle) -> None:
    api.ok("POST", CIS, session("tab"))
    api.ok(
        "PATCH",
        f"{CIS}/tab/status",
        {
            "status": {
                "phase": "Ready",
                "sessionId": "S1",
                "codeInterpreterIdentifier": "aws.codeinterpreter.v1",
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "SessionReady",
                        "message": "ok",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    }
                ],
            }
        },
        "application/merge-patch+json",
    )
    response = requests.get(
        cluster.url + CIS, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}, timeout=5
    ).json()
    assert response["kind"] == "Table"
    columns = [c["name"] for c in response["columnDefinitions"]]
    assert columns == [
        "Name",
        "Phase",
        "Session",
        "Interpreter",
        "Expires",
        "Restarts",
        "Reason",
        "Account",
        "Age",
    ]
    cells = response["rows"][0]["cells"]
    assert cells[:4] == ["tab", "Ready", "S1", "aws.codeinterpreter.v1"] and cells[6] == "SessionReady"
    assert response["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


# 10. faults ----------------------------------------------------------------------------------------


def test_injected_faults_and_dropped_watches(api: Api, cluster: ClusterHandle) -> None:
    cluster.inject_fault("GET", "codeinterpretersessions$", 503, count=2)
    assert [api.call("GET", CIS)[0] for _ in range(3)] == [503, 503, 200]
    version = api.ok("GET", CIS)["metadata"]["resourceVersion"]
    ended = threading.Event()

    def watch() -> None:
        with requests.get(
            cluster.url + CIS, params={"watch": "true", "resourceVersion": version}, stream=True, timeout=10
        ) as response:
            for _ in response.iter_lines():
                pass
        ended.set()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not cluster.cluster.store.watches and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cluster.drop_watches() == 1
    assert ended.wait(5)
    status = [r["status"] for r in cluster.requests() if r["path"].endswith("codeinterpretersessions")]
    assert status.count(503) == 2


# 11. lookups by key -----------------------------------------------------------------------------------


def test_ten_thousand_objects_stay_addressable_by_key(cluster: ClusterHandle, api: Api) -> None:
    from agentcore_operator.local.cluster.resources import NAMESPACE_TYPE

    kind = cluster.cluster.registry.get("agentcore.dev", "v1alpha1", "codeinterpretersessions")
    assert kind is not None

    def fill(start: int) -> None:
        # A thousand per call: each call must end within the handle's 30 s on a busy machine.
        for index in range(start, start + 1_000):
            cluster.cluster._create(kind, "bulk", session(f"s{index:05}"), dry_run=False)

    def namespaces() -> None:
        for namespace in ("bulk", "small"):
            cluster.cluster._create(NAMESPACE_TYPE, None, {"metadata": {"name": namespace}}, dry_run=False)
        cluster.cluster._create(kind, "small", session("only"), dry_run=False)

    cluster.call(namespaces)
    for start in range(0, 10_000, 1_000):
        cluster.call(lambda start=start: fill(start))  # type: ignore[misc]
    small = api.ok("GET", f"{GROUP_PATH}/namespaces/small/codeinterpretersessions")
    assert [i["metadata"]["name"] for i in small["items"]] == ["only"]
    assert (
        api.ok("GET", f"{GROUP_PATH}/namespaces/bulk/codeinterpretersessions/s09999")["metadata"]["name"]
        == "s09999"
    )
    page = api.ok("GET", f"{GROUP_PATH}/namespaces/bulk/codeinterpretersessions", limit=500)
    assert len(page["items"]) == 500 and page["metadata"]["continue"]
