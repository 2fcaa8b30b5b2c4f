"""Custom interpreters' configuration and tags, through boto3: what the operator's CodeInterpreter
kind relies on, as the botocore model and AWS define it.

Time moves by the emulator's clock, never by sleeping.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from agentcore_operator.local.agentcore import EmulatorClock
from agentcore_operator.local.agentcore.testing import EmulatorHandle

from .conftest import BUILTIN_ARN, StartEmulator, code_of, error_of, start, token

VPC = {
    "networkMode": "VPC",
    "vpcConfig": {"subnets": ["subnet-0123456789abcdef0"], "securityGroups": ["sg-0123456789abcdef0"]},
}
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:corp-ca-AbCdEf"
CERTIFICATES = [{"location": {"secretsManager": {"secretArn": SECRET}}}]
EFS = {
    "efsConfiguration": {
        "fileSystemArn": "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-0123456789abcdef0",
        "accessPointArn": "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123456789abcdef0",
        "mountPath": "/mnt/efs",
    }
}


def create(control: Any, name: str = "tools", **params: Any) -> dict[str, Any]:
    params.setdefault("networkConfiguration", {"networkMode": "SANDBOX"})
    result: dict[str, Any] = control.create_code_interpreter(name=name, **params)
    return result


def test_create_stores_and_get_echoes_everything(control: Any, emulator: EmulatorHandle) -> None:
    made = create(
        control,
        networkConfiguration=VPC,
        certificates=CERTIFICATES,
        filesystemConfigurations=[EFS],
        executionRoleArn="arn:aws:iam::123456789012:role/interpreter",
        description="all of it",
        tags={"team": "a"},
    )
    got = control.get_code_interpreter(codeInterpreterId=made["codeInterpreterId"])
    assert got["networkConfiguration"] == VPC
    assert got["certificates"] == CERTIFICATES and got["filesystemConfigurations"] == [EFS]
    assert got["executionRoleArn"].endswith("role/interpreter") and got["description"] == "all of it"
    # The introspection endpoint shows it too, tags included.
    shown = requests.get(f"{emulator.endpoint_url}/_emulator/interpreters", timeout=5).json()["interpreters"]
    (mine,) = [i for i in shown if i["id"] == made["codeInterpreterId"]]
    assert mine["tags"] == {"team": "a"} and mine["networkConfiguration"] == VPC


@pytest.mark.parametrize(
    ("network", "field"),
    [
        ({"networkMode": "VPC"}, "networkConfiguration.vpcConfig"),
        ({**VPC, "vpcConfig": {**VPC["vpcConfig"], "subnets": ["subnet-xyz"]}}, "subnets"),
    ],
)
def test_network_configuration_is_validated(control: Any, network: dict[str, Any], field: str) -> None:
    error = error_of(lambda: create(control, networkConfiguration=network))
    assert error["Error"]["Code"] == "ValidationException" and field in error["Error"]["Message"] + str(error)


def test_a_filesystem_is_exactly_one_kind_and_mount_paths_are_unique(
    control: Any, data: Any, emulator: EmulatorHandle
) -> None:
    # botocore refuses a union with two members itself; a client that does not check must
    # meet the same refusal from the service.
    unchecked = emulator.client("bedrock-agentcore-control", parameter_validation=False)
    both = {**EFS, "s3FilesConfiguration": {**EFS["efsConfiguration"]}}
    assert code_of(lambda: create(unchecked, filesystemConfigurations=[both]))[0] == "ValidationException"
    twice = [EFS, EFS]
    assert code_of(lambda: create(control, filesystemConfigurations=twice))[0] == "ValidationException"
    assert code_of(lambda: start(data, filesystemConfigurations=twice))[0] == "ValidationException"


def test_sessions_store_certificates_and_filesystems_and_get_echoes_them(data: Any) -> None:
    started = start(data, certificates=CERTIFICATES, filesystemConfigurations=[EFS], clientToken=token(1))
    got = data.get_code_interpreter_session(
        codeInterpreterIdentifier="aws.codeinterpreter.v1", sessionId=started["sessionId"]
    )
    assert got["certificates"] == CERTIFICATES and got["filesystemConfigurations"] == [EFS]
    # They are part of the Start's parameters: the same token with other mounts is a conflict.
    other = [{"efsConfiguration": {**EFS["efsConfiguration"], "mountPath": "/mnt/other"}}]
    assert code_of(lambda: start(data, filesystemConfigurations=other, clientToken=token(1))) == (
        "ConflictException",
        409,
    )


def test_start_on_a_deleting_or_deleted_interpreter_is_refused(
    start_emulator: StartEmulator, clock: EmulatorClock
) -> None:
    emulator = start_emulator(create_delay=5)
    control, data = emulator.client("bedrock-agentcore-control"), emulator.client()
    made = create(control)
    clock.advance(5)
    interpreter = made["codeInterpreterId"]
    control.delete_code_interpreter(codeInterpreterId=interpreter)
    assert code_of(lambda: start(data, codeInterpreterIdentifier=interpreter)) == ("ConflictException", 409)
    clock.advance(5)
    assert code_of(lambda: start(data, codeInterpreterIdentifier=interpreter)) == (
        "ResourceNotFoundException",
        404,
    )


def test_tags_are_set_removed_and_listed(control: Any) -> None:
    made = create(control, tags={"team": "a", "stage": "dev"})
    arn = made["codeInterpreterArn"]
    assert control.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "a", "stage": "dev"}
    control.tag_resource(resourceArn=arn, tags={"team": "b", "cost": "42"})
    control.untag_resource(resourceArn=arn, tagKeys=["stage", "absent"])
    assert control.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "b", "cost": "42"}
    control.untag_resource(resourceArn=arn, tagKeys=["team", "cost"])
    assert control.list_tags_for_resource(resourceArn=arn)["tags"] == {}


def test_tag_limits_and_unknown_resources(control: Any) -> None:
    arn = create(control)["codeInterpreterArn"]
    too_many = {f"k{i}": "v" for i in range(51)}
    assert code_of(lambda: control.tag_resource(resourceArn=arn, tags=too_many))[0] == "ValidationException"
    control.tag_resource(resourceArn=arn, tags={f"k{i}": "v" for i in range(50)})
    assert (
        code_of(lambda: control.tag_resource(resourceArn=arn, tags={"one": "more"}))[0]
        == "ValidationException"
    )
    other = arn.rsplit("/", 1)[0] + "/nothing-a1b2c3d4e5"
    assert code_of(lambda: control.list_tags_for_resource(resourceArn=other)) == (
        "ResourceNotFoundException",
        404,
    )
    # The built-in interpreter's ARN has no account: the model's pattern refuses it outright.
    assert (
        code_of(lambda: control.list_tags_for_resource(resourceArn=BUILTIN_ARN))[0] == "ValidationException"
    )


def test_a_deleted_interpreter_has_no_tags(control: Any) -> None:
    made = create(control, tags={"team": "a"})
    control.delete_code_interpreter(codeInterpreterId=made["codeInterpreterId"])  # no delay: DELETED
    assert code_of(lambda: control.list_tags_for_resource(resourceArn=made["codeInterpreterArn"]))[0] == (
        "ResourceNotFoundException"
    )
