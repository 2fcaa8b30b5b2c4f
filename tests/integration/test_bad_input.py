"""Bad input, table-driven: the API server refuses it with a clear message, or the status says why.

Each case is a manifest (or an update) sent with the real kubectl to the emulated cluster
serving our CRD. Nothing here may reach AgentCore as an invalid call.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from agentcore_operator.local.agentcore.testing import EmulatorHandle
from agentcore_operator.local.cluster.testing import ClusterHandle, running_cluster

from .conftest import eventually, session_manifest

Spec = dict[str, Any]
Mutation = Callable[[dict[str, Any]], None]

ARN_WEST = "arn:aws:bedrock-agentcore:us-west-2:123456789012:code-interpreter-custom/datasci-a1b2c3d4e5"


def spec_with(**fields: Any) -> Mutation:
    def mutate(manifest: dict[str, Any]) -> None:
        manifest["spec"].update(fields)

    return mutate


def set_path(path: str, value: Any) -> Mutation:
    def mutate(manifest: dict[str, Any]) -> None:
        target = manifest
        *parents, leaf = path.split(".")
        for part in parents:
            target = target[part]
        target[leaf] = value

    return mutate


# (id, mutation of a valid manifest, substrings the error must contain)
CREATE_CASES: list[tuple[str, Mutation, tuple[str, ...]]] = [
    ("timeout-below-60", spec_with(sessionTimeoutSeconds=59), ("spec.sessionTimeoutSeconds", "60")),
    ("timeout-zero", spec_with(sessionTimeoutSeconds=0), ("spec.sessionTimeoutSeconds", "60")),
    ("timeout-negative", spec_with(sessionTimeoutSeconds=-5), ("spec.sessionTimeoutSeconds", "60")),
    ("timeout-above-8h", spec_with(sessionTimeoutSeconds=28801), ("spec.sessionTimeoutSeconds", "28800")),
    ("timeout-huge", spec_with(sessionTimeoutSeconds=10**12), ("spec.sessionTimeoutSeconds",)),
    ("timeout-string", spec_with(sessionTimeoutSeconds="900"), ("spec.sessionTimeoutSeconds", "integer")),
    ("timeout-float", spec_with(sessionTimeoutSeconds=900.5), ("spec.sessionTimeoutSeconds", "integer")),
    ("policy-lowercase", spec_with(deletionPolicy="delete"), ("spec.deletionPolicy", "Retain")),
    ("policy-orphan", spec_with(deletionPolicy="Orphan"), ("spec.deletionPolicy", "Delete")),
    ("policy-number", spec_with(deletionPolicy=1), ("spec.deletionPolicy", "string")),
    ("name-empty", spec_with(sessionName=""), ("spec.sessionName",)),
    ("name-101-chars", spec_with(sessionName="n" * 101), ("spec.sessionName", "100")),
    ("name-number", spec_with(sessionName=123), ("spec.sessionName", "string")),
    ("interpreter-empty", spec_with(codeInterpreterIdentifier=""), ("spec.codeInterpreterIdentifier",)),
    (
        "interpreter-spaces",
        spec_with(codeInterpreterIdentifier="my interpreter"),
        ("spec.codeInterpreterIdentifier",),
    ),
    (
        "interpreter-short-suffix",
        spec_with(codeInterpreterIdentifier="custom-short"),
        ("spec.codeInterpreterIdentifier",),
    ),
    (
        "interpreter-digit-first",
        spec_with(codeInterpreterIdentifier="1abc-a1b2c3d4e5"),
        ("spec.codeInterpreterIdentifier",),
    ),
    (
        "interpreter-s3-arn",
        spec_with(codeInterpreterIdentifier="arn:aws:s3:::bucket"),
        ("spec.codeInterpreterIdentifier",),
    ),
    (
        "interpreter-arn-bad-account",
        spec_with(
            codeInterpreterIdentifier="arn:aws:bedrock-agentcore:us-east-1:12345:code-interpreter/aws.codeinterpreter.v1"
        ),
        ("spec.codeInterpreterIdentifier",),
    ),
    (
        "interpreter-too-long",
        spec_with(codeInterpreterIdentifier="a" * 3000),
        ("spec.codeInterpreterIdentifier",),
    ),
    (
        "interpreter-number",
        spec_with(codeInterpreterIdentifier=7),
        ("spec.codeInterpreterIdentifier", "string"),
    ),
    ("region-uppercase", spec_with(region="US-EAST-1"), ("spec.region",)),
    ("region-no-dashes", spec_with(region="useast1"), ("spec.region",)),
    ("region-empty", spec_with(region=""), ("spec.region",)),
    ("region-too-long", spec_with(region="us-" + "east" * 10 + "-1"), ("spec.region",)),
    (
        "arn-in-other-region",
        spec_with(codeInterpreterIdentifier=ARN_WEST, region="us-east-1"),
        ("another region than spec.region",),
    ),
    # restartPolicy, renewal, TTL and export (issue 12)
    ("restart-policy-unknown", spec_with(restartPolicy="OnFailure"), ("spec.restartPolicy", "Always")),
    (
        "renew-before-negative",
        spec_with(restartPolicy="Always", renewBeforeSeconds=-1),
        ("spec.renewBeforeSeconds", "0"),
    ),
    (
        "renew-before-above-an-hour",
        spec_with(restartPolicy="Always", renewBeforeSeconds=3601),
        ("spec.renewBeforeSeconds", "3600"),
    ),
    (
        "renew-before-not-below-timeout",
        spec_with(restartPolicy="Always", sessionTimeoutSeconds=60, renewBeforeSeconds=60),
        ("spec.renewBeforeSeconds", "less than sessionTimeoutSeconds"),
    ),
    (
        "renew-before-without-always",
        spec_with(renewBeforeSeconds=20),
        ("spec.renewBeforeSeconds", "restartPolicy Always"),
    ),
    ("renew-grace-negative", spec_with(renewGraceSeconds=-1), ("spec.renewGraceSeconds", "0")),
    ("renew-grace-above-600", spec_with(renewGraceSeconds=601), ("spec.renewGraceSeconds", "600")),
    ("ttl-negative", spec_with(ttlSecondsAfterFinished=-1), ("spec.ttlSecondsAfterFinished", "0")),
    (
        "ttl-with-always",
        spec_with(restartPolicy="Always", ttlSecondsAfterFinished=5),
        ("spec.ttlSecondsAfterFinished", "restartPolicy Always"),
    ),
    (
        "export-name-not-dns-1123",
        spec_with(export={"configMapName": "Session_Info"}),
        ("spec.export.configMapName",),
    ),
    (
        "export-name-too-long",
        spec_with(export={"configMapName": "a" * 254}),
        ("spec.export.configMapName", "253"),
    ),
    (
        "export-unknown-field",
        spec_with(export={"secretName": "x"}),
        ('unknown field "spec.export.secretName"',),
    ),
    ("spec-string", set_path("spec", "everything"), ("spec", "object")),
    ("unknown-field", spec_with(timeoutMinutes=5), ('unknown field "spec.timeoutMinutes"',)),
    ("name-uppercase", set_path("metadata.name", "Bad_Name"), ("metadata.name", "RFC 1123")),
    ("name-too-long", set_path("metadata.name", "x" * 254), ("metadata.name",)),
]

# (id, first spec, second spec, substrings): the second apply must be refused.
UPDATE_CASES: list[tuple[str, Spec, Spec, tuple[str, ...]]] = [
    (
        "change-timeout",
        {"sessionTimeoutSeconds": 900},
        {"sessionTimeoutSeconds": 1800},
        ("sessionTimeoutSeconds is immutable",),
    ),
    (
        "change-interpreter",
        {},
        {"codeInterpreterIdentifier": "datasci-a1b2c3d4e5"},
        ("codeInterpreterIdentifier is immutable",),
    ),
    ("change-name", {"sessionName": "one"}, {"sessionName": "two"}, ("sessionName is immutable",)),
    ("add-name", {}, {"sessionName": "late"}, ("sessionName is immutable",)),
    ("remove-name", {"sessionName": "early"}, {}, ("sessionName is immutable",)),
    ("change-region", {"region": "us-east-1"}, {"region": "eu-west-1"}, ("region is immutable",)),
    ("add-region", {}, {"region": "eu-west-1"}, ("region is immutable",)),
    ("remove-region", {"region": "eu-west-1"}, {}, ("region is immutable",)),
    (
        "ttl-added-to-always",
        {"restartPolicy": "Always"},
        {"restartPolicy": "Always", "ttlSecondsAfterFinished": 5},
        ("spec.ttlSecondsAfterFinished",),
    ),
    (
        "never-with-renewal",
        {"restartPolicy": "Always", "renewBeforeSeconds": 20},
        {"restartPolicy": "Never", "renewBeforeSeconds": 20},
        ("spec.renewBeforeSeconds", "restartPolicy Always"),
    ),
]


@pytest.fixture(scope="module")
def shared_cluster() -> Iterator[ClusterHandle]:
    with running_cluster() as handle:
        yield handle


def valid_manifest(name: str) -> dict[str, Any]:
    return session_manifest(name, sessionTimeoutSeconds=900)


def kubectl_apply(cluster: ClusterHandle, manifest: dict[str, Any]) -> Any:
    return cluster.kubectl("apply", "-f", "-", check=False, input=json.dumps(manifest))


@pytest.mark.parametrize(
    ("mutation", "expected"), [c[1:] for c in CREATE_CASES], ids=[c[0] for c in CREATE_CASES]
)
def test_invalid_manifest_is_refused_with_a_clear_message(
    shared_cluster: ClusterHandle,
    mutation: Mutation,
    expected: tuple[str, ...],
    request: pytest.FixtureRequest,
) -> None:
    name = request.node.callspec.id.lower()
    manifest = copy.deepcopy(valid_manifest(name))
    mutation(manifest)
    result = kubectl_apply(shared_cluster, manifest)
    assert result.returncode != 0, f"accepted: {result.stdout}"
    message = result.stderr
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert "Traceback" not in message
    assert shared_cluster.get("codeinterpretersessions", "default", manifest["metadata"]["name"]) is None


@pytest.mark.parametrize(
    ("first", "second", "expected"), [c[1:] for c in UPDATE_CASES], ids=[c[0] for c in UPDATE_CASES]
)
def test_immutable_field_change_is_refused(
    shared_cluster: ClusterHandle,
    first: Spec,
    second: Spec,
    expected: tuple[str, ...],
    request: pytest.FixtureRequest,
) -> None:
    name = f"update-{request.node.callspec.id}"
    kubectl_apply(shared_cluster, session_manifest(name, **first)).check_returncode()
    before = shared_cluster.get("codeinterpretersessions", "default", name)
    result = kubectl_apply(shared_cluster, session_manifest(name, **second))
    assert result.returncode != 0, f"accepted: {result.stdout}"
    for fragment in expected:
        assert fragment in result.stderr, f"{fragment!r} not in {result.stderr!r}"
    after = shared_cluster.get("codeinterpretersessions", "default", name)
    assert before is not None and after is not None
    assert after["spec"] == before["spec"]


def test_deletion_policy_may_change(shared_cluster: ClusterHandle) -> None:
    kubectl_apply(shared_cluster, session_manifest("policy-flip")).check_returncode()
    kubectl_apply(shared_cluster, session_manifest("policy-flip", deletionPolicy="Retain")).check_returncode()
    body = shared_cluster.get("codeinterpretersessions", "default", "policy-flip")
    assert body is not None and body["spec"]["deletionPolicy"] == "Retain"


def test_what_the_schema_cannot_catch_fails_with_a_reason_and_no_invalid_call(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: Any
) -> None:
    """A well-formed id of an interpreter that does not exist: Failed, and no Start is sent."""
    manifest = session_manifest("ghost", codeInterpreterIdentifier="ghost_interp-a1b2c3d4e5")
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    status = eventually(
        lambda: (
            (s := (cluster.get("codeinterpretersessions", "default", "ghost") or {}).get("status") or {}).get(
                "phase"
            )
            == "Failed"
            and s
        ),
        message="ghost Failed",
    )
    condition = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert condition["reason"] == "InterpreterNotFound"
    assert "ghost_interp-a1b2c3d4e5" in condition["message"]
    assert emulator.call_count("StartCodeInterpreterSession") == 0


def test_bad_flags_and_environment_fail_fast_with_one_line() -> None:
    import subprocess
    import sys
    from pathlib import Path

    cli = str(Path(sys.executable).parent / "agentcore-operator")
    cases = [
        (["run", "--region", "mars-1"], {}, "region"),
        (["run", "--region", "us-east-1", "--http-port", "http"], {}, "http-port"),
        (["run", "--region", "us-east-1", "--namespace", "Bad_NS"], {}, "namespace"),
        (["run"], {"AWS_REGION": "us-east-1", "AGENTCORE_LOG_FORMAT": "xml"}, "log"),
        (["run", "--region", "us-east-1", "--tps", "Start=fast"], {}, "tps"),
        (["run", "--region", "us-east-1", "--endpoint-url", "not a url"], {}, "endpoint"),
        (["run", "--region", "us-east-1", "--bogus"], {}, "bogus"),
    ]
    for argv, env, word in cases:
        clean = {
            k: v for k, v in __import__("os").environ.items() if not k.startswith(("AWS_", "AGENTCORE_"))
        }
        result = subprocess.run(
            [cli, *argv], env={**clean, **env}, capture_output=True, text=True, timeout=30
        )
        assert result.returncode == 2, (argv, result.returncode, result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, (argv, result.stderr)
        assert word in lines[0].lower(), (argv, lines[0])
        assert "Traceback" not in result.stderr
