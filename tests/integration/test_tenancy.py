"""Tenancy through kubectl and both stand-ins (issue 16): namespaces bound to AWS accounts.

Three namespaces bound to two accounts (roles the operator assumes through STS) and the
operator's own; the emulator keeps each account's sessions apart, and its introspection
(`/_emulator/sessions?account=`) says where each session landed. Then the namespace's limits
(a full namespace waits with the reason and starts when a session of it is deleted; a
disallowed interpreter is Failed), an unknown role (AccessDenied, retried, other namespaces
unaffected), a malformed role ARN (refused by the API server, naming the field), and
credentials with a short lifetime (refreshed with no failed call).
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from agentcore_operator.local.agentcore.testing import EmulatorHandle
from agentcore_operator.local.cluster.testing import ClusterHandle
from agentcore_operator.local.harness import RunningOperator
from agentcore_operator.tenancy.policy import AccessPolicySpec

from .conftest import Collect, StartOperator, eventually, session_manifest

REPO = Path(__file__).resolve().parents[2]
OWN = "123456789012"  # the emulator's account of the dummy key the operator signs with
ACCOUNT_A = "111122223333"
ACCOUNT_B = "444455556666"
ROLE_A = f"arn:aws:iam::{ACCOUNT_A}:role/agentcore-team-a"
ROLE_B = f"arn:aws:iam::{ACCOUNT_B}:role/agentcore-team-b"
UNKNOWN_ROLE = "arn:aws:iam::999988887777:role/nobody"
CREDENTIAL_LIFETIME = 4.0  # seconds: several refreshes during a test

TENANTS = {
    "roles": {ROLE_A: {"external_id": "team-a-ext"}, ROLE_B: {}},
    "credential_lifetime_seconds": CREDENTIAL_LIFETIME,
}


def policy(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "agentcore.dev/v1alpha1",
        "kind": "AgentCoreAccessPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }


def apply(cluster: ClusterHandle, *manifests: dict[str, Any]) -> None:
    cluster.kubectl(
        "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests})
    )


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def session(cluster: ClusterHandle, namespace: str, name: str) -> dict[str, Any]:
    result = cluster.kubectl("get", "cis", name, "-n", namespace, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else {}


def status(cluster: ClusterHandle, namespace: str, name: str) -> dict[str, Any]:
    return dict(session(cluster, namespace, name).get("status") or {})


def reason(cluster: ClusterHandle, namespace: str, name: str) -> str | None:
    conditions = status(cluster, namespace, name).get("conditions") or []
    return next((c.get("reason") for c in conditions if c.get("type") == "Ready"), None)


def emulated_sessions(emulator: EmulatorHandle, account: str) -> dict[str, dict[str, Any]]:
    """The emulator's table of one account, over HTTP."""
    with urllib.request.urlopen(f"{emulator.endpoint_url}/_emulator/sessions?account={account}") as answer:
        listing = json.load(answer)
    items = listing["sessions"] if isinstance(listing, dict) else listing
    return {item["sessionId"]: item for item in items}


def bind_three_namespaces(cluster: ClusterHandle) -> None:
    """team-a by name to ROLE_A (with its external id), team-b by label to ROLE_B, team-c to
    the operator's own identity with limits."""
    apply(
        cluster,
        namespace("team-a"),
        namespace("team-b", tenant="b"),
        namespace("team-c"),
        policy(
            "team-a",
            namespaceSelector={"names": ["team-a"]},
            identity={
                "roleArn": ROLE_A,
                "externalId": "team-a-ext",
                "sessionTags": [{"key": "team", "value": "a"}],
            },
        ),
        policy(
            "team-b",
            namespaceSelector={"selector": {"matchLabels": {"tenant": "b"}}},
            identity={"roleArn": ROLE_B},
        ),
        policy(
            "team-c",
            namespaceSelector={"names": ["team-c"]},
            limits={
                "maxSessions": 1,
                "allowedInterpreters": ["aws.codeinterpreter.v1"],
                "maxSessionTimeoutSeconds": 1800,
            },
        ),
    )


@pytest.mark.parametrize("emulator_config", [TENANTS], indirect=True)
def test_sessions_land_in_their_namespaces_accounts(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    bind_three_namespaces(cluster)
    for ns in ("team-a", "team-b", "team-c"):
        apply(cluster, session_manifest("analysis", namespace=ns))
    for ns in ("team-a", "team-b", "team-c"):
        eventually(
            lambda ns=ns: status(cluster, ns, "analysis").get("phase") == "Ready", message=f"{ns} Ready"
        )

    placed = {ns: status(cluster, ns, "analysis") for ns in ("team-a", "team-b", "team-c")}
    assert {ns: s["accountId"] for ns, s in placed.items()} == {
        "team-a": ACCOUNT_A,
        "team-b": ACCOUNT_B,
        "team-c": OWN,
    }
    tables = {account: emulated_sessions(emulator, account) for account in (ACCOUNT_A, ACCOUNT_B, OWN)}
    for ns, account in (("team-a", ACCOUNT_A), ("team-b", ACCOUNT_B), ("team-c", OWN)):
        session_id = placed[ns]["sessionId"]
        assert session_id in tables[account], f"{ns}'s session is not in account {account}"
        assert all(session_id not in table for other, table in tables.items() if other != account)

    # The policies say what they bind.
    listing = json.loads(cluster.kubectl("get", "acp", "-o", "json").stdout)
    seen = {item["metadata"]["name"]: item.get("status") or {} for item in listing["items"]}
    assert {name: (s.get("accountId"), s.get("namespaces")) for name, s in seen.items()} == {
        "team-a": (ACCOUNT_A, ["team-a"]),
        "team-b": (ACCOUNT_B, ["team-b"]),
        "team-c": (OWN, ["team-c"]),
    }
    assert "team-a" in cluster.kubectl("get", "agentcore", "-A").stdout  # the category lists policies

    # Deleting stops each session in its own account.
    cluster.kubectl("delete", "cis", "analysis", "-n", "team-b", "--timeout=30s")
    assert emulated_sessions(emulator, ACCOUNT_B)[placed["team-b"]["sessionId"]]["status"] == "TERMINATED"


@pytest.mark.parametrize("emulator_config", [TENANTS], indirect=True)
def test_a_namespace_over_its_limits_waits_or_fails(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    bind_three_namespaces(cluster)
    apply(cluster, session_manifest("first", namespace="team-c"))
    eventually(lambda: status(cluster, "team-c", "first").get("phase") == "Ready", message="first Ready")
    apply(cluster, session_manifest("second", namespace="team-c"))
    eventually(lambda: reason(cluster, "team-c", "second") == "NamespaceLimitReached", message="second waits")
    assert status(cluster, "team-c", "second")["phase"] == "Pending"
    assert "maxSessions" in status(cluster, "team-c", "second")["message"]

    # Not allowed: an interpreter outside the list, a timeout over the maximum.
    apply(
        cluster,
        session_manifest("custom", namespace="team-c", codeInterpreterIdentifier="other_interp-abcdefghij"),
        session_manifest("long", namespace="team-c", sessionTimeoutSeconds=3600),
    )
    eventually(
        lambda: reason(cluster, "team-c", "custom") == "InterpreterNotAllowed", message="custom refused"
    )
    eventually(lambda: reason(cluster, "team-c", "long") == "TimeoutNotAllowed", message="long refused")
    assert status(cluster, "team-c", "custom")["phase"] == "Failed"

    # One of the namespace's sessions ends: the waiting one starts.
    cluster.kubectl("delete", "cis", "first", "-n", "team-c", "--timeout=30s")
    eventually(lambda: status(cluster, "team-c", "second").get("phase") == "Ready", message="second starts")
    # Raising the limit lets another through without anything ending.
    apply(cluster, session_manifest("third", namespace="team-c"))
    eventually(lambda: reason(cluster, "team-c", "third") == "NamespaceLimitReached", message="third waits")
    cluster.kubectl(
        "patch", "acp", "team-c", "--type=merge", "-p", json.dumps({"spec": {"limits": {"maxSessions": 2}}})
    )
    eventually(lambda: status(cluster, "team-c", "third").get("phase") == "Ready", message="third starts")


@pytest.mark.parametrize("emulator_config", [TENANTS], indirect=True)
def test_an_unknown_role_is_access_denied_while_others_are_fine(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    bind_three_namespaces(cluster)
    apply(
        cluster,
        namespace("team-x"),
        policy("team-x", namespaceSelector={"names": ["team-x"]}, identity={"roleArn": UNKNOWN_ROLE}),
    )
    apply(
        cluster,
        session_manifest("analysis", namespace="team-x"),
        session_manifest("analysis", namespace="team-a"),
    )
    eventually(lambda: reason(cluster, "team-x", "analysis") == "AccessDenied", message="team-x denied")
    assert status(cluster, "team-x", "analysis")["phase"] == "Failed"
    assert "retrying" in status(cluster, "team-x", "analysis")["message"]
    eventually(
        lambda: status(cluster, "team-a", "analysis").get("phase") == "Ready", message="team-a unaffected"
    )
    # Retried: more than one AssumeRole of the unknown role was refused.
    eventually(lambda: emulator.call_count("AssumeRole", "AccessDenied") >= 2, message="retried")
    # Deleting a session that never started lets go at once.
    cluster.kubectl("delete", "cis", "analysis", "-n", "team-x", "--timeout=30s")


@pytest.mark.parametrize("emulator_config", [TENANTS], indirect=True)
def test_a_teams_code_interpreter_lives_in_its_account(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    """Created as team-a's role, in team-a's account; its sessions start there; deleted there."""
    bind_three_namespaces(cluster)
    interpreter = {
        "apiVersion": "agentcore.dev/v1alpha1",
        "kind": "CodeInterpreter",
        "metadata": {"name": "tools", "namespace": "team-a"},
        "spec": {"networkConfiguration": {"networkMode": "SANDBOX"}},
    }
    apply(
        cluster,
        interpreter,
        session_manifest("on-tools", namespace="team-a", codeInterpreterRef={"name": "tools"}),
    )
    eventually(lambda: status(cluster, "team-a", "on-tools").get("phase") == "Ready", message="session Ready")
    made = json.loads(cluster.kubectl("get", "ci", "tools", "-n", "team-a", "-o", "json").stdout)["status"]
    assert made["accountId"] == ACCOUNT_A
    with urllib.request.urlopen(
        f"{emulator.endpoint_url}/_emulator/interpreters?account={ACCOUNT_A}"
    ) as answer:
        assert made["codeInterpreterId"] in {i["id"] for i in json.load(answer)["interpreters"]}
    with urllib.request.urlopen(f"{emulator.endpoint_url}/_emulator/interpreters?account={OWN}") as answer:
        assert made["codeInterpreterId"] not in {i["id"] for i in json.load(answer)["interpreters"]}
    assert status(cluster, "team-a", "on-tools")["accountId"] == ACCOUNT_A


def test_the_examples_are_accepted_and_read_as_written(cluster: ClusterHandle) -> None:
    for path in sorted((REPO / "examples" / "tenancy").glob("*.yaml")):
        cluster.kubectl("apply", "-f", str(path))
        for document in yaml.safe_load_all(path.read_text()):
            stored = json.loads(
                cluster.kubectl("get", "acp", document["metadata"]["name"], "-o", "json").stdout
            )
            AccessPolicySpec.from_resource(stored)  # raises SpecError naming the field


def test_a_malformed_role_arn_is_refused_naming_the_field(cluster: ClusterHandle) -> None:
    bad = policy("bad", namespaceSelector={"names": ["x"]}, identity={"roleArn": "arn:aws:iam::12345:role/x"})
    result = cluster.kubectl("apply", "-f", "-", input=json.dumps(bad), check=False)
    assert result.returncode != 0
    assert "spec.identity.roleArn" in result.stderr


@pytest.mark.parametrize("emulator_config", [TENANTS], indirect=True)
def test_short_lived_credentials_are_refreshed_with_no_failed_call(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    """Credentials live 4 s; the sweep lists team-a's sessions every 0.5 s for 5 lifetimes."""
    bind_three_namespaces(cluster)
    apply(cluster, *(session_manifest(f"s{i}", namespace="team-a") for i in range(3)))
    for i in range(3):
        eventually(
            lambda i=i: status(cluster, "team-a", f"s{i}").get("phase") == "Ready", message=f"s{i} Ready"
        )
    calls_before = emulator.call_count("ListCodeInterpreterSessions")
    assumed_before = emulator.call_count("AssumeRole", "Success")
    eventually(
        lambda: emulator.call_count("AssumeRole", "Success") >= assumed_before + 4,
        timeout=5 * CREDENTIAL_LIFETIME + 10,
        message="credentials refreshed",
    )
    assert emulator.call_count("ListCodeInterpreterSessions") > calls_before  # calls went on meanwhile
    for outcome in ("ExpiredTokenException", "UnrecognizedClientException", "AccessDenied"):
        assert emulator.call_count(outcome=outcome) == 0, emulator.calls()
    assert all(status(cluster, "team-a", f"s{i}")["phase"] == "Ready" for i in range(3))


@pytest.mark.parametrize("emulator_config", [TENANTS], indirect=True)
def test_assumed_role_credentials_never_reach_status_events_or_logs(
    cluster: ClusterHandle,
    emulator: EmulatorHandle,
    start_operator: StartOperator,
    production_logging: Collect,
) -> None:
    """The operator's logging at debug, in JSON, while team-a's credentials are issued and refreshed."""
    with start_operator():
        bind_three_namespaces(cluster)
        apply(cluster, session_manifest("leak", namespace="team-a"))
        eventually(lambda: status(cluster, "team-a", "leak").get("phase") == "Ready", message="Ready")
        eventually(lambda: emulator.call_count("AssumeRole", "Success") >= 2, timeout=15, message="refreshed")
        cluster.kubectl("delete", "cis", "leak", "-n", "team-a", "--timeout=30s")
    # The emulator's record of what it issued (its introspection leaves secrets out on purpose).
    issued = list(emulator.emulator.accounts._issued.values())
    secrets = [c.secret_access_key for c in issued] + [c.session_token for c in issued]
    assert len(secrets) >= 4
    surfaces = {
        "status": cluster.kubectl("get", "cis,acp", "-A", "-o", "json").stdout,
        "events": json.dumps(cluster.events("team-a")),
        "logs": "\n".join(production_logging.lines),
    }
    assert len(production_logging.lines) > 10, "too few log lines captured: the scan would prove nothing"
    for where, text in surfaces.items():
        for secret in secrets:
            assert secret not in text, f"{secret[:8]}... leaked into {where}"
    assert "team-a-ext" not in surfaces["logs"]  # the external id is kept out of logs too
