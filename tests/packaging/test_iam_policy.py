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
    for source in sorted(AWS_PACKAGE.glob("*.py")):
        for method in re.findall(r"\b(?:client|control)\.([a-z_][a-z0-9_]*)\b", source.read_text()):
            assert method in operations, f"{source.name}: {method} is not an AgentCore operation"
            called.add(operations[method])
    return called


def statement() -> dict[str, Any]:
    (only,) = POLICY["Statement"]
    assert only["Effect"] == "Allow"
    return dict(only)


def test_actions_are_exactly_the_operations_the_adapter_calls() -> None:
    called = called_operations()
    assert len(called) == 5, called  # the scan still sees the adapter's calls
    assert set(statement()["Action"]) == {f"bedrock-agentcore:{name}" for name in called}


def test_resources_are_code_interpreters_in_the_botocore_arn_format() -> None:
    """Each ARN, wildcards filled in with sample values, has the format the AgentCore API accepts."""
    model = botocore.session.get_session().get_service_model("bedrock-agentcore-control")
    patterns = {
        s.metadata["pattern"]
        for s in (model.shape_for(name) for name in model.shape_names)
        if "code-interpreter" in s.metadata.get("pattern", "")
    }
    (pattern,) = patterns
    resources = statement()["Resource"]
    assert sorted(resources) == sorted(
        [
            "arn:aws:bedrock-agentcore:*:aws:code-interpreter/aws.codeinterpreter.v1",
            "arn:aws:bedrock-agentcore:*:*:code-interpreter-custom/*",
        ]
    )
    for resource in resources:
        arn, service, plane, region, account, rest = resource.split(":", 5)
        region, account = region.replace("*", "us-east-1"), account.replace("*", "123456789012")
        sample = ":".join(
            [arn, service, plane, region, account, rest.replace("/*", "/datasci_vpc-a1b2c3d4e5")]
        )
        assert re.fullmatch(pattern, sample), (resource, sample, pattern)


def test_policy_grants_nothing_else() -> None:
    assert set(POLICY) == {"Version", "Statement"} and POLICY["Version"] == "2012-10-17"
    assert set(statement()) == {"Sid", "Effect", "Action", "Resource"}
    assert all(not action.endswith("*") for action in statement()["Action"])
