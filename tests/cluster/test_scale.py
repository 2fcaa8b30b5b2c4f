"""The scale subresource of custom resources, as the apiextensions server serves it: `kubectl scale`,
`kubectl get --subresource=scale` and the kubernetes Python client's scale calls against a CRD
with `subresources.scale` (the CodeInterpreterSessionPool CRD; a test copy in fixtures/crds until
the pools work lands in crds/)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentcore_operator.local.cluster.testing import ClusterHandle, running_cluster
from kubernetes import client, config
from kubernetes.client.rest import ApiException

POOL_CRD = Path(__file__).parent / "fixtures" / "crds" / "codeinterpretersessionpools.yaml"
GROUP, VERSION, PLURAL = "agentcore.dev", "v1alpha1", "codeinterpretersessionpools"


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterHandle]:
    with running_cluster() as handle:
        handle.kubectl("apply", "-f", str(POOL_CRD))
        yield handle


@pytest.fixture(scope="module")
def custom(cluster: ClusterHandle) -> Iterator[client.CustomObjectsApi]:
    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield client.CustomObjectsApi(api_client)
    api_client.close()


def create_pool(cluster: ClusterHandle, name: str, replicas: int) -> None:
    pool = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "CodeInterpreterSessionPool",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "template": {"spec": {}}},
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(pool))


def set_status(cluster: ClusterHandle, custom: client.CustomObjectsApi, name: str, replicas: int) -> None:
    status = {
        "status": {
            "replicas": replicas,
            "selector": f"agentcore.dev/pool={name},agentcore.dev/pool-state=free",
        }
    }
    custom.patch_namespaced_custom_object_status(GROUP, VERSION, "default", PLURAL, name, status)


def test_kubectl_scale_sets_spec_replicas(cluster: ClusterHandle) -> None:
    create_pool(cluster, "scaled", 3)
    before = cluster.get(PLURAL, "default", "scaled")
    assert before is not None
    result = cluster.kubectl("scale", "codeinterpretersessionpool/scaled", "--replicas=0")
    assert result.stdout.strip() == "codeinterpretersessionpool.agentcore.dev/scaled scaled"
    after = cluster.get(PLURAL, "default", "scaled")
    assert after is not None
    assert after["spec"]["replicas"] == 0
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    scale_entry = [e for e in after["metadata"]["managedFields"] if e.get("subresource") == "scale"]
    assert scale_entry and scale_entry[0]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}

    # --current-replicas is a precondition kubectl checks against the Scale it reads.
    refused = cluster.kubectl("scale", "cisp/scaled", "--current-replicas=5", "--replicas=2", check=False)
    assert refused.returncode != 0
    assert "Expected replicas to be 5, was 0" in refused.stderr
    cluster.kubectl("scale", "cisp/scaled", "--current-replicas=0", "--replicas=2")
    assert cluster.get(PLURAL, "default", "scaled")["spec"]["replicas"] == 2  # type: ignore[index]


def test_get_subresource_scale_reads_spec_status_and_selector(
    cluster: ClusterHandle, custom: client.CustomObjectsApi
) -> None:
    create_pool(cluster, "read", 4)
    set_status(cluster, custom, "read", 1)
    shown = cluster.kubectl("get", "cisp", "read", "--subresource=scale").stdout.split()
    assert shown == ["NAME", "DESIRED", "AVAILABLE", "read", "4", "1"]
    scale = json.loads(cluster.kubectl("get", "cisp", "read", "--subresource=scale", "-o", "json").stdout)
    pool = cluster.get(PLURAL, "default", "read")
    assert pool is not None
    assert scale == {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": "read",
            "namespace": "default",
            "uid": pool["metadata"]["uid"],
            "resourceVersion": pool["metadata"]["resourceVersion"],
            "creationTimestamp": pool["metadata"]["creationTimestamp"],
        },
        "spec": {"replicas": 4},
        "status": {"replicas": 1, "selector": "agentcore.dev/pool=read,agentcore.dev/pool-state=free"},
    }


def test_python_client_reads_and_patches_the_scale(
    cluster: ClusterHandle, custom: client.CustomObjectsApi
) -> None:
    create_pool(cluster, "py", 1)
    scale = custom.get_namespaced_custom_object_scale(GROUP, VERSION, "default", PLURAL, "py")
    assert scale["spec"] == {"replicas": 1} and scale["status"] == {"replicas": 0}  # no selector yet
    patched = custom.patch_namespaced_custom_object_scale(
        GROUP, VERSION, "default", PLURAL, "py", {"spec": {"replicas": 5}}
    )
    assert patched["spec"] == {"replicas": 5}
    assert cluster.get(PLURAL, "default", "py")["spec"]["replicas"] == 5  # type: ignore[index]

    # A stale resourceVersion in a replaced Scale is a conflict; a current one goes through.
    stale = dict(patched, metadata={**patched["metadata"], "resourceVersion": "1"}, spec={"replicas": 2})
    with pytest.raises(ApiException) as raised:
        custom.replace_namespaced_custom_object_scale(GROUP, VERSION, "default", PLURAL, "py", stale)
    assert raised.value.status == 409
    current = dict(patched, spec={"replicas": 2})
    replaced = custom.replace_namespaced_custom_object_scale(GROUP, VERSION, "default", PLURAL, "py", current)
    assert replaced["spec"] == {"replicas": 2}


def test_bad_scales_are_refused_as_the_api_server_words_it(
    cluster: ClusterHandle, custom: client.CustomObjectsApi
) -> None:
    create_pool(cluster, "bad", 1)
    with pytest.raises(ApiException) as raised:
        custom.patch_namespaced_custom_object_scale(
            GROUP, VERSION, "default", PLURAL, "bad", {"spec": {"replicas": -1}}
        )
    assert raised.value.status == 422
    assert json.loads(raised.value.body)["message"] == (
        'Scale.autoscaling "bad" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0'
    )
    missing = cluster.kubectl("scale", "cisp/absent", "--replicas=1", check=False)
    assert 'codeinterpretersessionpools.agentcore.dev "absent" not found' in missing.stderr
    # Kinds without a scale subresource have no /scale.
    cluster.kubectl("create", "configmap", "plain")
    no_scale = cluster.kubectl(
        "get", "--raw", "/api/v1/namespaces/default/configmaps/plain/scale", check=False
    )
    assert no_scale.returncode != 0


def test_discovery_lists_the_scale_subresource(cluster: ClusterHandle) -> None:
    listing = json.loads(cluster.kubectl("get", "--raw", f"/apis/{GROUP}/{VERSION}").stdout)
    entry = next(r for r in listing["resources"] if r["name"] == f"{PLURAL}/scale")
    assert entry == {
        "name": f"{PLURAL}/scale",
        "singularName": "",
        "namespaced": True,
        "group": "autoscaling",
        "version": "v1",
        "kind": "Scale",
        "verbs": ["get", "patch", "update"],
    }


def test_admission_policies_see_the_scale(cluster: ClusterHandle) -> None:
    cap = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "at-most-ten"},
        "spec": {
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [GROUP],
                        "apiVersions": [VERSION],
                        "operations": ["UPDATE"],
                        "resources": [f"{PLURAL}/scale"],
                    }
                ]
            },
            "validations": [
                {
                    "expression": "request.kind.kind == 'Scale' && object.spec.replicas <= 10",
                    "messageExpression": "'at most 10 replicas, not ' + string(object.spec.replicas)",
                }
            ],
        },
    }
    bound = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "at-most-ten"},
        "spec": {"policyName": "at-most-ten", "validationActions": ["Deny"]},
    }
    for manifest in (cap, bound):
        cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    try:
        create_pool(cluster, "capped", 1)
        refused = cluster.kubectl("scale", "cisp/capped", "--replicas=11", check=False)
        assert "denied request: at most 10 replicas, not 11" in refused.stderr
        cluster.kubectl("scale", "cisp/capped", "--replicas=10")
        # The policy names only /scale: the resource itself is not held to it.
        cluster.kubectl("patch", "cisp", "capped", "--type=merge", "-p", '{"spec":{"replicas":12}}')
    finally:
        cluster.kubectl("delete", "validatingadmissionpolicybinding", "at-most-ten")
