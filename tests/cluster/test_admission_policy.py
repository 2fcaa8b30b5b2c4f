"""ValidatingAdmissionPolicy and its bindings, as kube-apiserver runs them: driven by kubectl
(which prints the server's refusal and its Warning headers) and the kubernetes Python client
(which raises the Status), against policies written as a cluster admin would write them."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from agentcore_operator.local.cluster import protobuf
from agentcore_operator.local.cluster.testing import ClusterHandle
from kubernetes import client
from kubernetes.client.rest import ApiException

API = "admissionregistration.k8s.io/v1"


def policy(name: str, *validations: dict[str, Any], **spec: Any) -> dict[str, Any]:
    spec.setdefault(
        "matchConstraints",
        {
            "resourceRules": [
                {
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE", "UPDATE"],
                    "resources": ["configmaps"],
                }
            ]
        },
    )
    return {
        "apiVersion": API,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {"validations": list(validations), **spec},
    }


def binding(name: str, policy_name: str, actions: tuple[str, ...] = ("Deny",), **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {"policyName": policy_name, "validationActions": list(actions), **spec},
    }


def apply(cluster: ClusterHandle, *manifests: dict[str, Any]) -> None:
    for manifest in manifests:
        cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))


def create_configmap(cluster: ClusterHandle, name: str, *args: str) -> Any:
    return cluster.kubectl("create", "configmap", name, *args, check=False)


MAX_KEYS = policy(
    "max-keys",
    {
        "expression": "!has(object.data) || size(object.data) <= int(params.data.max)",
        "messageExpression": "'a ConfigMap may hold at most ' + params.data.max + ' keys'",
    },
    paramKind={"apiVersion": "v1", "kind": "ConfigMap"},
)


def test_a_policy_with_params_denies_and_allows_the_right_requests(
    cluster: ClusterHandle, core: client.CoreV1Api
) -> None:
    cluster.kubectl("create", "namespace", "limits")
    cluster.kubectl("create", "configmap", "max-keys", "-n", "limits", "--from-literal=max=1")
    ref = {"name": "max-keys", "namespace": "limits", "parameterNotFoundAction": "Deny"}
    apply(cluster, MAX_KEYS, binding("max-keys-everywhere", "max-keys", paramRef=ref))

    assert create_configmap(cluster, "one", "--from-literal=a=1").returncode == 0
    refused = create_configmap(cluster, "two", "--from-literal=a=1", "--from-literal=b=2")
    assert refused.returncode != 0
    assert refused.stderr.strip() == (
        'error: failed to create configmap: configmaps "two" is forbidden: ValidatingAdmissionPolicy '
        "'max-keys' with binding 'max-keys-everywhere' denied request: a ConfigMap may hold at most 1 keys"
    )
    assert cluster.get("configmaps", "default", "two", group="", version="v1") is None

    # An update is held to it too, and the Python client raises the Status as the server wrote it.
    with pytest.raises(ApiException) as raised:
        core.patch_namespaced_config_map("one", "default", {"data": {"b": "2"}})
    assert raised.value.status == 422
    status = json.loads(raised.value.body)
    text = (
        "ValidatingAdmissionPolicy 'max-keys' with binding 'max-keys-everywhere' denied request: "
        "a ConfigMap may hold at most 1 keys"
    )
    assert status["reason"] == "Invalid"
    assert status["message"] == f'configmaps "one" is forbidden: {text}'
    assert status["details"] == {"name": "one", "kind": "configmaps", "causes": [{"message": text}]}

    # Raising the param's limit lets the same request through: params are read per request.
    core.patch_namespaced_config_map("max-keys", "limits", {"data": {"max": "2"}})
    core.patch_namespaced_config_map("one", "default", {"data": {"b": "2"}})


def test_namespace_object_reads_the_namespace_labels(cluster: ClusterHandle) -> None:
    cluster.kubectl("create", "namespace", "prod")
    cluster.kubectl("label", "namespace", "prod", "env=prod")
    cluster.kubectl("create", "namespace", "dev")
    owner = policy(
        "prod-needs-owner",
        {
            "expression": "variables.namespaceLabels.env != 'prod' || 'owner' in variables.labels",
            "message": "in a prod namespace a ConfigMap needs an owner label",
        },
        variables=[
            {
                "name": "namespaceLabels",
                "expression": "has(namespaceObject.metadata.labels) && 'env' in namespaceObject.metadata.labels"
                " ? namespaceObject.metadata.labels : {'env': ''}",
            },
            {"name": "labels", "expression": "has(object.metadata.labels) ? object.metadata.labels : {}"},
        ],
    )
    apply(cluster, owner, binding("prod-needs-owner", "prod-needs-owner"))
    refused = cluster.kubectl("create", "configmap", "c", "-n", "prod", check=False)
    assert "in a prod namespace a ConfigMap needs an owner label" in refused.stderr
    assert cluster.kubectl("create", "configmap", "c", "-n", "dev", check=False).returncode == 0
    labelled = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "labels": {"owner": "ann"}},
    }
    assert cluster.kubectl("apply", "-n", "prod", "-f", "-", input=json.dumps(labelled)).returncode == 0


def test_a_param_selector_evaluates_every_matching_param(cluster: ClusterHandle) -> None:
    cluster.kubectl("create", "namespace", "rules")
    for name, forbidden in (("no-a", "a"), ("no-b", "b"), ("ignored", "c")):
        cluster.kubectl("create", "configmap", name, "-n", "rules", f"--from-literal=forbidden={forbidden}")
    cluster.kubectl("label", "configmap", "no-a", "no-b", "-n", "rules", "kind=forbidden-key")
    forbid = policy(
        "forbidden-keys",
        {
            "expression": "!has(object.data) || !(params.data.forbidden in object.data)",
            "messageExpression": "'key ' + params.data.forbidden + ' is forbidden by ' + params.metadata.name",
        },
        paramKind={"apiVersion": "v1", "kind": "ConfigMap"},
    )
    selector = {"matchExpressions": [{"key": "kind", "operator": "In", "values": ["forbidden-key"]}]}
    ref = {"namespace": "rules", "selector": selector, "parameterNotFoundAction": "Deny"}
    apply(cluster, forbid, binding("forbidden-keys", "forbidden-keys", paramRef=ref))

    assert "key a is forbidden by no-a" in create_configmap(cluster, "x", "--from-literal=a=1").stderr
    assert "key b is forbidden by no-b" in create_configmap(cluster, "y", "--from-literal=b=1").stderr
    assert create_configmap(cluster, "z", "--from-literal=c=1").returncode == 0  # "ignored" is not selected


@pytest.mark.parametrize(
    ("action", "failure_policy", "created", "message"),
    [
        ("Allow", "Fail", True, ""),
        (
            "Deny",
            "Fail",
            False,
            "ValidatingAdmissionPolicy 'max-keys' with binding 'max-keys' denied request: failed to configure "
            "binding: no params found for policy binding with `Deny` parameterNotFoundAction",
        ),
        ("Deny", "Ignore", True, ""),
    ],
)
def test_parameter_not_found_action(
    cluster: ClusterHandle, action: str, failure_policy: str, created: bool, message: str
) -> None:
    ref = {"name": "absent", "namespace": "default", "parameterNotFoundAction": action}
    without_param = json.loads(json.dumps(MAX_KEYS))
    without_param["spec"]["failurePolicy"] = failure_policy
    apply(cluster, without_param, binding("max-keys", "max-keys", paramRef=ref))
    result = create_configmap(cluster, "c", "--from-literal=a=1", "--from-literal=b=2")
    assert (result.returncode == 0) is created
    if message:
        assert message in result.stderr


@pytest.mark.parametrize(("failure_policy", "created"), [("Fail", False), ("Ignore", True)])
def test_failure_policy_decides_on_a_cel_error(
    cluster: ClusterHandle, failure_policy: str, created: bool
) -> None:
    broken = policy(
        "reads-a-missing-key",
        {"expression": "object.data.region == 'eu-west-1'"},
        failurePolicy=failure_policy,
    )
    apply(cluster, broken, binding("reads-a-missing-key", "reads-a-missing-key"))
    result = create_configmap(cluster, "c", "--from-literal=zone=a")
    assert (result.returncode == 0) is created
    if not created:
        assert result.stderr.strip().endswith(
            "ValidatingAdmissionPolicy 'reads-a-missing-key' with binding 'reads-a-missing-key' denied request: "
            "expression 'object.data.region == 'eu-west-1'' resulted in error: no such key: region"
        )


def test_warn_admits_with_a_warning_header(cluster: ClusterHandle) -> None:
    labelled = policy(
        "wants-team-label",
        {
            "expression": "has(object.metadata.labels) && 'team' in object.metadata.labels",
            "message": "no team",
        },
    )
    apply(cluster, labelled, binding("wants-team-label", "wants-team-label", actions=("Warn", "Audit")))
    result = create_configmap(cluster, "c")
    assert result.returncode == 0
    assert (
        "Warning: Validation failed for ValidatingAdmissionPolicy 'wants-team-label' with binding "
        "'wants-team-label': no team"
    ) in result.stderr
    assert cluster.get("configmaps", "default", "c", group="", version="v1") is not None


def test_reason_sets_the_code_and_match_conditions_variables_and_selectors_narrow(
    cluster: ClusterHandle, core: client.CoreV1Api
) -> None:
    guarded = policy(
        "guarded-deletes",
        {"expression": "!variables.protected", "message": "protected", "reason": "Forbidden"},
        matchConstraints={
            "resourceRules": [
                {
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "operations": ["DELETE"],
                    "resources": ["configmaps"],
                }
            ],
            "objectSelector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]},
        },
        matchConditions=[{"name": "not-a-dry-run", "expression": "!request.dryRun"}],
        variables=[{"name": "protected", "expression": "oldObject.metadata.labels.tier == 'gold'"}],
    )
    apply(cluster, guarded, binding("guarded-deletes", "guarded-deletes"))
    for name, tier in (("gold", "gold"), ("bronze", "bronze")):
        create_configmap(cluster, name)
        cluster.kubectl("label", "configmap", name, f"tier={tier}")
    create_configmap(cluster, "untiered")

    with pytest.raises(ApiException) as raised:
        core.delete_namespaced_config_map("gold", "default")
    assert raised.value.status == 403
    assert json.loads(raised.value.body)["reason"] == "Forbidden"
    assert (
        cluster.kubectl("delete", "configmap", "gold", "--dry-run=server").returncode == 0
    )  # matchConditions
    assert cluster.kubectl("delete", "configmap", "bronze", "untiered").returncode == 0


def test_the_api_refuses_malformed_policies_and_bindings(cluster: ClusterHandle) -> None:
    bad_cel = policy("bad", {"expression": "object.data.("})
    refused = cluster.kubectl("apply", "-f", "-", input=json.dumps(bad_cel), check=False)
    assert 'The ValidatingAdmissionPolicy "bad" is invalid' in refused.stderr
    assert "spec.validations[0].expression: Invalid value: " in refused.stderr
    assert "compilation failed" in refused.stderr

    both = binding("both", "bad", actions=("Deny", "Warn"))
    refused = cluster.kubectl("apply", "-f", "-", input=json.dumps(both), check=False)
    assert "must not contain both Deny and Warn" in refused.stderr
    no_action = binding("no-action", "bad", paramRef={"name": "x"})
    refused = cluster.kubectl("apply", "-f", "-", input=json.dumps(no_action), check=False)
    assert "spec.paramRef.parameterNotFoundAction: Required value" in refused.stderr


def test_policies_and_bindings_travel_in_protobuf(cluster: ClusterHandle) -> None:
    manifest = json.loads(json.dumps(MAX_KEYS))
    manifest["spec"]["matchConstraints"]["resourceRules"][0]["resourceNames"] = ["only-this"]
    encoded = protobuf.encode_object(manifest)
    assert protobuf.decode_object(encoded)["spec"] == manifest["spec"]
    headers = {"Content-Type": protobuf.PROTOBUF, "Accept": f"{protobuf.PROTOBUF},application/json"}
    url = f"{cluster.url}/apis/{API}/validatingadmissionpolicies"
    created = requests.post(url, data=encoded, headers=headers, timeout=10)
    assert created.status_code == 201
    assert created.headers["Content-Type"] == protobuf.PROTOBUF
    stored = protobuf.decode_object(created.content)
    rule = stored["spec"]["matchConstraints"]["resourceRules"][0]
    assert rule["resourceNames"] == ["only-this"] and rule["scope"] == "*"  # inline Rule, defaulted
    assert stored["spec"]["failurePolicy"] == "Fail"

    bound = binding("b", "max-keys", paramRef={"selector": {}, "parameterNotFoundAction": "Allow"})
    assert protobuf.decode_object(protobuf.encode_object(bound))["spec"] == bound["spec"]


def test_a_binding_narrows_by_namespace_and_every_namespace_is_labelled_with_its_name(
    cluster: ClusterHandle,
) -> None:
    cluster.kubectl("create", "namespace", "strict")
    labels = json.loads(
        cluster.kubectl("get", "namespace", "strict", "-o", "jsonpath={.metadata.labels}").stdout
    )
    assert labels == {"kubernetes.io/metadata.name": "strict"}
    no_x = policy("no-x", {"expression": "!has(object.data) || !('x' in object.data)", "message": "no x"})
    only_strict = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "strict"}}}
    apply(cluster, no_x, binding("no-x-in-strict", "no-x", matchResources=only_strict))
    assert (
        "denied request: no x"
        in cluster.kubectl(
            "create", "configmap", "c", "-n", "strict", "--from-literal=x=1", check=False
        ).stderr
    )
    assert create_configmap(cluster, "c", "--from-literal=x=1").returncode == 0


def test_kubectl_create_get_and_reapply_as_a_list(cluster: ClusterHandle) -> None:
    created = cluster.kubectl("create", "-f", "-", input=json.dumps(MAX_KEYS))
    assert created.stdout.strip() == "validatingadmissionpolicy.admissionregistration.k8s.io/max-keys created"
    ref = {"name": "max-keys", "namespace": "default", "parameterNotFoundAction": "Allow"}
    cluster.kubectl("create", "-f", "-", input=json.dumps(binding("max-keys", "max-keys", paramRef=ref)))
    listed = cluster.kubectl(
        "get", "validatingadmissionpolicies,validatingadmissionpolicybindings", "-o", "yaml"
    )
    # kubectl validates a kind: List client-side against /openapi/v2, which must define both kinds.
    again = cluster.kubectl("apply", "-f", "-", input=listed.stdout)
    assert again.stdout.split("\n")[:2] == [
        "validatingadmissionpolicy.admissionregistration.k8s.io/max-keys configured",  # last-applied added
        "validatingadmissionpolicybinding.admissionregistration.k8s.io/max-keys configured",
    ]
    stored = cluster.get(
        "validatingadmissionpolicies", None, "max-keys", group="admissionregistration.k8s.io", version="v1"
    )
    assert stored is not None and stored["spec"]["matchConstraints"]["namespaceSelector"] == {}


@pytest.mark.parametrize(("failure_policy", "created"), [("Fail", False), ("Ignore", True)])
def test_an_unknown_param_kind_is_a_configuration_error(
    cluster: ClusterHandle, failure_policy: str, created: bool
) -> None:
    unknown = policy(
        "unknown-params",
        {"expression": "true"},
        paramKind={"apiVersion": "example.com/v1", "kind": "Limits"},
        failurePolicy=failure_policy,
    )
    ref = {"name": "x", "parameterNotFoundAction": "Allow"}
    apply(cluster, unknown, binding("unknown-params", "unknown-params", paramRef=ref))
    result = create_configmap(cluster, "c")
    assert (result.returncode == 0) is created
    if not created:
        assert result.stderr.strip().endswith(
            "ValidatingAdmissionPolicy 'unknown-params' denied request: failed to configure policy: "
            "failed to find resource referenced by paramKind: 'example.com/v1, Kind=Limits'"
        )


def test_a_failing_variable_fails_only_the_expressions_that_read_it(cluster: ClusterHandle) -> None:
    lazy = policy(
        "lazy",
        {"expression": "variables.labelled || variables.region == 'eu-west-1'"},
        variables=[
            {"name": "labelled", "expression": "has(object.metadata.labels)"},
            {"name": "region", "expression": "object.data.region"},
        ],
    )
    apply(cluster, lazy, binding("lazy", "lazy"))
    labelled = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "l", "labels": {"a": "b"}}}
    assert (
        cluster.kubectl("apply", "-f", "-", input=json.dumps(labelled)).returncode == 0
    )  # region never read
    refused = create_configmap(cluster, "c", "--from-literal=zone=a")
    assert refused.stderr.strip().endswith(
        "denied request: expression 'variables.labelled || variables.region == 'eu-west-1'' resulted in error: "
        "no such key: region"
    )
