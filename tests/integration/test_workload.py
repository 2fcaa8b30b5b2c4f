"""The loop closed: a session applied with kubectl is one a workload can run code in.

The operator runs in-process against both stand-ins; the workload is
examples/workload/run_code.py, run as its own process with the official SDK, pointed at
the emulator the way a pod would be pointed at AWS (only the endpoint differs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from agentcore_operator.local.agentcore.testing import EmulatorHandle
from agentcore_operator.local.cluster.testing import ClusterHandle
from agentcore_operator.local.harness import RunningOperator

from .conftest import eventually, session_manifest

PROGRAM = Path(__file__).resolve().parents[2] / "examples" / "workload" / "run_code.py"
BUILTIN = "aws.codeinterpreter.v1"


def workload_env(
    emulator: EmulatorHandle, cluster: ClusterHandle, export_dir: Path, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BEDROCK_AGENTCORE_"))}
    env.update(
        BEDROCK_AGENTCORE_DP_ENDPOINT=emulator.endpoint_url,
        BEDROCK_AGENTCORE_CP_ENDPOINT=emulator.endpoint_url,
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="x",
        AWS_MAX_ATTEMPTS="1",
        KUBECONFIG=str(cluster.kubeconfig),
        SESSION_EXPORT_DIR=str(export_dir),
        **extra,
    )
    return env


def ready_status(cluster: ClusterHandle, name: str) -> dict[str, Any]:
    body = eventually(
        lambda: (
            (b := cluster.get("codeinterpretersessions", "default", name))
            and (b.get("status") or {}).get("phase") == "Ready"
            and b
        ),
        message=f"{name} Ready",
    )
    status: dict[str, Any] = body["status"]
    return status


def export(directory: Path, status: dict[str, Any]) -> None:
    """What the session export ConfigMap looks like once the kubelet has mounted it."""
    directory.mkdir(exist_ok=True)
    for key in ("sessionId", "codeInterpreterIdentifier", "region", "expiresAt", "phase"):
        (directory / key).write_text(str(status.get(key, "")))


def test_a_kubectl_applied_session_runs_the_workloads_code(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator, tmp_path: Path
) -> None:
    manifest = session_manifest("workload", sessionTimeoutSeconds=600)
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    status = ready_status(cluster, "workload")
    starts = emulator.call_count("StartCodeInterpreterSession", "Success")
    done = subprocess.run(
        [sys.executable, str(PROGRAM), "--code", "print(sum(range(10)))"],
        env=workload_env(emulator, cluster, tmp_path / "no-export", SESSION_NAME="workload"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "45\n"
    assert f"session using {status['sessionId']} (from status of default/workload)" in done.stderr
    assert emulator.call_count("StartCodeInterpreterSession", "Success") == starts  # attached, never started
    assert emulator.call_count("InvokeCodeInterpreter", "Success") == 1


def test_the_workload_reads_the_export_and_follows_a_renewal(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator, tmp_path: Path
) -> None:
    cluster.kubectl(
        "apply", "-f", "-", input=json.dumps(session_manifest("first", sessionTimeoutSeconds=600))
    )
    first = ready_status(cluster, "first")
    cluster.kubectl(
        "apply", "-f", "-", input=json.dumps(session_manifest("second", sessionTimeoutSeconds=600))
    )
    second = ready_status(cluster, "second")
    data = emulator.client()
    for status, marker in ((first, "one"), (second, "two")):
        response = data.invoke_code_interpreter(
            codeInterpreterIdentifier=BUILTIN,
            sessionId=status["sessionId"],
            name="executeCode",
            arguments={"code": f"marker = {marker!r}"},
        )
        list(response["stream"])
    export_dir = tmp_path / "export"
    export(export_dir, first)
    process = subprocess.Popen(
        [
            sys.executable,
            str(PROGRAM),
            "--follow",
            "--interval",
            "0.3",
            "--runs",
            "3",
            "--code",
            "print(marker)",
        ],
        env=workload_env(emulator, cluster, export_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "one\n"
        export(export_dir, second)  # the operator renewed: the export names the new session
        time.sleep(0.1)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert stdout.splitlines()[-1] == "two"
    assert f"renewed: {first['sessionId']} -> {second['sessionId']}" in stderr
    assert f"from export {export_dir}" in stderr


def test_the_job_manifest_is_valid_and_wires_what_the_program_reads() -> None:
    import kubernetes_validate
    import kubernetes_validate.utils
    import yaml

    documents = list(yaml.safe_load_all((PROGRAM.parent / "job.yaml").read_text()))
    assert [d["kind"] for d in documents] == ["ServiceAccount", "Role", "RoleBinding", "Job"]
    for document in documents:
        kubernetes_validate.validate(document, kubernetes_validate.utils.latest_version(), strict=True)
    pod = documents[-1]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert env["SESSION_EXPORT_DIR"] == mounts["session"]
    assert env["SESSION_NAME"] == "analysis"  # examples/basic-session.yaml
    assert [r["resources"] for r in documents[1]["rules"]] == [["codeinterpretersessions"]]
    source = PROGRAM.read_text()
    assert all(f'"{name}"' in source for name in env if name != "HOME")


def test_the_export_is_used_only_while_it_names_a_ready_session(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_code", PROGRAM)
    assert spec is not None and spec.loader is not None
    program = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = program  # dataclasses look their module up there
    spec.loader.exec_module(program)
    assert program.from_export(tmp_path / "absent") is None
    status = {"sessionId": "S1", "codeInterpreterIdentifier": "ci-a1b2c3d4e5", "region": "eu-west-1"}
    export(tmp_path, {**status, "phase": "Starting"})
    assert program.from_export(tmp_path) is None
    export(tmp_path, {**status, "phase": "Ready"})
    found = program.from_export(tmp_path)
    assert (found.session_id, found.interpreter, found.region) == ("S1", "ci-a1b2c3d4e5", "eu-west-1")
