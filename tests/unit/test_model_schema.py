"""The CRDs carry the botocore model's constraints for the AWS members, exactly.

api/v1alpha1/model_schema.py turns the model's shapes into structural schemas; the CRDs were
written from it. A newer botocore that changes a pattern, a limit or a member fails here,
and the CRD is regenerated rather than retyped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from agentcore_operator.api.v1alpha1.model_schema import CONTROL_PLANE, DATA_PLANE, member_schema, openapi

REPO = Path(__file__).resolve().parents[2]


def spec_properties(crd: str) -> dict[str, Any]:
    document = yaml.safe_load((REPO / "crds" / crd).read_text())
    (version,) = document["spec"]["versions"]
    properties: dict[str, Any] = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    return properties


def without_immutability(schema: dict[str, Any]) -> dict[str, Any]:
    """The CRD member as generated: the `self == oldSelf` rule is the CRD's own addition."""
    out = dict(schema)
    rules = [r for r in out.get("x-kubernetes-validations", ()) if r["rule"] != "self == oldSelf"]
    out.pop("x-kubernetes-validations", None)
    if rules:
        out["x-kubernetes-validations"] = rules
    return out


@pytest.mark.parametrize(
    "member",
    ["description", "executionRoleArn", "networkConfiguration", "certificates", "filesystemConfigurations"],
)
def test_code_interpreter_members_are_the_models(member: str) -> None:
    crd = spec_properties("agentcore.dev_codeinterpreters.yaml")[member]
    assert without_immutability(crd) == member_schema(CONTROL_PLANE, "CreateCodeInterpreter", member)


def test_code_interpreter_tags_and_name_are_the_models() -> None:
    properties = spec_properties("agentcore.dev_codeinterpreters.yaml")
    tags = member_schema(CONTROL_PLANE, "CreateCodeInterpreter", "tags")
    assert {k: v for k, v in properties["tags"].items() if k != "description"} == {
        k: v for k, v in tags.items() if k != "description"
    }
    name = without_immutability(properties["name"])
    model_name = member_schema(CONTROL_PLANE, "CreateCodeInterpreter", "name")
    assert name["pattern"] == model_name["pattern"] and name["type"] == "string"


@pytest.mark.parametrize("member", ["certificates", "filesystemConfigurations"])
def test_session_members_are_the_start_operations(member: str) -> None:
    crd = spec_properties("agentcore.dev_codeinterpretersessions.yaml")[member]
    assert without_immutability(crd) == member_schema(DATA_PLANE, "StartCodeInterpreterSession", member)


def test_a_union_becomes_one_of_its_members_and_a_single_member_union_is_required() -> None:
    filesystem = member_schema(CONTROL_PLANE, "CreateCodeInterpreter", "filesystemConfigurations")["items"]
    (rule,) = filesystem["x-kubernetes-validations"]
    assert "== 1" in rule["rule"] and "efsConfiguration" in rule["rule"]
    location = member_schema(CONTROL_PLANE, "CreateCodeInterpreter", "certificates")["items"]["properties"][
        "location"
    ]
    assert location["required"] == ["secretsManager"]


def test_patterns_are_anchored_as_the_api_server_needs() -> None:
    """Kubernetes matches `pattern` anywhere in the value; the model means the whole value."""
    schema = openapi(
        __import__("botocore.session")
        .session.get_session()
        .get_service_model(CONTROL_PLANE)
        .shape_for("SubnetId")
    )
    assert schema["pattern"].startswith("^") and schema["pattern"].endswith("$")
