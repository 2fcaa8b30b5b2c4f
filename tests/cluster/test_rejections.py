"""What a real API server refuses or warns about, refused and warned about here too, so that a
test cannot pass against the emulated cluster and fail against a real one. Driven by
kubectl and the kubernetes Python client, which print and raise what the server answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from agentcore_operator.local.cluster.testing import ClusterHandle, running_cluster
from kubernetes import client, config
from kubernetes.client.rest import ApiException

GROUP, VERSION, PLURAL = "agentcore.dev", "v1alpha1", "codeinterpretersessions"


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterHandle]:
    with running_cluster() as handle:
        yield handle


@pytest.fixture(scope="module")
def custom(cluster: ClusterHandle) -> Iterator[client.CustomObjectsApi]:
    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield client.CustomObjectsApi(api_client)
    api_client.close()


def session(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "CodeInterpreterSession",
        "metadata": {"name": name},
        "spec": spec,
    }


# -- PUT without resourceVersion ----------------------------------------------------------


def test_replace_without_resource_version_is_invalid_for_custom_resources(cluster: ClusterHandle) -> None:
    manifest = yaml.safe_dump(session("rv", deletionPolicy="Delete"))
    cluster.kubectl("create", "-f", "-", input=manifest)
    # kubectl replace fills in the live resourceVersion itself; --raw PUTs the body as it is.
    url = "/apis/agentcore.dev/v1alpha1/namespaces/default/codeinterpretersessions/rv"
    refused = cluster.kubectl(
        "replace",
        "--raw",
        url,
        "-f",
        "-",
        input=json.dumps(session("rv", deletionPolicy="Retain")),
        check=False,
    )
    assert refused.returncode != 0
    assert refused.stderr.strip() == (
        'The codeinterpretersessions "rv" is invalid: '
        "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
    )
    # With the resourceVersion the object was read at, the same replace goes through.
    current = json.loads(cluster.kubectl("get", "cis", "rv", "-o", "json").stdout)
    current["spec"]["deletionPolicy"] = "Retain"
    cluster.kubectl("replace", "-f", "-", input=json.dumps(current))
    # Built-in kinds allow unconditional updates.
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain"}, "data": {"a": "1"}}
    cluster.kubectl("create", "-f", "-", input=json.dumps(configmap))
    configmap["data"]["a"] = "2"
    cluster.kubectl("replace", "-f", "-", input=json.dumps(configmap))


def test_python_client_replace_without_resource_version(custom: client.CustomObjectsApi) -> None:
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, session("py-rv"))
    with pytest.raises(ApiException) as refused:
        custom.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "py-rv", session("py-rv"))
    assert refused.value.status == 422
    status = json.loads(refused.value.body)
    assert status["message"] == (
        'codeinterpretersessions.agentcore.dev "py-rv" is invalid: '
        "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: 0x0: must be specified for an update",
            "field": "metadata.resourceVersion",
        }
    ]


# -- field selectors ----------------------------------------------------------------------


def test_field_selectors_on_custom_resources_take_only_supported_labels(cluster: ClusterHandle) -> None:
    cluster.kubectl("create", "-f", "-", input=yaml.safe_dump(session("picked", region="us-west-2")))
    refused = cluster.kubectl("get", "cis", "--field-selector", "spec.region=us-west-2", check=False)
    assert refused.returncode != 0
    assert "field label not supported: spec.region" in refused.stderr
    found = cluster.kubectl("get", "cis", "--field-selector", "metadata.name=picked", "-o", "name").stdout
    assert found.split() == ["codeinterpretersession.agentcore.dev/picked"]
    everywhere = cluster.kubectl(
        "get",
        "cis",
        "-A",
        "--field-selector",
        "metadata.namespace=default,metadata.name=picked",
        "-o",
        "name",
    )
    assert everywhere.stdout.split() == ["codeinterpretersession.agentcore.dev/picked"]


def test_python_client_field_selector_is_a_bad_request(custom: client.CustomObjectsApi) -> None:
    with pytest.raises(ApiException) as refused:
        custom.list_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, field_selector="spec.region=x"
        )
    assert refused.value.status == 400
    status = json.loads(refused.value.body)
    assert (status["reason"], status["message"]) == ("BadRequest", "field label not supported: spec.region")


# -- fieldValidation ----------------------------------------------------------------------


def test_kubectl_validate_warn_prints_a_warning_and_drops_the_field(cluster: ClusterHandle) -> None:
    manifest = yaml.safe_dump(session("warned", foo="bar"))
    created = cluster.kubectl("create", "--validate=warn", "-f", "-", input=manifest)
    assert 'Warning: unknown field "spec.foo"' in created.stderr
    assert "foo" not in json.loads(cluster.kubectl("get", "cis", "warned", "-o", "json").stdout)["spec"]
    refused = cluster.kubectl(
        "create", "--validate=strict", "-f", "-", input=manifest.replace("warned", "strict"), check=False
    )
    assert refused.returncode != 0 and 'strict decoding error: unknown field "spec.foo"' in refused.stderr
    quiet = cluster.kubectl(
        "create", "--validate=ignore", "-f", "-", input=manifest.replace("warned", "quiet")
    )
    assert "Warning" not in quiet.stderr


def test_python_client_sees_the_warning_header(custom: client.CustomObjectsApi) -> None:
    _, status, headers = custom.create_namespaced_custom_object_with_http_info(
        GROUP, VERSION, "default", PLURAL, session("py-warned", foo="bar", bar={"baz": 1})
    )
    assert status == 201
    assert sorted(headers.getlist("Warning")) == [
        '299 - "unknown field \\"spec.bar\\""',
        '299 - "unknown field \\"spec.foo\\""',
    ]
    _, _, quiet = custom.create_namespaced_custom_object_with_http_info(
        GROUP, VERSION, "default", PLURAL, session("py-quiet", foo="bar"), field_validation="Ignore"
    )
    assert "Warning" not in quiet
