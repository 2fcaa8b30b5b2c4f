"""Typed spec and status of a CodeInterpreter, mirroring crds/agentcore.dev_codeinterpreters.yaml.

The spec holds what CreateCodeInterpreter takes (the CRD's schema for those members is
read from the botocore model, see model_schema.py). As with the session, the types
re-check what the schema enforces, so an object that skipped validation becomes a Failed
status, never an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from agentcore_operator.api.v1alpha1.types import (
    INTERPRETER_ID_RE,
    REGION_RE,
    Condition,
    DeletionPolicy,
    HasConditions,
    SpecError,
    format_time,
    parse_time,
    read_certificates,
    read_filesystems,
    spec_and_meta,
)

INTERPRETER_PLURAL = "codeinterpreters"
INTERPRETER_KIND = "CodeInterpreter"
INTERPRETER_FINALIZER = "agentcore.dev/delete-interpreter"

NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,47}$")
MAX_NAME = 48
NETWORK_MODES = ("PUBLIC", "SANDBOX", "VPC")
MAX_TAGS = 50


class InterpreterPhase(StrEnum):
    CREATING = "Creating"
    READY = "Ready"
    FAILED = "Failed"
    DELETING = "Deleting"


def default_interpreter_name(namespace: str, name: str) -> str:
    """`<namespace>_<name>` in the characters AgentCore takes: letters, digits, underscores."""
    raw = re.sub(r"[^a-zA-Z0-9_]", "_", f"{namespace}_{name}")
    if not raw[:1].isalpha():
        raw = f"ci_{raw}"
    return raw[:MAX_NAME]


@dataclass(frozen=True)
class InterpreterSpec:
    """The code interpreter the user asked for, with defaults applied."""

    name: str
    region: str
    network_configuration: dict[str, Any]
    deletion_policy: DeletionPolicy
    description: str | None = None
    execution_role_arn: str | None = None
    certificates: tuple[dict[str, Any], ...] = ()
    filesystem_configurations: tuple[dict[str, Any], ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    adopt_id: str | None = None

    def create_request(self, client_token: str, tags: dict[str, str]) -> dict[str, Any]:
        """CreateCodeInterpreter's parameters; `tags` are the ones recorded for this Create."""
        request: dict[str, Any] = {
            "name": self.name,
            "networkConfiguration": self.network_configuration,
            "clientToken": client_token,
        }
        for key, value in (
            ("description", self.description),
            ("executionRoleArn", self.execution_role_arn),
            ("certificates", list(self.certificates) or None),
            ("filesystemConfigurations", list(self.filesystem_configurations) or None),
            ("tags", tags or None),
        ):
            if value is not None:
                request[key] = value
        return request

    @classmethod
    def from_resource(cls, body: dict[str, Any], *, default_region: str) -> InterpreterSpec:
        """Read and check the spec of a resource body; raise SpecError with a user-facing message."""
        spec, meta = spec_and_meta(body)
        name = spec.get("name") or default_interpreter_name(
            str(meta.get("namespace", "")), str(meta.get("name", ""))
        )
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            raise SpecError(f"spec.name {name!r} must match {NAME_RE.pattern}")
        region = spec.get("region") or default_region
        if not isinstance(region, str) or not REGION_RE.fullmatch(region):
            raise SpecError(f"region {region!r} is not an AWS region name (set spec.region or --region)")
        network = spec.get("networkConfiguration") or {"networkMode": "PUBLIC"}
        if not isinstance(network, dict) or network.get("networkMode") not in NETWORK_MODES:
            raise SpecError(
                f"spec.networkConfiguration.networkMode must be one of {', '.join(NETWORK_MODES)}"
            )
        if network.get("networkMode") == "VPC" and not isinstance(network.get("vpcConfig"), dict):
            raise SpecError("spec.networkConfiguration.vpcConfig is required when networkMode is VPC")
        policy = spec.get("deletionPolicy", DeletionPolicy.DELETE.value)
        try:
            deletion_policy = DeletionPolicy(policy)
        except ValueError:
            raise SpecError(f"spec.deletionPolicy {policy!r} is not Delete or Retain") from None
        tags = spec.get("tags") or {}
        if (
            not isinstance(tags, dict)
            or len(tags) > MAX_TAGS
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items())
        ):
            raise SpecError(f"spec.tags must map at most {MAX_TAGS} keys to string values")
        adopt = spec.get("adoptCodeInterpreterId")
        if adopt is not None and (not isinstance(adopt, str) or not INTERPRETER_ID_RE.fullmatch(adopt)):
            raise SpecError(f"spec.adoptCodeInterpreterId {adopt!r} is not a code interpreter id")
        return cls(
            name=name,
            region=region,
            network_configuration=dict(network),
            deletion_policy=deletion_policy,
            description=_optional_str(spec, "description"),
            execution_role_arn=_optional_str(spec, "executionRoleArn"),
            certificates=read_certificates(spec),
            filesystem_configurations=read_filesystems(spec),
            tags={str(k): str(v) for k, v in tags.items()},
            adopt_id=adopt,
        )


def _optional_str(spec: dict[str, Any], key: str) -> str | None:
    value = spec.get(key)
    if value is not None and not isinstance(value, str):
        raise SpecError(f"spec.{key} must be a string")
    return value


# The status's plain members: (attribute, key in .status). Read and written by one loop each.
STATUS_STRINGS = (
    ("code_interpreter_id", "codeInterpreterId"),
    ("code_interpreter_arn", "codeInterpreterArn"),
    ("status", "status"),
    ("failure_reason", "failureReason"),
    ("region", "region"),
    ("message", "message"),
    ("pending_create_token", "pendingCreateToken"),
    ("account_id", "accountId"),
)


@dataclass(frozen=True)
class InterpreterStatus(HasConditions):
    """What the operator last recorded about the code interpreter (the resource's .status).

    `tags` are the tags known to be on the interpreter (sent with the Create, read from
    AWS, or applied since); None means not known yet. `pending_create_token` is set
    before a Create is sent and cleared by its answer: until then a Create may have
    made an interpreter whose id nobody has recorded.
    """

    phase: InterpreterPhase | None = None
    code_interpreter_id: str | None = None
    code_interpreter_arn: str | None = None
    status: str | None = None
    failure_reason: str | None = None
    region: str | None = None
    created_at: datetime | None = None
    observed_generation: int | None = None
    message: str | None = None
    tags: dict[str, str] | None = None
    pending_create_token: str | None = None
    conditions: tuple[Condition, ...] = ()
    # The AWS account it lives in (its namespace's AgentCoreAccessPolicy when first called):
    # every later call goes there, whoever binds the namespace by then.
    account_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The status as written to the API: unset members are left out, not nulled."""
        out: dict[str, Any] = {key: getattr(self, attr) for attr, key in STATUS_STRINGS}
        out["phase"] = self.phase.value if self.phase else None
        out["observedGeneration"] = self.observed_generation
        out["tags"] = self.tags
        out["createdAt"] = format_time(self.created_at) if self.created_at else None
        out["conditions"] = [c.to_dict() for c in self.conditions] or None
        return {key: value for key, value in out.items() if value is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> InterpreterStatus:
        data = data or {}
        strings = {
            attr: data.get(key) if isinstance(data.get(key), str) else None for attr, key in STATUS_STRINGS
        }
        phase = data.get("phase")
        tags = data.get("tags")
        generation = data.get("observedGeneration")
        conditions = [Condition.from_dict(c) for c in data.get("conditions") or () if isinstance(c, dict)]
        return cls(
            phase=InterpreterPhase(phase) if phase in set(InterpreterPhase) else None,
            created_at=parse_time(data.get("createdAt")),
            observed_generation=generation if isinstance(generation, int) else None,
            tags={str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else None,
            conditions=tuple(conditions),
            **strings,
        )
