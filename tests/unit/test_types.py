"""The typed spec and status: defaults, checks with user-facing messages, and the status round trip."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from agentcore_operator.api.v1alpha1 import (
    BUILTIN_INTERPRETER,
    Condition,
    DeletionPolicy,
    Phase,
    SessionSpec,
    SessionStatus,
    SpecError,
)
from agentcore_operator.api.v1alpha1.types import (
    DEFAULT_TIMEOUT_SECONDS,
    EPOCH,
    INTERPRETER_ARN_RE,
    INTERPRETER_ID_RE,
    MAX_SESSION_NAME,
    MAX_TIMEOUT_SECONDS,
    MIN_TIMEOUT_SECONDS,
    REGION_RE,
    default_session_name,
    format_time,
    parse_time,
)

DEFAULT_REGION = "us-east-1"
CUSTOM_ID = "myInterpreter-a1b2c3d4e5"
CRD_PATH = Path(__file__).resolve().parents[2] / "crds" / "agentcore.dev_codeinterpretersessions.yaml"


def body(spec: Any = None, *, namespace: str = "team-a", name: str = "sandbox") -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name}, "spec": {} if spec is None else spec}


def read(spec: Any = None, **meta: str) -> SessionSpec:
    return SessionSpec.from_resource(body(spec, **meta), default_region=DEFAULT_REGION)


def arn(
    region: str, interpreter: str = CUSTOM_ID, *, partition: str = "aws", account: str = "123456789012"
) -> str:
    kind = "code-interpreter" if interpreter == BUILTIN_INTERPRETER else "code-interpreter-custom"
    return f"arn:{partition}:bedrock-agentcore:{region}:{account}:{kind}/{interpreter}"


# --- SessionSpec.from_resource --------------------------------------------------------------------


def test_an_empty_spec_gets_every_default() -> None:
    assert read({}) == SessionSpec(
        code_interpreter_identifier=BUILTIN_INTERPRETER,
        session_name="team-a-sandbox",
        session_timeout_seconds=DEFAULT_TIMEOUT_SECONDS,
        region=DEFAULT_REGION,
        deletion_policy=DeletionPolicy.DELETE,
    )
    assert DEFAULT_TIMEOUT_SECONDS == 900


def test_every_field_given_is_taken_as_is() -> None:
    spec = read(
        {
            "codeInterpreterIdentifier": CUSTOM_ID,
            "sessionName": "analysis",
            "sessionTimeoutSeconds": 3600,
            "region": "eu-central-1",
            "deletionPolicy": "Retain",
        }
    )
    assert spec == SessionSpec(CUSTOM_ID, "analysis", 3600, "eu-central-1", DeletionPolicy.RETAIN)
    assert spec.interpreter_id == CUSTOM_ID
    assert not spec.is_builtin


def test_the_built_in_interpreter_is_built_in() -> None:
    spec = read({})
    assert spec.is_builtin
    assert spec.interpreter_id == BUILTIN_INTERPRETER


@pytest.mark.parametrize(
    ("namespace", "name", "expected"),
    [
        ("team-a", "sandbox", "team-a-sandbox"),
        ("default", "x", "default-x"),
        ("n" * 63, "m" * 253, ("n" * 63 + "-" + "m" * 253)[:100]),
        ("n" * 63, "m" * 36, "n" * 63 + "-" + "m" * 36),  # exactly 100
        ("n" * 63, "m" * 37, "n" * 63 + "-" + "m" * 36),  # one too many: cut
    ],
    ids=["short", "tiny", "longest names", "exactly 100", "101 cut to 100"],
)
def test_session_name_is_derived_from_namespace_and_name(namespace: str, name: str, expected: str) -> None:
    spec = read({}, namespace=namespace, name=name)
    assert spec.session_name == expected
    assert 1 <= len(spec.session_name) <= MAX_SESSION_NAME


def test_session_name_derivation_is_stable() -> None:
    """The name is sent with Start; a resumed Start must send the same one."""
    assert default_session_name("team-a", "sandbox") == default_session_name("team-a", "sandbox")


def test_a_derived_session_name_is_never_empty() -> None:
    assert 1 <= len(default_session_name("", "")) <= MAX_SESSION_NAME
    assert 1 <= len(read({}, namespace="", name="").session_name) <= MAX_SESSION_NAME


def test_an_explicit_session_name_wins_over_the_derived_one() -> None:
    assert read({"sessionName": "mine"}).session_name == "mine"


@pytest.mark.parametrize(
    "name", ["x", "x" * 100, "with spaces and ünïcode"], ids=["1", "100", "any characters"]
)
def test_session_names_within_bounds_are_accepted(name: str) -> None:
    """The AgentCore model constrains the name by length only (1..100), no pattern."""
    assert read({"sessionName": name}).session_name == name


@pytest.mark.parametrize("name", ["", "x" * 101, 42, ["a"]], ids=["empty", "101", "number", "list"])
def test_bad_session_names_are_spec_errors(name: object) -> None:
    with pytest.raises(SpecError, match=r"spec\.sessionName must be 1\.\.100 characters"):
        read({"sessionName": name})


@pytest.mark.parametrize(
    ("identifier", "region", "bare", "builtin"),
    [
        (arn("us-west-2"), "us-west-2", CUSTOM_ID, False),
        (arn("eu-west-1", BUILTIN_INTERPRETER, account="aws"), "eu-west-1", BUILTIN_INTERPRETER, True),
        (arn("cn-north-1", partition="aws-cn"), "cn-north-1", CUSTOM_ID, False),
        (arn("us-gov-west-1", partition="aws-us-gov"), "us-gov-west-1", CUSTOM_ID, False),
    ],
    ids=["custom", "built-in", "aws-cn", "aws-us-gov"],
)
def test_an_arn_gives_the_region_and_the_bare_id(
    identifier: str, region: str, bare: str, builtin: bool
) -> None:
    spec = read({"codeInterpreterIdentifier": identifier})
    assert spec.code_interpreter_identifier == identifier  # Start takes the ARN as given
    assert spec.region == region  # not the operator's default region
    assert spec.interpreter_id == bare  # GetCodeInterpreter takes the bare id
    assert spec.is_builtin is builtin


def test_an_arn_in_the_same_region_as_spec_region_is_fine() -> None:
    spec = read({"codeInterpreterIdentifier": arn("us-west-2"), "region": "us-west-2"})
    assert spec.region == "us-west-2"


def test_an_arn_in_another_region_than_spec_region_is_a_clear_error() -> None:
    with pytest.raises(SpecError) as caught:
        read({"codeInterpreterIdentifier": arn("us-west-2"), "region": "eu-west-1"})
    assert str(caught.value) == (
        "spec.codeInterpreterIdentifier is an ARN in us-west-2, but the session would run in eu-west-1"
    )


@pytest.mark.parametrize(
    "identifier",
    [
        "",
        "myInterpreter",  # no 10-character suffix
        "myInterpreter-abc",
        "1abc-a1b2c3d4e5",  # must start with a letter
        "my-interpreter-a1b2c3d4e5",  # '-' only before the suffix
        "a" * 49 + "-a1b2c3d4e5",  # name part longer than 48
        "aws.codeinterpreter.v2",
        "arn:aws:bedrock-agentcore:us-west-2:123456789012:code-interpreter-custom/nope",
        "arn:aws:s3:::bucket",
        42,
        None,
    ],
    ids=[
        "empty",
        "no suffix",
        "short suffix",
        "leading digit",
        "dash in name",
        "name too long",
        "unknown built-in",
        "ARN with a bad id",
        "other service ARN",
        "number",
        "null",
    ],
)
def test_bad_interpreter_identifiers_are_spec_errors(identifier: object) -> None:
    with pytest.raises(
        SpecError, match=r"spec\.codeInterpreterIdentifier .* is not an interpreter id or ARN"
    ):
        read({"codeInterpreterIdentifier": identifier})


@pytest.mark.parametrize(
    "region", ["us-east-1", "eu-central-2", "ap-southeast-5", "us-gov-west-1", "us-isob-east-1", "cn-north-1"]
)
def test_region_names_are_accepted(region: str) -> None:
    assert read({"region": region}).region == region


@pytest.mark.parametrize("region", ["mars", "US-EAST-1", "us-east", "us_east_1", 5], ids=str)
def test_bad_regions_are_spec_errors(region: object) -> None:
    with pytest.raises(SpecError, match=r"is not an AWS region name \(set spec\.region or --region\)"):
        read({"region": region})


def test_no_region_anywhere_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="region '' is not an AWS region name"):
        SessionSpec.from_resource(body({}), default_region="")


def test_an_empty_spec_region_falls_back_to_the_default() -> None:
    assert read({"region": ""}).region == DEFAULT_REGION


@pytest.mark.parametrize("timeout", [MIN_TIMEOUT_SECONDS, 900, MAX_TIMEOUT_SECONDS])
def test_timeouts_within_bounds_are_accepted(timeout: int) -> None:
    assert read({"sessionTimeoutSeconds": timeout}).session_timeout_seconds == timeout


@pytest.mark.parametrize(
    ("timeout", "message"),
    [
        (59, "spec.sessionTimeoutSeconds 59 is outside 60..28800"),
        (28801, "spec.sessionTimeoutSeconds 28801 is outside 60..28800"),
        (0, "spec.sessionTimeoutSeconds 0 is outside 60..28800"),
        (-900, "spec.sessionTimeoutSeconds -900 is outside 60..28800"),
        ("900", "spec.sessionTimeoutSeconds '900' is not an integer"),
        (900.0, "spec.sessionTimeoutSeconds 900.0 is not an integer"),
        (True, "spec.sessionTimeoutSeconds True is not an integer"),
        (None, "spec.sessionTimeoutSeconds None is not an integer"),
    ],
    ids=["below", "above", "zero", "negative", "string", "float", "bool", "null"],
)
def test_bad_timeouts_are_spec_errors(timeout: object, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        read({"sessionTimeoutSeconds": timeout})
    assert str(caught.value) == message


@pytest.mark.parametrize("policy", ["retain", "DELETE", "Keep", None, 1], ids=str)
def test_bad_deletion_policies_are_spec_errors(policy: object) -> None:
    with pytest.raises(SpecError, match=r"spec\.deletionPolicy .* is not Delete or Retain"):
        read({"deletionPolicy": policy})


@pytest.mark.parametrize("spec", [None, "text", ["a"], 1], ids=["missing", "string", "list", "number"])
def test_a_missing_or_odd_spec_is_a_spec_error(spec: object) -> None:
    resource: dict[str, Any] = {"metadata": {"namespace": "a", "name": "b"}}
    if spec is not None:
        resource["spec"] = spec
    with pytest.raises(SpecError, match="spec is missing or not an object"):
        SessionSpec.from_resource(resource, default_region=DEFAULT_REGION)


def test_spec_errors_are_value_errors() -> None:
    """The reconciler catches SpecError; anything else from a spec would crash a handler."""
    assert issubclass(SpecError, ValueError)


@pytest.mark.parametrize(
    "field",
    [{"codeInterpreterIdentifier": BUILTIN_INTERPRETER + "\n"}, {"region": "us-east-1\n"}],
    ids=["identifier", "region"],
)
def test_a_trailing_newline_is_a_spec_error(field: dict[str, str]) -> None:
    with pytest.raises(SpecError):
        read(field)


# --- parity with the CRD (the user-facing contract) -----------------------------------------------


def crd_schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD_PATH.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    properties: dict[str, Any] = version["schema"]["openAPIV3Schema"]["properties"]
    return properties


def test_the_crd_limits_match_the_model() -> None:
    spec = crd_schema()["spec"]["properties"]
    timeout = spec["sessionTimeoutSeconds"]
    assert (timeout["minimum"], timeout["maximum"], timeout["default"]) == (
        MIN_TIMEOUT_SECONDS,
        MAX_TIMEOUT_SECONDS,
        DEFAULT_TIMEOUT_SECONDS,
    )
    assert (spec["sessionName"]["minLength"], spec["sessionName"]["maxLength"]) == (1, MAX_SESSION_NAME)
    # No schema default: it would make codeInterpreterRef and the identifier never exclusive.
    # The built-in interpreter is the code's default (SessionSpec.from_resource).
    assert "default" not in spec["codeInterpreterIdentifier"]
    assert (
        SessionSpec.from_resource(
            {"metadata": {"name": "n", "namespace": "d"}, "spec": {}}, default_region="us-east-1"
        ).code_interpreter_identifier
        == BUILTIN_INTERPRETER
    )
    assert spec["deletionPolicy"]["enum"] == [p.value for p in DeletionPolicy]
    assert spec["deletionPolicy"]["default"] == DeletionPolicy.DELETE.value
    assert spec["region"]["pattern"] == REGION_RE.pattern
    assert crd_schema()["status"]["properties"]["phase"]["enum"] == [p.value for p in Phase]


@pytest.mark.parametrize(
    "identifier",
    [
        BUILTIN_INTERPRETER,
        CUSTOM_ID,
        "a-0123456789",
        "a" * 48 + "-0123456789",
        "a" * 49 + "-0123456789",
        arn("us-west-2"),
        arn("us-west-2", BUILTIN_INTERPRETER, account="aws"),
        arn("us-west-2", "nope"),
        "myInterpreter",
        "aws.codeinterpreter.v1 ",
    ],
)
def test_the_model_accepts_exactly_the_identifiers_the_crd_accepts(identifier: str) -> None:
    crd_pattern = re.compile(crd_schema()["spec"]["properties"]["codeInterpreterIdentifier"]["pattern"])
    by_crd = crd_pattern.search(identifier) is not None
    by_model = bool(INTERPRETER_ID_RE.match(identifier) or INTERPRETER_ARN_RE.match(identifier))
    assert by_model == by_crd


# --- SessionStatus --------------------------------------------------------------------------------

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)

FULL_STATUS = SessionStatus(
    phase=Phase.READY,
    session_id="01JSESSION0000000000000001",
    code_interpreter_identifier=BUILTIN_INTERPRETER,
    region="us-west-2",
    session_name="team-a-sandbox",
    session_timeout_seconds=900,
    created_at=T0,
    expires_at=T0 + timedelta(seconds=900),
    observed_generation=3,
    message="session 01JSESSION0000000000000001 is ready until 2026-03-01T12:15:00Z",
    conditions=(
        Condition("Ready", "True", "SessionReady", "ready", T0 + timedelta(seconds=5), 3),
        Condition("Other", "False", "Why", "because", T0),
    ),
)

FULL_DICT = {
    "phase": "Ready",
    "sessionId": "01JSESSION0000000000000001",
    "codeInterpreterIdentifier": BUILTIN_INTERPRETER,
    "region": "us-west-2",
    "sessionName": "team-a-sandbox",
    "sessionTimeoutSeconds": 900,
    "observedGeneration": 3,
    "message": "session 01JSESSION0000000000000001 is ready until 2026-03-01T12:15:00Z",
    "createdAt": "2026-03-01T12:00:00Z",
    "expiresAt": "2026-03-01T12:15:00Z",
    "conditions": [
        {
            "type": "Ready",
            "status": "True",
            "reason": "SessionReady",
            "message": "ready",
            "lastTransitionTime": "2026-03-01T12:00:05Z",
            "observedGeneration": 3,
        },
        {
            "type": "Other",
            "status": "False",
            "reason": "Why",
            "message": "because",
            "lastTransitionTime": "2026-03-01T12:00:00Z",
        },
    ],
}


def test_status_to_dict_uses_the_crd_field_names() -> None:
    assert FULL_STATUS.to_dict() == FULL_DICT


def test_status_round_trips() -> None:
    assert SessionStatus.from_dict(FULL_STATUS.to_dict()) == FULL_STATUS
    assert SessionStatus.from_dict(FULL_DICT).to_dict() == FULL_DICT


def test_status_keys_match_the_crd() -> None:
    crd_status = set(crd_schema()["status"]["properties"])
    assert set(FULL_DICT) <= crd_status


def test_an_empty_status_writes_nothing() -> None:
    assert SessionStatus().to_dict() == {}
    assert SessionStatus.from_dict(None) == SessionStatus()
    assert SessionStatus.from_dict({}) == SessionStatus()


def test_unset_fields_are_left_out_not_nulled() -> None:
    assert SessionStatus(phase=Phase.PENDING).to_dict() == {"phase": "Pending"}


def test_status_round_trip_drops_sub_second_precision() -> None:
    """Kubernetes timestamps have seconds; comparing written dicts must not see microseconds."""
    precise = SessionStatus(created_at=T0 + timedelta(microseconds=123456))
    assert precise.to_dict() == {"createdAt": "2026-03-01T12:00:00Z"}
    assert SessionStatus.from_dict(precise.to_dict()).created_at == T0


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"phase": "Sleeping"}, SessionStatus()),
        ({"phase": None}, SessionStatus()),
        ({"sessionId": 12, "region": ["x"]}, SessionStatus()),
        ({"sessionTimeoutSeconds": "900", "observedGeneration": True}, SessionStatus()),
        ({"createdAt": "yesterday", "expiresAt": 5}, SessionStatus()),
        ({"conditions": ["junk", None]}, SessionStatus()),
        ({"conditions": None}, SessionStatus()),
    ],
    ids=[
        "unknown phase",
        "null phase",
        "wrong string types",
        "wrong int types",
        "bad times",
        "junk conditions",
        "null conditions",
    ],
)
def test_a_garbled_status_reads_as_unset_never_raises(data: dict[str, Any], expected: SessionStatus) -> None:
    assert SessionStatus.from_dict(data) == expected


def test_a_condition_with_missing_fields_gets_safe_values() -> None:
    (condition,) = SessionStatus.from_dict({"conditions": [{"type": "Ready"}]}).conditions
    assert condition == Condition("Ready", "Unknown", "", "", EPOCH, None)


# --- with_condition -------------------------------------------------------------------------------


def ready(status: str, reason: str, at: datetime, message: str = "m") -> Condition:
    return Condition("Ready", status, reason, message, at, 1)


def test_with_condition_adds_a_new_condition_with_its_own_time() -> None:
    status = SessionStatus().with_condition(ready("False", "Starting", T0))
    assert status.conditions == (ready("False", "Starting", T0),)


def test_with_condition_keeps_the_transition_time_when_the_status_holds() -> None:
    later = T0 + timedelta(minutes=1)
    status = SessionStatus().with_condition(ready("False", "Starting", T0))
    updated = status.with_condition(ready("False", "Throttled", later, "slow down"))
    assert updated.conditions == (ready("False", "Throttled", T0, "slow down"),)


def test_with_condition_takes_the_new_time_when_the_status_changes() -> None:
    later = T0 + timedelta(minutes=1)
    status = SessionStatus().with_condition(ready("False", "Starting", T0))
    updated = status.with_condition(ready("True", "SessionReady", later))
    assert updated.conditions == (ready("True", "SessionReady", later),)


def test_with_condition_leaves_other_types_alone_and_keeps_one_per_type() -> None:
    other = Condition("Synced", "True", "Ok", "", T0)
    status = SessionStatus(conditions=(other,)).with_condition(ready("False", "Starting", T0))
    status = status.with_condition(ready("False", "Pending", T0 + timedelta(seconds=1)))
    assert status.condition("Synced") == other
    assert [c.type for c in status.conditions].count("Ready") == 1


def test_with_condition_does_not_change_the_original() -> None:
    status = SessionStatus()
    status.with_condition(ready("True", "SessionReady", T0))
    assert status.conditions == ()


def test_condition_looks_up_by_type() -> None:
    assert FULL_STATUS.condition("Ready") == FULL_STATUS.conditions[0]
    assert FULL_STATUS.condition("Missing") is None


# --- format_time / parse_time ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (T0, "2026-03-01T12:00:00Z"),
        (T0 + timedelta(microseconds=999999), "2026-03-01T12:00:00Z"),
        (datetime(2026, 3, 1, 14, 0, 0, tzinfo=timezone(timedelta(hours=2))), "2026-03-01T12:00:00Z"),
        (datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC), "2025-12-31T23:59:59Z"),
    ],
    ids=["utc", "drops microseconds", "converts offsets to UTC", "year end"],
)
def test_format_time_writes_rfc3339_utc_seconds(moment: datetime, text: str) -> None:
    assert format_time(moment) == text


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-03-01T12:00:00Z", T0),
        ("2026-03-01T12:00:00+00:00", T0),
        ("2026-03-01T14:00:00+02:00", T0),
        ("2026-03-01T12:00:00.250Z", T0 + timedelta(milliseconds=250)),
        ("2026-03-01T12:00:00", T0),  # no zone: taken as UTC
    ],
    ids=["Z", "+00:00", "offset", "fraction", "naive"],
)
def test_parse_time_reads_rfc3339(text: str, moment: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == moment
    assert parsed is not None
    assert parsed.tzinfo is not None


@pytest.mark.parametrize("value", [None, "", "not a time", "2026-13-01T00:00:00Z", 1740830400, T0], ids=repr)
def test_parse_time_returns_none_for_anything_else(value: object) -> None:
    assert parse_time(value) is None


def test_format_then_parse_is_the_identity_at_second_precision() -> None:
    for seconds in (0, 1, 59, 3600, 86399, 10**8):
        moment = T0 + timedelta(seconds=seconds)
        assert parse_time(format_time(moment)) == moment
