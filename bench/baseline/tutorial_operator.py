"""The baseline: a CodeInterpreterSession operator written the way a kopf tutorial would.

One Start per create, one timer Get per session every 10 seconds, one Stop per delete,
boto3 called straight from sync handlers, no pacing, no batching, kopf's default retries.
It exists only so bench/scale.py can show what our design saves; never use it.

Run: kopf run bench/baseline/tutorial_operator.py --standalone --all-namespaces
Environment: AGENTCORE_ENDPOINT_URL, AWS_REGION, BASELINE_TIMER_INTERVAL (default 10).
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import kopf

INTERVAL = float(os.environ.get("BASELINE_TIMER_INTERVAL", "10"))
client = boto3.client(
    "bedrock-agentcore",
    region_name=os.environ.get("AWS_REGION", "us-east-1"),
    endpoint_url=os.environ.get("AGENTCORE_ENDPOINT_URL"),
)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf.progress")
    settings.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(
        field="status.kopf.lastHandledConfiguration"
    )
    settings.posting.enabled = False


@kopf.on.create("agentcore.dev", "v1alpha1", "codeinterpretersessions")
def create(spec: kopf.Spec, name: str, namespace: str, patch: kopf.Patch, **_: Any) -> None:
    response = client.start_code_interpreter_session(
        codeInterpreterIdentifier=spec.get("codeInterpreterIdentifier", "aws.codeinterpreter.v1"),
        name=f"{namespace}-{name}",
        sessionTimeoutSeconds=spec.get("sessionTimeoutSeconds", 900),
    )
    patch.status["sessionId"] = response["sessionId"]
    patch.status["phase"] = "Starting"


@kopf.timer("agentcore.dev", "v1alpha1", "codeinterpretersessions", interval=INTERVAL)
def poll(spec: kopf.Spec, status: kopf.Status, patch: kopf.Patch, **_: Any) -> None:
    session_id = status.get("sessionId")
    if not session_id:
        return
    response = client.get_code_interpreter_session(
        codeInterpreterIdentifier=spec.get("codeInterpreterIdentifier", "aws.codeinterpreter.v1"),
        sessionId=session_id,
    )
    patch.status["phase"] = "Ready" if response.get("status") == "READY" else "Terminated"


@kopf.on.delete("agentcore.dev", "v1alpha1", "codeinterpretersessions")
def delete(spec: kopf.Spec, status: kopf.Status, **_: Any) -> None:
    session_id = status.get("sessionId")
    if session_id:
        client.stop_code_interpreter_session(
            codeInterpreterIdentifier=spec.get("codeInterpreterIdentifier", "aws.codeinterpreter.v1"),
            sessionId=session_id,
        )
