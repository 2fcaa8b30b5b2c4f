"""CodeInterpreter resources end to end: kubectl -> emulated cluster -> operator -> AgentCore emulator.

Every assertion is on what a user or AWS would see: the resource through the API server
(and kubectl's table), and the emulator's own interpreter and session tables.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from agentcore_operator.local.agentcore.testing import EmulatorHandle
from agentcore_operator.local.cluster.testing import ClusterHandle
from agentcore_operator.local.harness import RunningOperator, SharedClock

from .conftest import eventually, session_manifest

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:corp-ca-AbCdEf"
EFS = {
    "efsConfiguration": {
        "fileSystemArn": "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-0123456789abcdef0",
        "accessPointArn": "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123456789abcdef0",
        "mountPath": "/mnt/efs",
    }
}


def interpreter_manifest(name: str, /, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "agentcore.dev/v1alpha1",
        "kind": "CodeInterpreter",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def apply(cluster: ClusterHandle, manifest: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))


def body_of(cluster: ClusterHandle, plural: str, name: str) -> dict[str, Any]:
    return cluster.get(plural, "default", name) or {}


def status_of(cluster: ClusterHandle, plural: str, name: str) -> dict[str, Any]:
    return dict(body_of(cluster, plural, name).get("status") or {})


def reason_of(status: dict[str, Any]) -> str | None:
    return next((c["reason"] for c in status.get("conditions", []) if c["type"] == "Ready"), None)


def wait_interpreter(cluster: ClusterHandle, name: str, phase: str, timeout: float = 20.0) -> dict[str, Any]:
    return eventually(
        lambda: (s := status_of(cluster, "codeinterpreters", name)).get("phase") == phase and s,
        timeout=timeout,
        message=f"interpreter {name} {phase}",
    )


def emulated(emulator: EmulatorHandle, interpreter_id: str) -> dict[str, Any] | None:
    return next((i for i in emulator.emulator.backend.interpreters() if i["id"] == interpreter_id), None)


def custom_interpreters(emulator: EmulatorHandle) -> list[dict[str, Any]]:
    return [
        i for i in emulator.emulator.backend.interpreters() if i["arn"].find(":aws:code-interpreter/") < 0
    ]


def test_interpreter_goes_ready_with_the_emulators_id(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    vpc = {
        "networkMode": "VPC",
        "vpcConfig": {"subnets": ["subnet-0123456789abcdef0"], "securityGroups": ["sg-0123456789abcdef0"]},
    }
    apply(
        cluster,
        interpreter_manifest(
            "vpc",
            description="data science in the VPC",
            networkConfiguration=vpc,
            certificates=[{"location": {"secretsManager": {"secretArn": SECRET}}}],
            filesystemConfigurations=[EFS],
            tags={"team": "ds"},
        ),
    )
    status = wait_interpreter(cluster, "vpc", "Ready")
    (created,) = custom_interpreters(emulator)
    assert status["codeInterpreterId"] == created["id"] and status["codeInterpreterArn"] == created["arn"]
    assert status["status"] == "READY" and reason_of(status) == "InterpreterReady"
    assert created["name"] == "default_vpc" and created["networkConfiguration"] == vpc
    assert created["filesystemConfigurations"] == [EFS] and created["tags"] == {"team": "ds"}
    table = cluster.kubectl("get", "codeinterpreters", "-o", "wide").stdout
    assert created["id"] in table and "InterpreterReady" in table and "VPC" in table
    assert created["id"] in cluster.kubectl("get", "ci").stdout  # the short name

    # Tags are the one mutable member: the operator applies the difference.
    cluster.kubectl(
        "patch", "codeinterpreter", "vpc", "--type=merge", "-p", '{"spec":{"tags":{"team":null,"cost":"42"}}}'
    )
    eventually(lambda: emulated(emulator, created["id"])["tags"] == {"cost": "42"}, message="tags synced")
    assert emulator.call_count("TagResource", "Success") == 1
    assert emulator.call_count("UntagResource", "Success") == 1
    assert emulator.call_count("CreateCodeInterpreter") == 1


def test_session_by_reference_waits_then_starts_and_the_interpreter_is_protected_while_in_use(
    cluster: ClusterHandle, emulator: EmulatorHandle, start_operator: Any, clock: SharedClock
) -> None:
    emulator.emulator.config.create_delay = 2.0
    with start_operator():
        session = session_manifest(
            "on-ref",
            codeInterpreterRef={"name": "tools"},
            filesystemConfigurations=[EFS],
            certificates=[{"location": {"secretsManager": {"secretArn": SECRET}}}],
        )
        apply(cluster, session)
        waiting = eventually(
            lambda: (
                (s := status_of(cluster, "codeinterpretersessions", "on-ref")).get("phase") == "Pending" and s
            ),
            message="session pending",
        )
        assert reason_of(waiting) == "InterpreterRefNotReady" and "does not exist" in waiting["message"]
        apply(cluster, interpreter_manifest("tools"))
        creating = eventually(
            lambda: (
                "Creating" in (status_of(cluster, "codeinterpretersessions", "on-ref").get("message") or "")
            ),
            message="session message names the interpreter's state",
        )
        assert creating
        clock.advance(2.5)
        interpreter = wait_interpreter(cluster, "tools", "Ready")
        ready = eventually(
            lambda: (
                (s := status_of(cluster, "codeinterpretersessions", "on-ref")).get("phase") == "Ready" and s
            ),
            message="session ready",
        )
        assert ready["codeInterpreterIdentifier"] == interpreter["codeInterpreterId"]
        (live,) = emulator.sessions()
        assert live["codeInterpreterIdentifier"] == interpreter["codeInterpreterId"]
        assert live["filesystemConfigurations"] == [EFS]
        got = emulator.client().get_code_interpreter_session(
            codeInterpreterIdentifier=interpreter["codeInterpreterId"], sessionId=live["sessionId"]
        )
        assert got["filesystemConfigurations"] == [EFS] and got["certificates"][0]["location"]

        # In use: deleting the interpreter keeps it, and says by whom.
        cluster.kubectl("delete", "codeinterpreter", "tools", "--wait=false")
        in_use = eventually(
            lambda: reason_of(s := status_of(cluster, "codeinterpreters", "tools")) == "InUse" and s,
            message="interpreter InUse",
        )
        assert in_use["phase"] == "Deleting" and "on-ref" in in_use["message"]
        assert emulated(emulator, interpreter["codeInterpreterId"])["status"] == "READY"
        assert emulator.call_count("DeleteCodeInterpreter") == 0

        cluster.kubectl("delete", "codeinterpretersession", "on-ref", "--wait=false")
        eventually(lambda: emulator.call_count("DeleteCodeInterpreter", "Success") == 1, message="deleted")
        clock.advance(2.5)
        eventually(
            lambda: not body_of(cluster, "codeinterpreters", "tools"), message="interpreter resource gone"
        )
        assert emulated(emulator, interpreter["codeInterpreterId"])["status"] == "DELETED"
        assert emulator.sessions()[0]["status"] == "TERMINATED"


def test_adoption_of_an_interpreter_made_with_boto3_and_retain_leaves_it(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    control = emulator.client("bedrock-agentcore-control")
    made = control.create_code_interpreter(
        name="handmade", networkConfiguration={"networkMode": "SANDBOX"}, tags={"owner": "me"}
    )
    apply(
        cluster,
        interpreter_manifest(
            "adopted",
            adoptCodeInterpreterId=made["codeInterpreterId"],
            deletionPolicy="Retain",
            tags={"owner": "me", "managed-by": "agentcore-operator"},
        ),
    )
    status = wait_interpreter(cluster, "adopted", "Ready")
    assert status["codeInterpreterId"] == made["codeInterpreterId"]
    eventually(
        lambda: (
            emulated(emulator, made["codeInterpreterId"])["tags"]
            == {"owner": "me", "managed-by": "agentcore-operator"}
        ),
        message="adopted interpreter's tags follow the spec",
    )
    assert emulator.call_count("CreateCodeInterpreter") == 1  # boto3's, not ours
    # Events are posted at the end of the pass that made the calls: wait for them, not race them.
    eventually(lambda: "Adopted" in [e["reason"] for e in cluster.events("default")], message="Adopted event")

    cluster.kubectl("delete", "codeinterpreter", "adopted")
    eventually(lambda: not body_of(cluster, "codeinterpreters", "adopted"), message="resource gone")
    assert emulator.call_count("DeleteCodeInterpreter") == 0
    assert emulated(emulator, made["codeInterpreterId"])["status"] == "READY"


@pytest.mark.parametrize("emulator_config", [{"fail_create": frozenset({"default_broken"})}], indirect=True)
def test_a_failed_create_is_failed_with_the_reason_and_deletes_cleanly(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    apply(cluster, interpreter_manifest("broken"))
    status = wait_interpreter(cluster, "broken", "Failed")
    assert reason_of(status) == "CreateFailed" and "--fail-create" in status["message"]
    assert status["status"] == "CREATE_FAILED"
    cluster.kubectl("delete", "codeinterpreter", "broken")
    assert not body_of(cluster, "codeinterpreters", "broken")
    assert emulated(emulator, status["codeInterpreterId"])["status"] in ("DELETING", "DELETED")
