"""Bad CodeInterpreter input, and bad session references and mounts: refused by the API server.

Each case is a manifest sent with the real kubectl to the emulated cluster serving our
CRDs; the refusal must name the field. The schemas of the AWS members come from the
botocore model (model_schema.py), so these cases are the model's constraints as a user
meets them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agentcore_operator.local.cluster.testing import ClusterHandle, running_cluster

from .conftest import session_manifest
from .test_interpreters import EFS, SECRET, interpreter_manifest

REPO = Path(__file__).resolve().parents[2]
VPC = {
    "networkMode": "VPC",
    "vpcConfig": {"subnets": ["subnet-0123456789abcdef0"], "securityGroups": ["sg-0123456789abcdef0"]},
}
S3_FILES = {
    "s3FilesConfiguration": {
        "fileSystemArn": "arn:aws:s3files:us-east-1:123456789012:file-system/fs-0123456789abcdef01234",
        "accessPointArn": "arn:aws:s3files:us-east-1:123456789012:file-system/fs-0123456789abcdef01234/"
        "access-point/fsap-0123456789abcdef01234",
        "mountPath": "/mnt/s3",
    }
}
CERTIFICATE = {"location": {"secretsManager": {"secretArn": SECRET}}}


def efs(**changes: str) -> dict[str, Any]:
    return {"efsConfiguration": {**EFS["efsConfiguration"], **changes}}


def efs_at(index: int) -> dict[str, Any]:
    return efs(mountPath=f"/mnt/efs{index}")


# (id, spec, substrings the refusal must contain)
INTERPRETER_CASES: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("vpc-without-vpcconfig", {"networkConfiguration": {"networkMode": "VPC"}}, ("vpcConfig is required",)),
    (
        "vpcconfig-without-vpc",
        {"networkConfiguration": {**VPC, "networkMode": "PUBLIC"}},
        ("vpcConfig is only allowed",),
    ),
    (
        "invalid-subnet-id",
        {"networkConfiguration": {**VPC, "vpcConfig": {**VPC["vpcConfig"], "subnets": ["subnet-xyz"]}}},
        ("spec.networkConfiguration.vpcConfig.subnets[0]",),
    ),
    (
        "invalid-security-group",
        {"networkConfiguration": {**VPC, "vpcConfig": {**VPC["vpcConfig"], "securityGroups": ["default"]}}},
        ("spec.networkConfiguration.vpcConfig.securityGroups[0]",),
    ),
    (
        "17-subnets",
        {
            "networkConfiguration": {
                **VPC,
                "vpcConfig": {
                    **VPC["vpcConfig"],
                    "subnets": [f"subnet-0123456789abcde{i:02d}" for i in range(17)],
                },
            }
        },
        ("spec.networkConfiguration.vpcConfig.subnets", "16"),
    ),
    (
        "vpc-without-subnets",
        {"networkConfiguration": {**VPC, "vpcConfig": {"securityGroups": ["sg-0123456789abcdef0"]}}},
        ("subnets",),
    ),
    (
        "unknown-network-mode",
        {"networkConfiguration": {"networkMode": "PRIVATE"}},
        ("spec.networkConfiguration.networkMode", "VPC"),
    ),
    ("network-without-mode", {"networkConfiguration": {}}, ("networkMode",)),
    ("name-with-a-dash", {"name": "my-tools"}, ("spec.name",)),
    ("name-digit-first", {"name": "1tools"}, ("spec.name",)),
    ("name-49-characters", {"name": "t" * 49}, ("spec.name",)),
    (
        "role-not-a-role-arn",
        {"executionRoleArn": "arn:aws:iam::123456789012:user/me"},
        ("spec.executionRoleArn",),
    ),
    ("description-empty", {"description": ""}, ("spec.description",)),
    (
        "efs-with-a-bad-arn",
        {"filesystemConfigurations": [efs(fileSystemArn="arn:aws:s3:::bucket")]},
        ("spec.filesystemConfigurations[0].efsConfiguration.fileSystemArn",),
    ),
    (
        "11-filesystem-configurations",
        {"filesystemConfigurations": [efs_at(i) for i in range(11)]},
        ("spec.filesystemConfigurations", "10"),
    ),
    (
        "efs-and-s3-files-in-one",
        {"filesystemConfigurations": [{**efs(), **S3_FILES}]},
        ("spec.filesystemConfigurations[0]", "exactly one of"),
    ),
    (
        "filesystem-of-no-kind",
        {"filesystemConfigurations": [{}]},
        ("spec.filesystemConfigurations[0]", "exactly one of"),
    ),
    (
        "mount-path-outside-mnt",
        {"filesystemConfigurations": [efs(mountPath="/data/efs")]},
        ("spec.filesystemConfigurations[0].efsConfiguration.mountPath",),
    ),
    (
        "certificate-not-a-secret-arn",
        {"certificates": [{"location": {"secretsManager": {"secretArn": "arn:aws:s3:::ca"}}}]},
        ("spec.certificates[0].location.secretsManager.secretArn",),
    ),
    ("certificates-empty", {"certificates": []}, ("spec.certificates",)),
    ("certificate-without-location", {"certificates": [{}]}, ("spec.certificates[0].location",)),
    ("tag-key-bad-characters", {"tags": {"team#1": "a"}}, ("spec.tags", "invalid characters")),
    ("51-tags", {"tags": {f"k{i}": "v" for i in range(51)}}, ("spec.tags", "50")),
    ("tag-value-not-a-string", {"tags": {"n": 1}}, ("spec.tags.n", "string")),
    ("policy-orphan", {"deletionPolicy": "Orphan"}, ("spec.deletionPolicy",)),
    ("adopt-not-an-id", {"adoptCodeInterpreterId": "nope"}, ("spec.adoptCodeInterpreterId",)),
    ("region-not-a-region", {"region": "mars"}, ("spec.region",)),
]

SESSION_CASES: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    (
        "ref-and-identifier",
        {"codeInterpreterRef": {"name": "tools"}, "codeInterpreterIdentifier": "aws.codeinterpreter.v1"},
        ("mutually exclusive",),
    ),
    ("ref-without-name", {"codeInterpreterRef": {}}, ("spec.codeInterpreterRef.name",)),
    ("ref-name-empty", {"codeInterpreterRef": {"name": ""}}, ("spec.codeInterpreterRef.name",)),
    (
        "session-efs-bad-access-point",
        {"filesystemConfigurations": [efs(accessPointArn="fsap-1")]},
        ("spec.filesystemConfigurations[0].efsConfiguration.accessPointArn",),
    ),
    (
        "session-11-filesystems",
        {"filesystemConfigurations": [efs_at(i) for i in range(11)]},
        ("spec.filesystemConfigurations", "10"),
    ),
    (
        "session-filesystem-of-both-kinds",
        {"filesystemConfigurations": [{**efs(), **S3_FILES}]},
        ("exactly one of",),
    ),
    (
        "session-certificate-bad-arn",
        {"certificates": [{"location": {"secretsManager": {"secretArn": "secret"}}}]},
        ("spec.certificates[0].location.secretsManager.secretArn",),
    ),
    ("session-201-certificates", {"certificates": [CERTIFICATE] * 201}, ("spec.certificates", "200")),
]

# (id, kind, first spec, second spec, substrings)
UPDATE_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], tuple[str, ...]]] = [
    (
        "interpreter-network",
        "CodeInterpreter",
        {},
        {"networkConfiguration": {"networkMode": "SANDBOX"}},
        ("networkConfiguration is immutable",),
    ),
    (
        "interpreter-network-mode",
        "CodeInterpreter",
        {"networkConfiguration": {"networkMode": "PUBLIC"}},
        {"networkConfiguration": {"networkMode": "SANDBOX"}},
        ("networkConfiguration is immutable",),
    ),
    ("interpreter-name", "CodeInterpreter", {"name": "one"}, {"name": "two"}, ("name is immutable",)),
    ("interpreter-description", "CodeInterpreter", {}, {"description": "new"}, ("description is immutable",)),
    (
        "interpreter-filesystems",
        "CodeInterpreter",
        {"filesystemConfigurations": [efs()]},
        {"filesystemConfigurations": [S3_FILES]},
        ("filesystemConfigurations is immutable",),
    ),
    (
        "interpreter-adopt",
        "CodeInterpreter",
        {},
        {"adoptCodeInterpreterId": "handmade-a1b2c3d4e5"},
        ("adoptCodeInterpreterId is immutable",),
    ),
    (
        "session-ref-changed",
        "CodeInterpreterSession",
        {"codeInterpreterRef": {"name": "a"}},
        {"codeInterpreterRef": {"name": "b"}},
        ("codeInterpreterRef is immutable",),
    ),
    (
        "session-ref-added",
        "CodeInterpreterSession",
        {},
        {"codeInterpreterRef": {"name": "a"}},
        ("codeInterpreterRef is immutable",),
    ),
    (
        "session-filesystems-changed",
        "CodeInterpreterSession",
        {"filesystemConfigurations": [efs()]},
        {"filesystemConfigurations": [efs(mountPath="/mnt/other")]},
        ("filesystemConfigurations is immutable",),
    ),
    (
        "session-certificates-added",
        "CodeInterpreterSession",
        {},
        {"certificates": [CERTIFICATE]},
        ("certificates is immutable",),
    ),
]


@pytest.fixture(scope="module")
def shared_cluster() -> Iterator[ClusterHandle]:
    with running_cluster() as handle:
        yield handle


def kubectl_apply(cluster: ClusterHandle, manifest: dict[str, Any]) -> Any:
    return cluster.kubectl("apply", "-f", "-", check=False, input=json.dumps(manifest))


def manifest_of(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    if kind == "CodeInterpreter":
        return interpreter_manifest(name, **copy.deepcopy(spec))
    return session_manifest(name, **copy.deepcopy(spec))


def refused(cluster: ClusterHandle, manifest: dict[str, Any], expected: tuple[str, ...]) -> None:
    result = kubectl_apply(cluster, manifest)
    assert result.returncode != 0, f"accepted: {result.stdout}"
    for fragment in expected:
        assert fragment in result.stderr, f"{fragment!r} not in {result.stderr!r}"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("spec", "expected"), [c[1:] for c in INTERPRETER_CASES], ids=[c[0] for c in INTERPRETER_CASES]
)
def test_invalid_interpreter_is_refused_naming_the_field(
    shared_cluster: ClusterHandle,
    spec: dict[str, Any],
    expected: tuple[str, ...],
    request: pytest.FixtureRequest,
) -> None:
    name = f"ci-{request.node.callspec.id}"
    refused(shared_cluster, manifest_of("CodeInterpreter", name, spec), expected)
    assert shared_cluster.get("codeinterpreters", "default", name) is None


@pytest.mark.parametrize(
    ("spec", "expected"), [c[1:] for c in SESSION_CASES], ids=[c[0] for c in SESSION_CASES]
)
def test_invalid_session_reference_or_mount_is_refused_naming_the_field(
    shared_cluster: ClusterHandle,
    spec: dict[str, Any],
    expected: tuple[str, ...],
    request: pytest.FixtureRequest,
) -> None:
    name = f"s-{request.node.callspec.id}"
    refused(shared_cluster, manifest_of("CodeInterpreterSession", name, spec), expected)
    assert shared_cluster.get("codeinterpretersessions", "default", name) is None


@pytest.mark.parametrize(
    ("kind", "first", "second", "expected"), [c[1:] for c in UPDATE_CASES], ids=[c[0] for c in UPDATE_CASES]
)
def test_immutable_change_is_refused(
    shared_cluster: ClusterHandle,
    kind: str,
    first: dict[str, Any],
    second: dict[str, Any],
    expected: tuple[str, ...],
    request: pytest.FixtureRequest,
) -> None:
    name = f"u-{request.node.callspec.id}"
    kubectl_apply(shared_cluster, manifest_of(kind, name, first)).check_returncode()
    refused(shared_cluster, manifest_of(kind, name, second), expected)


def test_valid_interpreters_and_sessions_are_accepted_and_tags_and_policy_may_change(
    shared_cluster: ClusterHandle,
) -> None:
    full = {
        "name": "full_tools",
        "description": "everything",
        "executionRoleArn": "arn:aws:iam::123456789012:role/interpreter",
        "networkConfiguration": {**VPC, "vpcConfig": {**VPC["vpcConfig"], "requireServiceS3Endpoint": False}},
        "certificates": [CERTIFICATE],
        "filesystemConfigurations": [efs(), S3_FILES],
        "tags": {"team": "a b:c/d=e+f@g-h_i.j"},
        "region": "eu-west-1",
    }
    kubectl_apply(shared_cluster, manifest_of("CodeInterpreter", "full", full)).check_returncode()
    changed = {**full, "tags": {"team": "b"}, "deletionPolicy": "Retain"}
    kubectl_apply(shared_cluster, manifest_of("CodeInterpreter", "full", changed)).check_returncode()
    body = shared_cluster.get("codeinterpreters", "default", "full")
    assert body is not None and body["spec"]["tags"] == {"team": "b"} and body["metadata"]["generation"] == 2
    session = {
        "codeInterpreterRef": {"name": "full"},
        "certificates": [CERTIFICATE],
        "filesystemConfigurations": [efs()],
    }
    kubectl_apply(
        shared_cluster, manifest_of("CodeInterpreterSession", "on-full", session)
    ).check_returncode()


def test_the_examples_are_accepted(shared_cluster: ClusterHandle) -> None:
    for path in sorted((REPO / "examples" / "interpreters").glob("*.yaml")):
        shared_cluster.kubectl("apply", "--dry-run=server", "-f", str(path))
