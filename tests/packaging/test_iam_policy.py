"""iam-policy.json: exactly the AgentCore calls the code makes, on code interpreter resources only.

The calls are read from the AWS adapter's source (every `client.<operation>` / `control.<operation>`
attribute), so a new boto3 call without a policy update fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import botocore.session
from botocore import xform_name

REPO = Path(__file__).resolve().parents[2]
AWS_PACKAGE = REPO / "operator" / "agentcore_operator" / "aws"
# Every module that calls AgentCore: the session adapter's package and each kind's adapter.
ADAPTERS = (
    *sorted(AWS_PACKAGE.glob("*.py")),
    REPO / "operator" / "agentcore_operator" / "interpreters" / "adapter.py",
)
POLICY: dict[str, Any] = json.loads((REPO / "iam-policy.json").read_text())
# Both planes (bedrock-agentcore and bedrock-agentcore-control) sign as `bedrock-agentcore`.
SERVICES = ("bedrock-agentcore", "bedrock-agentcore-control")


def service_operations() -> dict[str, str]:
    """snake_case boto3 method -> API operation name, for both AgentCore clients."""
    session = botocore.session.get_session()
    operations: dict[str, str] = {}
    for service in SERVICES:
        model = session.get_service_model(service)
        assert model.signing_name == "bedrock-agentcore"
        operations.update({xform_name(name): name for name in model.operation_names})
    return operations


def called_operations() -> set[str]:
    operations = service_operations()
    called: set[str] = set()
    for source in ADAPTERS:
        for method in re.findall(r"\b(?:client|control)\.([a-z_][a-z0-9_]*)\b", source.read_text()):
            assert method in operations, f"{source.name}: {method} is not an AgentCore operation"
            called.add(operations[method])
    return called


def statements() -> dict[str, dict[str, Any]]:
    found = {s["Sid"]: dict(s) for s in POLICY["Statement"]}
    assert all(s["Effect"] == "Allow" for s in found.values())
    return found


def agentcore_statements() -> list[dict[str, Any]]:
    return [s for s in statements().values() if str(s["Action"][0]).startswith("bedrock-agentcore:")]


def test_actions_are_exactly_the_operations_the_adapter_calls() -> None:
    called = called_operations()
    assert len(called) == 10, called  # the scan still sees both adapters' calls
    granted = [action for s in agentcore_statements() for action in s["Action"]]
    assert len(granted) == len(set(granted))
    assert set(granted) == {f"bedrock-agentcore:{name}" for name in called}


def test_the_execution_role_is_passed_only_to_agentcore() -> None:
    """CreateCodeInterpreter with executionRoleArn passes the role: only to the AgentCore service."""
    passing = statements()["PassTheInterpretersExecutionRole"]
    assert passing["Action"] == "iam:PassRole"
    assert passing["Resource"] == "arn:aws:iam::*:role/*"
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "bedrock-agentcore.amazonaws.com"}
    }


def test_resources_are_code_interpreters_in_the_botocore_arn_format() -> None:
    """Each ARN, wildcards filled in with sample values, has the format the AgentCore API accepts."""
    model = botocore.session.get_session().get_service_model("bedrock-agentcore-control")
    patterns = {
        s.metadata["pattern"]
        for s in (model.shape_for(name) for name in model.shape_names)
        if "code-interpreter" in s.metadata.get("pattern", "")
    }
    (pattern,) = patterns
    resources = sorted({r for s in agentcore_statements() for r in s["Resource"]})
    assert resources == sorted(
        [
            "arn:aws:bedrock-agentcore:*:aws:code-interpreter/aws.codeinterpreter.v1",
            "arn:aws:bedrock-agentcore:*:*:code-interpreter-custom/*",
        ]
    )
    # The control plane's writes reach custom interpreters only, never the built-in one.
    assert statements()["CodeInterpreters"]["Resource"] == [
        "arn:aws:bedrock-agentcore:*:*:code-interpreter-custom/*"
    ]
    for resource in resources:
        arn, service, plane, region, account, rest = resource.split(":", 5)
        region, account = region.replace("*", "us-east-1"), account.replace("*", "123456789012")
        sample = ":".join(
            [arn, service, plane, region, account, rest.replace("/*", "/datasci_vpc-a1b2c3d4e5")]
        )
        assert re.fullmatch(pattern, sample), (resource, sample, pattern)


def test_policy_grants_nothing_else() -> None:
    assert set(POLICY) == {"Version", "Statement"} and POLICY["Version"] == "2012-10-17"
    assert set(statements()) == {
        "CodeInterpreterSessions",
        "CodeInterpreters",
        "PassTheInterpretersExecutionRole",
    }
    for statement in agentcore_statements():
        assert set(statement) == {"Sid", "Effect", "Action", "Resource"}
        assert all(not action.endswith("*") for action in statement["Action"])


# -- tenancy: the operator assumes each team's role (issue 16) ------------------------------------

ASSUME_ROLE_POLICY: dict[str, Any] = json.loads((REPO / "iam-policy-assume-role.json").read_text())
TRUST_POLICY: dict[str, Any] = json.loads(
    (REPO / "examples" / "tenancy" / "tenant-role-trust-policy.json").read_text()
)


def test_the_assume_role_policy_grants_assume_role_and_tag_session_only() -> None:
    """A second document, attached only where AgentCoreAccessPolicy names roles: the operator
    assumes roles (with session tags) named by the platform's convention, nothing else."""
    assert set(ASSUME_ROLE_POLICY) == {"Version", "Statement"}
    assert ASSUME_ROLE_POLICY["Version"] == "2012-10-17"
    (statement,) = ASSUME_ROLE_POLICY["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert statement["Resource"] == "arn:aws:iam::*:role/agentcore-*"
    # sts:TagSession is a permission AssumeRole with Tags needs, not an operation of its own.
    assert "AssumeRole" in botocore.session.get_session().get_service_model("sts").operation_names


def test_the_trust_policy_example_requires_the_external_id_and_names_the_operators_role() -> None:
    """The confused-deputy guard: only the operator's role, and only with the external id the
    platform team put in that team's AgentCoreAccessPolicy."""
    assume, tag = TRUST_POLICY["Statement"]
    assert assume["Action"] == "sts:AssumeRole" and tag["Action"] == "sts:TagSession"
    for statement in (assume, tag):
        assert statement["Principal"]["AWS"].endswith(":role/agentcore-operator")
    assert "sts:ExternalId" in assume["Condition"]["StringEquals"]
    trusted = {s["Principal"]["AWS"] for s in (assume, tag)}
    assert all("*" not in principal for principal in trusted)
