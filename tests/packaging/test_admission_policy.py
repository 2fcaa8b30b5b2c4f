"""The chart's optional ValidatingAdmissionPolicy (admissionPolicy.enabled), rendered by the real
helm and applied with the real kubectl to the emulated cluster, which runs it as kube-apiserver
does: AgentCoreAccessPolicies are its params, and sessions and pool templates that break a
namespace's interpreter or timeout limit are refused with a message naming the field and the
policy. The AgentCoreAccessPolicy CRD is crds/'s (the emulated cluster loads it); the
CodeInterpreterSessionPool CRD comes from a test copy in tests/cluster/fixtures/crds until the
pools work lands in crds/."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agentcore_operator.local.cluster.testing import ClusterHandle, running_cluster

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "agentcore-operator"
HELM = REPO / ".tools" / "bin" / "helm"
FIXTURE_CRDS = REPO / "tests" / "cluster" / "fixtures" / "crds"
API = "agentcore.dev/v1alpha1"
POLICY = "rel-agentcore-operator-access-limits"


def rendered_policy() -> str:
    return subprocess.run(
        [
            str(HELM),
            "template",
            "rel",
            str(CHART),
            "--set",
            "admissionPolicy.enabled=true",
            "--show-only",
            "templates/admissionpolicy.yaml",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterHandle]:
    with running_cluster() as handle:
        handle.kubectl("apply", "-f", str(FIXTURE_CRDS))
        handle.kubectl("apply", "-f", "-", input=rendered_policy())
        for namespace, labels in (
            ("team-a", ""),
            ("team-b", "tenant=b"),
            ("team-c", "tier=gold"),
            ("free", ""),
        ):
            handle.kubectl("create", "namespace", namespace)
            if labels:
                handle.kubectl("label", "namespace", namespace, labels)
        # Admitted while no AgentCoreAccessPolicy exists (the `policies` fixture comes later).
        early = session("before-any-policy", sessionTimeoutSeconds=28800)
        handle.kubectl("create", "-n", "team-a", "-f", "-", input=json.dumps(early))
        yield handle


def access_policy(name: str, namespace_selector: dict[str, Any], **limits: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "AgentCoreAccessPolicy",
        "metadata": {"name": name},
        "spec": {"namespaceSelector": namespace_selector, "limits": limits},
    }


def session(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "CodeInterpreterSession", "metadata": {"name": name}, "spec": spec}


def pool(name: str, **template_spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "CodeInterpreterSessionPool",
        "metadata": {"name": name},
        "spec": {"replicas": 1, "template": {"spec": template_spec}},
    }


def create(
    cluster: ClusterHandle, namespace: str, manifest: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(manifest), check=False)


def refusal(kind: str, name: str, message: str) -> str:
    """What kubectl prints for the 422: as it prints a real API server's (its cause has no field)."""
    return (
        f'The {kind} "{name}" is invalid: : ValidatingAdmissionPolicy '
        f"'{POLICY}' with binding '{POLICY}' denied request: {message}"
    )


def test_without_access_policies_everything_is_admitted(cluster: ClusterHandle) -> None:
    assert cluster.get("codeinterpretersessions", "team-a", "before-any-policy") is not None


@pytest.fixture(scope="module")
def policies(cluster: ClusterHandle) -> None:
    for manifest in (
        access_policy(
            "a",
            {"names": ["team-a"]},
            allowedInterpreters=["aws.codeinterpreter.v1", "team-a-interpreter"],
            maxSessionTimeoutSeconds=3600,
        ),
        access_policy(
            "b", {"selector": {"matchLabels": {"tenant": "b"}}}, allowedInterpreters=["custom_x-abcdefghij"]
        ),
        access_policy(
            "c",
            {
                "selector": {
                    "matchExpressions": [
                        {"key": "tier", "operator": "In", "values": ["gold", "silver"]},
                        {"key": "frozen", "operator": "DoesNotExist"},
                    ]
                }
            },
            maxSessionTimeoutSeconds=600,
        ),
    ):
        cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))


@pytest.mark.usefixtures("policies")
def test_a_namespace_bound_by_name_holds_sessions_to_its_limits(cluster: ClusterHandle) -> None:
    assert create(cluster, "team-a", session("defaults")).returncode == 0  # aws.codeinterpreter.v1, 900 s
    too_long = create(cluster, "team-a", session("too-long", sessionTimeoutSeconds=7200))
    assert too_long.stderr.strip() == refusal(
        "codeinterpretersessions",
        "too-long",
        "spec.sessionTimeoutSeconds: 7200 exceeds 3600, the spec.limits.maxSessionTimeoutSeconds of "
        "AgentCoreAccessPolicy a, which binds namespace team-a",
    )
    ref = create(cluster, "team-a", session("by-ref", codeInterpreterRef={"name": "team-a-interpreter"}))
    assert ref.returncode == 0
    other = create(cluster, "team-a", session("other-ref", codeInterpreterRef={"name": "team-b-interpreter"}))
    assert other.stderr.strip() == refusal(
        "codeinterpretersessions",
        "other-ref",
        "spec.codeInterpreterRef.name: team-b-interpreter is not in spec.limits.allowedInterpreters of "
        "AgentCoreAccessPolicy a, which binds namespace team-a",
    )


@pytest.mark.usefixtures("policies")
def test_a_namespace_bound_by_labels_holds_sessions_to_its_limits(cluster: ClusterHandle) -> None:
    builtin = create(cluster, "team-b", session("builtin"))
    assert builtin.stderr.strip() == refusal(
        "codeinterpretersessions",
        "builtin",
        "spec.codeInterpreterIdentifier: aws.codeinterpreter.v1 is not in spec.limits.allowedInterpreters "
        "of AgentCoreAccessPolicy b, which binds namespace team-b",
    )
    assert (
        create(
            cluster, "team-b", session("custom", codeInterpreterIdentifier="custom_x-abcdefghij")
        ).returncode
        == 0
    )
    arn = "arn:aws:bedrock-agentcore:us-west-2:123456789012:code-interpreter-custom/custom_x-abcdefghij"
    assert create(cluster, "team-b", session("by-arn", codeInterpreterIdentifier=arn)).returncode == 0

    # matchExpressions: tier In (gold, silver) and no frozen label.
    default_timeout = create(cluster, "team-c", session("default-timeout"))
    assert "spec.sessionTimeoutSeconds: 900 exceeds 600" in default_timeout.stderr
    assert "AgentCoreAccessPolicy c, which binds namespace team-c" in default_timeout.stderr
    assert create(cluster, "team-c", session("short", sessionTimeoutSeconds=300)).returncode == 0
    cluster.kubectl("label", "namespace", "team-c", "frozen=yes")
    try:
        assert create(cluster, "team-c", session("unbound-now")).returncode == 0
    finally:
        cluster.kubectl("label", "namespace", "team-c", "frozen-")

    # Unbound namespaces are not held to anyone's limits.
    assert create(cluster, "free", session("anything", sessionTimeoutSeconds=28800)).returncode == 0


@pytest.mark.usefixtures("policies")
def test_a_pool_template_is_held_to_the_same_limits(cluster: ClusterHandle) -> None:
    refused = create(cluster, "team-a", pool("long", sessionTimeoutSeconds=7200))
    assert refused.stderr.strip() == refusal(
        "codeinterpretersessionpools",
        "long",
        "spec.template.spec.sessionTimeoutSeconds: 7200 exceeds 3600, the spec.limits.maxSessionTimeoutSeconds "
        "of AgentCoreAccessPolicy a, which binds namespace team-a",
    )
    assert create(cluster, "team-a", pool("ok", sessionTimeoutSeconds=1800)).returncode == 0
    changed = cluster.kubectl(
        "patch",
        "-n",
        "team-a",
        "cisp",
        "ok",
        "--type=merge",
        "-p",
        json.dumps({"spec": {"template": {"spec": {"codeInterpreterIdentifier": "other_x-abcdefghij"}}}}),
        check=False,
    )
    assert "spec.template.spec.codeInterpreterIdentifier: other_x-abcdefghij is not in" in changed.stderr
    # Scaling does not touch the template: not checked again.
    cluster.kubectl("scale", "-n", "team-a", "cisp/ok", "--replicas=3")


@pytest.mark.usefixtures("policies")
def test_sessions_admitted_before_a_limit_can_still_be_updated(cluster: ClusterHandle) -> None:
    # "before-any-policy" (28800 s) predates policy a: the operator's finalizer and label
    # updates must go through; only the operator decides what happens to it.
    labelled = cluster.kubectl("label", "-n", "team-a", "cis", "before-any-policy", "seen=yes", check=False)
    assert labelled.returncode == 0, labelled.stderr
