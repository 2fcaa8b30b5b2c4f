"""Typed spec and status of a CodeInterpreterSession, mirroring the CRD schema.

The CRD (crds/) is the contract with users; these types are how the code reads it. They
re-check what the schema already enforces, because objects can reach us from API servers
that skipped validation (or from an older CRD), and bad data must become a Failed status,
never an exception in a handler.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Self, cast

GROUP = "agentcore.dev"
VERSION = "v1alpha1"
PLURAL = "codeinterpretersessions"
KIND = "CodeInterpreterSession"
FINALIZER = "agentcore.dev/stop-session"
BUILTIN_INTERPRETER = "aws.codeinterpreter.v1"

MIN_TIMEOUT_SECONDS = 60
MAX_TIMEOUT_SECONDS = 28800
DEFAULT_TIMEOUT_SECONDS = 900
MAX_SESSION_NAME = 100
MAX_FILESYSTEMS = 10  # the model's ToolsFileSystemConfigurations
MAX_CERTIFICATES = 200  # the model's Certificates

_INTERPRETER_ID = r"(aws\.codeinterpreter\.v1|[a-zA-Z][a-zA-Z0-9_]{0,47}-[a-zA-Z0-9]{10})"
INTERPRETER_ID_RE = re.compile(rf"^{_INTERPRETER_ID}$")
INTERPRETER_ARN_RE = re.compile(
    rf"^arn:aws(-[a-z]+)*:bedrock-agentcore:(?P<region>[a-z0-9-]+):([0-9]{{12}}|aws):"
    rf"code-interpreter(-custom)?/(?P<id>{_INTERPRETER_ID})$"
)
REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$")


class Phase(StrEnum):
    PENDING = "Pending"
    STARTING = "Starting"
    READY = "Ready"
    STOPPING = "Stopping"
    TERMINATED = "Terminated"
    FAILED = "Failed"


class DeletionPolicy(StrEnum):
    DELETE = "Delete"
    RETAIN = "Retain"


class RestartPolicy(StrEnum):
    NEVER = "Never"
    ALWAYS = "Always"


MAX_RENEW_BEFORE_SECONDS = 3600
MAX_RENEW_GRACE_SECONDS = 600
DEFAULT_RENEW_GRACE_SECONDS = 30
DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class SpecError(ValueError):
    """The spec cannot be acted on; the message is shown to the user as is."""


@dataclass(frozen=True)
class SessionSpec:
    """The session the user asked for, with defaults applied."""

    code_interpreter_identifier: str
    session_name: str
    session_timeout_seconds: int
    region: str
    deletion_policy: DeletionPolicy
    # spec.codeInterpreterRef.name: a CodeInterpreter of the namespace. The identifier is then
    # empty here and filled in from that resource's status once it is Ready.
    code_interpreter_ref: str | None = None
    certificates: tuple[dict[str, Any], ...] = ()
    filesystem_configurations: tuple[dict[str, Any], ...] = ()
    restart_policy: RestartPolicy = RestartPolicy.NEVER
    renew_before_seconds: int = 0
    renew_grace_seconds: int = DEFAULT_RENEW_GRACE_SECONDS
    ttl_seconds_after_finished: int | None = None
    export_config_map_name: str | None = None

    @property
    def restarts(self) -> bool:
        return self.restart_policy is RestartPolicy.ALWAYS

    @property
    def renews(self) -> bool:
        """Whether a successor starts before the session ends (an overlap), not after."""
        return self.restarts and self.renew_before_seconds > 0

    @property
    def interpreter_id(self) -> str:
        """The bare interpreter id: GetCodeInterpreter does not accept ARNs."""
        match = INTERPRETER_ARN_RE.fullmatch(self.code_interpreter_identifier)
        return match.group("id") if match else self.code_interpreter_identifier

    @property
    def is_builtin(self) -> bool:
        return self.interpreter_id == BUILTIN_INTERPRETER

    @classmethod
    def from_resource(cls, body: dict[str, Any], *, default_region: str) -> SessionSpec:
        """Read and check the spec of a resource body; raise SpecError with a user-facing message."""
        spec, meta = spec_and_meta(body)

        ref = spec.get("codeInterpreterRef")
        ref_name = ref.get("name") if isinstance(ref, dict) else None
        if ref is not None and (not isinstance(ref_name, str) or not ref_name):
            raise SpecError("spec.codeInterpreterRef.name must name a CodeInterpreter")
        if ref_name is not None and "codeInterpreterIdentifier" in spec:
            raise SpecError(
                "spec.codeInterpreterRef and spec.codeInterpreterIdentifier are mutually exclusive"
            )
        identifier = spec.get("codeInterpreterIdentifier", BUILTIN_INTERPRETER)
        if ref_name is not None:
            pass  # resolved from the CodeInterpreter (controller/reconciler.py)
        elif not isinstance(identifier, str) or not (
            INTERPRETER_ID_RE.fullmatch(identifier) or INTERPRETER_ARN_RE.fullmatch(identifier)
        ):
            raise SpecError(f"spec.codeInterpreterIdentifier {identifier!r} is not an interpreter id or ARN")
        arn = INTERPRETER_ARN_RE.fullmatch(identifier)

        region = spec.get("region") or (arn.group("region") if arn else default_region)
        if not isinstance(region, str) or not REGION_RE.fullmatch(region):
            raise SpecError(f"region {region!r} is not an AWS region name (set spec.region or --region)")
        if arn and arn.group("region") != region:
            raise SpecError(
                f"spec.codeInterpreterIdentifier is an ARN in {arn.group('region')}, "
                f"but the session would run in {region}"
            )

        timeout = spec.get("sessionTimeoutSeconds", DEFAULT_TIMEOUT_SECONDS)
        if isinstance(timeout, bool) or not isinstance(timeout, int):
            raise SpecError(f"spec.sessionTimeoutSeconds {timeout!r} is not an integer")
        if not MIN_TIMEOUT_SECONDS <= timeout <= MAX_TIMEOUT_SECONDS:
            raise SpecError(
                f"spec.sessionTimeoutSeconds {timeout} is outside {MIN_TIMEOUT_SECONDS}..{MAX_TIMEOUT_SECONDS}"
            )

        name = spec.get("sessionName")
        if name is None:
            name = default_session_name(str(meta.get("namespace", "")), str(meta.get("name", "")))
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_SESSION_NAME:
            raise SpecError(f"spec.sessionName must be 1..{MAX_SESSION_NAME} characters")

        policy = spec.get("deletionPolicy", DeletionPolicy.DELETE.value)
        try:
            deletion_policy = DeletionPolicy(policy)
        except ValueError:
            raise SpecError(f"spec.deletionPolicy {policy!r} is not Delete or Retain") from None

        return cls(
            "" if ref_name is not None else identifier,
            name,
            timeout,
            region,
            deletion_policy,
            code_interpreter_ref=ref_name,
            certificates=read_certificates(spec),
            filesystem_configurations=read_filesystems(spec),
            **_lifecycle(spec, timeout),
        )


def read_certificates(spec: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """spec.certificates as sent to AWS (each a location with one secretsManager ARN)."""
    items = spec.get("certificates")
    if items is None:
        return ()
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_CERTIFICATES:
        raise SpecError(f"spec.certificates must be a list of 1..{MAX_CERTIFICATES} certificates")
    for index, item in enumerate(items):
        location = item.get("location") if isinstance(item, dict) else None
        secret = (location or {}).get("secretsManager") if isinstance(location, dict) else None
        if not isinstance(secret, dict) or not isinstance(secret.get("secretArn"), str):
            raise SpecError(f"spec.certificates[{index}].location.secretsManager.secretArn is required")
    return tuple(items)


def read_filesystems(spec: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """spec.filesystemConfigurations as sent to AWS (each exactly one of EFS or S3 Files)."""
    items = spec.get("filesystemConfigurations")
    if items is None:
        return ()
    if not isinstance(items, list) or len(items) > MAX_FILESYSTEMS:
        raise SpecError(f"spec.filesystemConfigurations must be a list of at most {MAX_FILESYSTEMS} entries")
    for index, item in enumerate(items):
        kinds = [
            k for k in ("efsConfiguration", "s3FilesConfiguration") if isinstance(item, dict) and k in item
        ]
        if len(kinds) != 1:
            raise SpecError(
                f"spec.filesystemConfigurations[{index}] must set exactly one of efsConfiguration "
                f"and s3FilesConfiguration"
            )
    return tuple(items)


def spec_and_meta(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A resource's spec (an object, or SpecError) and metadata, for every kind's spec reader."""
    spec = body.get("spec")
    if not isinstance(spec, dict):
        raise SpecError("spec is missing or not an object")
    return spec, body.get("metadata") or {}


def _lifecycle(spec: dict[str, Any], timeout: int) -> dict[str, Any]:
    """restartPolicy, renewal, TTL and export (issue 12), checked as the CRD's CEL rules do."""
    policy = spec.get("restartPolicy", RestartPolicy.NEVER.value)
    try:
        restart = RestartPolicy(policy)
    except ValueError:
        raise SpecError(f"spec.restartPolicy {policy!r} is not Never or Always") from None
    before = bounded(spec, "renewBeforeSeconds", 0, 0, MAX_RENEW_BEFORE_SECONDS)
    grace = bounded(spec, "renewGraceSeconds", DEFAULT_RENEW_GRACE_SECONDS, 0, MAX_RENEW_GRACE_SECONDS)
    if before and restart is not RestartPolicy.ALWAYS:
        raise SpecError("spec.renewBeforeSeconds needs spec.restartPolicy Always")
    if before >= timeout:
        raise SpecError(f"spec.renewBeforeSeconds {before} must be less than sessionTimeoutSeconds {timeout}")
    ttl = spec.get("ttlSecondsAfterFinished")
    if ttl is not None:
        ttl = bounded(spec, "ttlSecondsAfterFinished", 0, 0, 2**31 - 1)
        if restart is RestartPolicy.ALWAYS:
            raise SpecError("spec.ttlSecondsAfterFinished cannot be used with restartPolicy Always")
    export = spec.get("export") or {}
    name = export.get("configMapName") if isinstance(export, dict) else None
    if name is not None and (
        not isinstance(name, str) or len(name) > 253 or not DNS_LABEL_RE.fullmatch(name)
    ):
        raise SpecError(f"spec.export.configMapName {name!r} is not a DNS-1123 subdomain")
    return {
        "restart_policy": restart,
        "renew_before_seconds": before,
        "renew_grace_seconds": grace,
        "ttl_seconds_after_finished": ttl,
        "export_config_map_name": name,
    }


def bounded(spec: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    """spec[key] (or the default), an integer within low..high, or SpecError naming the field."""
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"spec.{key} {value!r} is not an integer")
    if not low <= value <= high:
        raise SpecError(f"spec.{key} {value} is outside {low}..{high}")
    return value


def default_session_name(namespace: str, name: str) -> str:
    return f"{namespace}-{name}"[:MAX_SESSION_NAME] or "session"


@dataclass(frozen=True)
class Condition:
    """A standard Kubernetes condition (metav1.Condition)."""

    type: str
    status: str
    reason: str
    message: str
    last_transition_time: datetime
    observed_generation: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "lastTransitionTime": format_time(self.last_transition_time),
        }
        if self.observed_generation is not None:
            out["observedGeneration"] = self.observed_generation
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Condition:
        return cls(
            type=str(data.get("type", "")),
            status=str(data.get("status", "Unknown")),
            reason=str(data.get("reason", "")),
            message=str(data.get("message", "")),
            last_transition_time=parse_time(data.get("lastTransitionTime")) or EPOCH,
            observed_generation=_int_or_none(data.get("observedGeneration")),
        )


class HasConditions:
    """Conditions of a status dataclass (every kind's status has them, in the same form)."""

    conditions: tuple[Condition, ...]

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    def with_condition(self, new: Condition) -> Self:
        """Set a condition, keeping lastTransitionTime when its status did not change."""
        old = self.condition(new.type)
        if old is not None and old.status == new.status:
            new = replace(new, last_transition_time=old.last_transition_time)
        others = tuple(c for c in self.conditions if c.type != new.type)
        updated: Self = replace(cast(Any, self), conditions=(*others, new))
        return updated


@dataclass(frozen=True)
class SessionStatus(HasConditions):
    """What the operator last recorded about the session (the resource's .status)."""

    phase: Phase | None = None
    session_id: str | None = None
    code_interpreter_identifier: str | None = None
    region: str | None = None
    session_name: str | None = None
    session_timeout_seconds: int | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None
    observed_generation: int | None = None
    message: str | None = None
    conditions: tuple[Condition, ...] = field(default=())
    # A StartCodeInterpreterSession sent with this clientToken may have created a session
    # whose id is not in session_id yet; `unanswered_starts` counts the attempts whose
    # outcome is unknown (a lost answer, a 5xx, a crash). 0 once an answer settled them.
    pending_start_token: str | None = None
    unanswered_starts: int | None = None
    # Restarts and renewal (restartPolicy Always). `restart_count` numbers the sessions
    # started after the first; the successor of a renewal is `next_session_id` until it is
    # READY, then `session_id`, while its predecessor (`previous_session_id`) runs until
    # `previous_stop_at` and is then stopped (the field is cleared once it is).
    restart_count: int | None = None
    previous_session_id: str | None = None
    next_session_id: str | None = None
    previous_stop_at: datetime | None = None
    restart_backoff_seconds: int | None = None
    restart_after: datetime | None = None
    # When the resource reached Terminated or a final Failed (ttlSecondsAfterFinished counts from it).
    finished_at: datetime | None = None
    # What was last written to spec.export.configMapName (a fingerprint), or refused.
    exported: str | None = None
    # The 12-digit AWS account the session runs in (its namespace's AgentCoreAccessPolicy, or
    # the operator's own): its Get and Stop go there, whoever binds the namespace later.
    account_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The status as written to the API: unset fields are left out, not nulled."""
        out: dict[str, Any] = {}
        if self.phase is not None:
            out["phase"] = self.phase.value
        for key, value in (
            ("sessionId", self.session_id),
            ("codeInterpreterIdentifier", self.code_interpreter_identifier),
            ("region", self.region),
            ("sessionName", self.session_name),
            ("sessionTimeoutSeconds", self.session_timeout_seconds),
            ("observedGeneration", self.observed_generation),
            ("message", self.message),
            ("pendingStartToken", self.pending_start_token),
            ("unansweredStarts", self.unanswered_starts),
            ("restartCount", self.restart_count),
            ("previousSessionId", self.previous_session_id),
            ("nextSessionId", self.next_session_id),
            ("restartBackOffSeconds", self.restart_backoff_seconds),
            ("exported", self.exported),
            ("accountId", self.account_id),
        ):
            if value is not None:
                out[key] = value
        if self.created_at is not None:
            out["createdAt"] = format_time(self.created_at)
        if self.expires_at is not None:
            out["expiresAt"] = format_time(self.expires_at)
        for key, moment in (
            ("previousSessionStopAt", self.previous_stop_at),
            ("restartAfter", self.restart_after),
            ("finishedAt", self.finished_at),
        ):
            if moment is not None:
                out[key] = format_time(moment)
        if self.conditions:
            out["conditions"] = [c.to_dict() for c in self.conditions]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SessionStatus:
        data = data or {}
        try:
            phase: Phase | None = Phase(data["phase"]) if "phase" in data else None
        except ValueError:
            phase = None
        return cls(
            phase=phase,
            session_id=_str_or_none(data.get("sessionId")),
            code_interpreter_identifier=_str_or_none(data.get("codeInterpreterIdentifier")),
            region=_str_or_none(data.get("region")),
            session_name=_str_or_none(data.get("sessionName")),
            session_timeout_seconds=_int_or_none(data.get("sessionTimeoutSeconds")),
            created_at=parse_time(data.get("createdAt")),
            expires_at=parse_time(data.get("expiresAt")),
            observed_generation=_int_or_none(data.get("observedGeneration")),
            message=_str_or_none(data.get("message")),
            pending_start_token=_str_or_none(data.get("pendingStartToken")),
            unanswered_starts=_int_or_none(data.get("unansweredStarts")),
            restart_count=_int_or_none(data.get("restartCount")),
            previous_session_id=_str_or_none(data.get("previousSessionId")),
            next_session_id=_str_or_none(data.get("nextSessionId")),
            previous_stop_at=parse_time(data.get("previousSessionStopAt")),
            restart_backoff_seconds=_int_or_none(data.get("restartBackOffSeconds")),
            restart_after=parse_time(data.get("restartAfter")),
            finished_at=parse_time(data.get("finishedAt")),
            exported=_str_or_none(data.get("exported")),
            account_id=_str_or_none(data.get("accountId")),
            conditions=tuple(
                Condition.from_dict(c) for c in data.get("conditions") or () if isinstance(c, dict)
            ),
        )


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with second precision, as Kubernetes writes timestamps."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
