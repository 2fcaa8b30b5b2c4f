"""Run Python in the code interpreter session a CodeInterpreterSession resource holds.

A workload never starts its own session: the operator owns it. This program finds the
session the operator wrote down, attaches to it with the official `bedrock-agentcore`
SDK, runs code in it, and prints the code's output. It looks in two places, in order:

1. the session export, a ConfigMap mounted as a volume (`SESSION_EXPORT_DIR`, default
   /etc/agentcore-session): one file per key, `sessionId`, `codeInterpreterIdentifier`,
   `region`, `expiresAt`, `phase`. The kubelet refreshes those files when the ConfigMap
   changes, so reading them again picks up a renewed session;
2. the resource's own `.status` through the Kubernetes API (`SESSION_NAME`,
   `SESSION_NAMESPACE`), in-cluster or with the current kubeconfig. This needs `get` on
   `codeinterpretersessions.agentcore.dev`.

With `--follow` it keeps going, once every `--interval` seconds: when the operator renews
the session the id changes, and the next run uses the new one. A call that finds the
session ended (404) waits for the next id instead of failing.

The same code runs against AWS and against the local emulator: the SDK reads
BEDROCK_AGENTCORE_DP_ENDPOINT when it is imported and uses it as the endpoint.

    pip install bedrock-agentcore kubernetes
    SESSION_NAME=analysis python run_code.py --code 'print(sum(range(10)))'
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_EXPORT_DIR = "/etc/agentcore-session"
GROUP, VERSION, PLURAL = "agentcore.dev", "v1alpha1", "codeinterpretersessions"


@dataclass(frozen=True)
class SessionRef:
    session_id: str
    interpreter: str
    region: str
    source: str


def from_export(directory: Path) -> SessionRef | None:
    """The mounted export, if it is there and names a Ready session."""

    def key(name: str) -> str:
        path = directory / name
        return path.read_text().strip() if path.is_file() else ""

    session_id = key("sessionId")
    if not session_id or key("phase") not in ("", "Ready"):
        return None
    return SessionRef(
        session_id,
        key("codeInterpreterIdentifier") or "aws.codeinterpreter.v1",
        key("region") or os.environ.get("AWS_REGION", "us-east-1"),
        f"export {directory}",
    )


def from_status(name: str, namespace: str) -> SessionRef | None:
    """The resource's status through the Kubernetes API, if it is Ready."""
    from kubernetes import client, config  # only needed when there is no export

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    body: dict[str, Any] = client.CustomObjectsApi().get_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name
    )
    status = body.get("status") or {}
    if status.get("phase") != "Ready" or not status.get("sessionId"):
        return None
    return SessionRef(
        status["sessionId"],
        status.get("codeInterpreterIdentifier") or "aws.codeinterpreter.v1",
        status.get("region") or os.environ.get("AWS_REGION", "us-east-1"),
        f"status of {namespace}/{name}",
    )


def find_session(export_dir: Path, name: str | None, namespace: str) -> SessionRef | None:
    found = from_export(export_dir)
    if found is None and name:
        found = from_status(name, namespace)
    return found


def wait_for_session(export_dir: Path, name: str | None, namespace: str, timeout: float) -> SessionRef:
    deadline = time.monotonic() + timeout
    while True:
        found = find_session(export_dir, name, namespace)
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            raise SystemExit(f"no Ready session within {timeout:g}s (export {export_dir}, resource {name})")
        time.sleep(1)


def run_in(session: SessionRef, code: str) -> tuple[str, bool]:
    """Attach to the session (no StartCodeInterpreterSession) and run `code`: (output, is_error)."""
    from bedrock_agentcore.tools.code_interpreter_client import CodeInterpreter

    interpreter = CodeInterpreter(session.region)
    interpreter.identifier = session.interpreter  # with both set, invoke() starts nothing
    interpreter.session_id = session.session_id
    response = interpreter.invoke("executeCode", {"code": code, "language": "python"})
    output, failed = [], False
    for event in response["stream"]:
        result = event.get("result", {})
        failed = failed or bool(result.get("isError"))
        structured = result.get("structuredContent") or {}
        if structured:
            output.append(structured.get("stdout", "") + structured.get("stderr", ""))
        else:
            output.extend(block.get("text", "") for block in result.get("content", []))
    return "".join(output), failed


def session_ended(error: Exception) -> bool:
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code") == "ResourceNotFoundException"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--code", default=os.environ.get("CODE", "print(sum(range(10)))"))
    parser.add_argument("--export-dir", default=os.environ.get("SESSION_EXPORT_DIR", DEFAULT_EXPORT_DIR))
    parser.add_argument("--name", default=os.environ.get("SESSION_NAME"), help="the CodeInterpreterSession")
    parser.add_argument("--namespace", default=os.environ.get("SESSION_NAMESPACE", "default"))
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for a Ready session")
    parser.add_argument("--follow", action="store_true", help="keep running the code, following renewals")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between runs with --follow")
    parser.add_argument(
        "--runs", type=int, default=0, help="with --follow, stop after this many runs (0: never)"
    )
    args = parser.parse_args(argv)

    export_dir = Path(args.export_dir)
    current: SessionRef | None = None
    runs = 0
    while True:
        session = wait_for_session(export_dir, args.name, args.namespace, args.wait)
        if current is None or session.session_id != current.session_id:
            verb = "using" if current is None else f"renewed: {current.session_id} ->"
            print(f"session {verb} {session.session_id} (from {session.source})", file=sys.stderr, flush=True)
            current = session
        try:
            output, failed = run_in(session, args.code)
        except Exception as error:
            if args.follow and session_ended(error):
                print(f"session {session.session_id} has ended; waiting for its renewal", file=sys.stderr)
                time.sleep(min(args.interval, 1.0))
                continue
            raise
        print(output, end="" if output.endswith("\n") else "\n", flush=True)
        runs += 1
        if not args.follow:
            return 1 if failed else 0
        if args.runs and runs >= args.runs:
            return 0
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
