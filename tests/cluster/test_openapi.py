"""OpenAPI v2 (`/openapi/v2`) and v3, as kubectl reads them: v2 in gnostic protobuf to validate a
`kind: List` client-side, v3 for `kubectl explain`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from agentcore_operator.local.cluster import gnostic
from agentcore_operator.local.cluster.testing import ClusterHandle, running_cluster

REPO = Path(__file__).resolve().parents[2]
SESSION = "dev.agentcore.v1alpha1.CodeInterpreterSession"


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterHandle]:
    with running_cluster() as handle:
        yield handle


def test_get_as_yaml_then_apply_the_list(cluster: ClusterHandle, tmp_path: Path) -> None:
    """`kubectl get -o yaml` writes a `kind: List`; kubectl validates one against /openapi/v2."""
    cluster.kubectl("apply", "-f", str(REPO / "examples" / "basic-session.yaml"))
    cluster.kubectl("create", "configmap", "settings", "--from-literal=region=eu-west-1")
    exported = tmp_path / "x.yaml"
    exported.write_text(cluster.kubectl("get", "codeinterpretersessions,configmaps", "-o", "yaml").stdout)
    assert exported.read_text().splitlines()[:2] == ["apiVersion: v1", "items:"]
    applied = cluster.kubectl("apply", "-f", str(exported)).stdout.splitlines()
    assert "codeinterpretersession.agentcore.dev/analysis configured" in applied
    assert "configmap/settings configured" in applied
    v2_reads = [r for r in cluster.requests() if r["path"] == "/openapi/v2"]
    assert v2_reads and v2_reads[-1]["status"] == 200


def test_kubectl_validates_a_list_against_the_published_schemas(
    cluster: ClusterHandle, tmp_path: Path
) -> None:
    items = [
        {
            "apiVersion": "agentcore.dev/v1alpha1",
            "kind": "CodeInterpreterSession",
            "metadata": {"name": "bad"},
            "spec": {"sessionTimeoutSeconds": "soon", "unknownField": 1},
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "bogus": 1}, "data": {"a": "b"}},
    ]
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    refused = cluster.kubectl("apply", "-f", str(manifest), check=False)
    assert refused.returncode == 1
    for expected in (
        f'invalid type for {SESSION}.spec.sessionTimeoutSeconds: got "string", expected "integer"',
        f'unknown field "unknownField" in {SESSION}.spec',
        'unknown field "bogus" in io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta',
    ):
        assert expected in refused.stderr
    assert cluster.get("codeinterpretersessions", "default", "bad") is None


def test_v2_json_document(cluster: ClusterHandle) -> None:
    document = json.loads(cluster.kubectl("get", "--raw", "/openapi/v2").stdout)
    assert document["swagger"] == "2.0"
    definitions = document["definitions"]
    session = definitions[SESSION]
    assert session["x-kubernetes-group-version-kind"] == [
        {"group": "agentcore.dev", "version": "v1alpha1", "kind": "CodeInterpreterSession"}
    ]
    assert (
        session["properties"]["metadata"]["$ref"]
        == "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    )
    spec = session["properties"]["spec"]
    assert spec["properties"]["deletionPolicy"]["enum"] == ["Delete", "Retain"]
    assert "x-kubernetes-validations" not in json.dumps(session)  # CEL rules are v3 only
    assert (
        definitions[f"{SESSION}List"]["x-kubernetes-group-version-kind"][0]["kind"]
        == "CodeInterpreterSessionList"
    )
    secret = definitions["io.k8s.api.core.v1.Secret"]
    assert secret["properties"]["data"] == {
        "type": "object",
        "additionalProperties": {"type": "string", "format": "byte"},
    }
    assert secret["x-kubernetes-group-version-kind"] == [{"group": "", "version": "v1", "kind": "Secret"}]
    container = definitions["io.k8s.api.core.v1.Container"]["properties"]
    assert container["ports"]["items"] == {"$ref": "#/definitions/io.k8s.api.core.v1.ContainerPort"}
    volume = definitions["io.k8s.api.core.v1.Volume"]["properties"]
    assert {"name", "configMap", "secret", "emptyDir"} <= set(volume)  # VolumeSource inlined, as in JSON
    references = {value.removeprefix("#/definitions/") for value in _values(document["definitions"], "$ref")}
    assert references <= set(definitions), references - set(definitions)


def _values(node: object, key: str) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key and isinstance(v, str):
                yield v
            else:
                yield from _values(v, key)
    elif isinstance(node, list):
        for item in node:
            yield from _values(item, key)


def test_v2_protobuf_is_served_under_either_media_type(cluster: ClusterHandle) -> None:
    for accept in gnostic.ACCEPTED_MEDIA_TYPES:
        answer = requests.get(f"{cluster.url}/openapi/v2", headers={"Accept": accept}, timeout=10)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == gnostic.MEDIA_TYPE  # Go's mime parser refuses the '@' form
        assert answer.content.startswith(b"\x0a\x032.0")  # Document.swagger = "2.0"
        assert SESSION.encode() in answer.content


def test_kubectl_explain_still_reads_v3(cluster: ClusterHandle) -> None:
    explained = cluster.kubectl("explain", "codeinterpretersessions.spec").stdout
    assert "deletionPolicy\t<string>\n  enum: Delete, Retain" in explained


def test_crd_schemas_lose_in_v2_what_v2_cannot_say() -> None:
    """As the apiextensions server converts them, so kubectl accepts nulls and unknown fields where v3 does."""
    from agentcore_operator.local.cluster.openapi import v2_schema

    schema = {
        "type": "object",
        "required": ["name", "note"],
        "properties": {
            "name": {"type": "string", "x-kubernetes-validations": [{"rule": "self != ''"}]},
            "note": {"type": "string", "nullable": True},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"x": {}}},
            "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
            "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
        },
    }
    assert v2_schema(schema) == {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "note": {},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "port": {"x-kubernetes-int-or-string": True},
            "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
        },
    }
