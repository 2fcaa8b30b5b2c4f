"""STS on the emulator's port, driven by boto3's `sts` client and botocore's own machinery.

botocore parses every answer here with its query-protocol parser (XML results, the
`<ErrorResponse>` error format), and its AssumeRole credential provider refreshes the
credentials the emulator issues. Credentials age on the wall clock, the one botocore
refreshes by; tests that need them expired inject that clock instead of sleeping.
"""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from agentcore_operator.local.agentcore import AgentCoreEmulator, EmulatorConfig
from agentcore_operator.local.agentcore.testing import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY, EmulatorHandle
from botocore import UNSIGNED
from botocore.config import Config
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    Credentials,
    RefreshableCredentials,
)

from .conftest import (
    ACCOUNT,
    BUILTIN,
    FrozenClock,
    StartEmulator,
    code_of,
    error_of,
    get,
    listed,
    serve,
    start,
)

TEAM_A = "111122223333"
TEAM_B = "444455556666"
TEAM_B_KEY = "AKIDTEAMBEXAMPLE0001"
ROLE_A = f"arn:aws:iam::{TEAM_A}:role/agentcore-team-a"
ROLE_B = f"arn:aws:iam::{TEAM_B}:role/path/agentcore-team-b"
EXTERNAL_ID = "tenant-a-3f9c"
ROLES: dict[str, Any] = {
    ROLE_A: {"external_id": EXTERNAL_ID},
    ROLE_B: {"trusted_accounts": {ACCOUNT}, "max_session_duration": 43200},
}


@pytest.fixture
def emulator(start_emulator: StartEmulator) -> EmulatorHandle:
    return start_emulator(accounts={TEAM_B_KEY: TEAM_B}, roles=ROLES)


@pytest.fixture
def sts(emulator: EmulatorHandle) -> Any:
    return emulator.client("sts")


def assume_a(sts: Any, **extra: Any) -> dict[str, Any]:
    params = {"RoleArn": ROLE_A, "RoleSessionName": "operator", "ExternalId": EXTERNAL_ID, **extra}
    answer: dict[str, Any] = sts.assume_role(**params)
    return answer


def client_of(
    emulator: EmulatorHandle, credentials: dict[str, Any], service: str = "bedrock-agentcore"
) -> Any:
    return emulator.client(
        service,
        access_key=credentials["AccessKeyId"],
        secret_key=credentials["SecretAccessKey"],
        session_token=credentials["SessionToken"],
    )


# STS writes Expiration to the millisecond; rounded to the nearest, it can be up to half a
# millisecond after the exact expiry, so a fresh credential can show a hair over its lifetime.
EXPIRATION_ROUNDING = 0.001


def seconds_left(credentials: dict[str, Any]) -> float:
    expiration: datetime = credentials["Expiration"]
    return (expiration - datetime.now(UTC)).total_seconds()


# -- GetCallerIdentity and AssumeRole ---------------------------------------------------------


def test_get_caller_identity_names_the_keys_account(emulator: EmulatorHandle, sts: Any) -> None:
    me = sts.get_caller_identity()
    assert (me["Account"], me["Arn"]) == (ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/emulator")
    assert me["UserId"].startswith("AIDA")
    assert emulator.client("sts", access_key=TEAM_B_KEY).get_caller_identity()["Account"] == TEAM_B


def test_assume_role_issues_credentials_of_the_roles_account(emulator: EmulatorHandle, sts: Any) -> None:
    tags = [{"Key": "team", "Value": "a"}, {"Key": "cost-center", "Value": "42"}]
    answer = assume_a(sts, DurationSeconds=900, Tags=tags, RoleSessionName="ns-team-a")
    credentials = answer["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA") and len(credentials["AccessKeyId"]) == 20
    assert credentials["SecretAccessKey"] and credentials["SessionToken"]
    assert (
        880 <= seconds_left(credentials) <= 900 + EXPIRATION_ROUNDING
    )  # botocore parsed the ISO 8601 Expiration
    assumed_arn = f"arn:aws:sts::{TEAM_A}:assumed-role/agentcore-team-a/ns-team-a"
    assert answer["AssumedRoleUser"]["Arn"] == assumed_arn
    assert answer["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA")
    assert answer["AssumedRoleUser"]["AssumedRoleId"].endswith(":ns-team-a")
    who = client_of(emulator, credentials, "sts").get_caller_identity()
    assert (who["Account"], who["Arn"], who["UserId"]) == (
        TEAM_A,
        assumed_arn,
        answer["AssumedRoleUser"]["AssumedRoleId"],
    )
    [issued] = emulator.issued_credentials()
    assert issued["tags"] == {"team": "a", "cost-center": "42"}
    assert (issued["externalId"], issued["roleArn"], issued["account"]) == (EXTERNAL_ID, ROLE_A, TEAM_A)
    assert issued["sourceArn"] == f"arn:aws:iam::{ACCOUNT}:user/emulator"
    assert "secret" not in str(issued).lower() and credentials["SessionToken"] not in str(issued)
    assert emulator.calls()["AssumeRole"] == {"Success": 1}


def test_duration_defaults_to_an_hour_and_a_role_name_keeps_only_its_last_segment(
    emulator: EmulatorHandle, sts: Any
) -> None:
    answer = sts.assume_role(RoleArn=ROLE_B, RoleSessionName="s1", DurationSeconds=43200)
    assert (
        43180 <= seconds_left(answer["Credentials"]) <= 43200 + EXPIRATION_ROUNDING
    )  # ROLE_B allows 12 hours
    assert answer["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{TEAM_B}:assumed-role/agentcore-team-b/s1"
    assert 3580 <= seconds_left(assume_a(sts)["Credentials"]) <= 3600 + EXPIRATION_ROUNDING


def test_the_lifetime_cap_shortens_what_is_asked(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(roles=ROLES, credential_lifetime_seconds=60)
    left = seconds_left(assume_a(emulator.client("sts"), DurationSeconds=3600)["Credentials"])
    assert 40 <= left <= 60 + EXPIRATION_ROUNDING


@pytest.mark.parametrize(
    ("params", "caller"),
    [
        pytest.param({"RoleArn": f"arn:aws:iam::{TEAM_A}:role/no-such-role"}, "dummy", id="unknown-role"),
        pytest.param({"RoleArn": ROLE_A, "ExternalId": "wrong-id"}, "dummy", id="wrong-external-id"),
        pytest.param({"RoleArn": ROLE_A}, "dummy", id="missing-external-id"),
        pytest.param({"RoleArn": ROLE_B}, "team-b", id="untrusted-account"),
    ],
)
def test_a_refused_role_is_access_denied(
    emulator: EmulatorHandle, params: dict[str, Any], caller: str
) -> None:
    client = emulator.client("sts", access_key=TEAM_B_KEY if caller == "team-b" else DUMMY_ACCESS_KEY)
    response = error_of(lambda: client.assume_role(RoleSessionName="s1", **params))
    assert response["Error"]["Code"] == "AccessDenied"
    assert response["Error"]["Type"] == "Sender"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["ResponseMetadata"]["RequestId"]  # from the XML body, as botocore reads it
    assert (
        f"not authorized to perform: sts:AssumeRole on resource: {params['RoleArn']}"
        in (response["Error"]["Message"])
    )
    assert emulator.issued_credentials() == []


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"RoleSessionName": "has space"}, "RoleSessionName"),
        ({"DurationSeconds": 43201}, "less than or equal to 43200"),
        ({"DurationSeconds": 7200}, "MaxSessionDuration"),  # ROLE_A keeps IAM's default of 1 hour
        ({"Tags": [{"Key": "team", "Value": "a"}, {"Key": "TEAM", "Value": "b"}]}, "Duplicate tag keys"),
        ({"Tags": [{"Key": "no!", "Value": "a"}]}, "Tags.1.member.Key"),
        ({"ExternalId": "has space"}, "ExternalId"),
    ],
)
def test_a_bad_request_is_a_validation_error(sts: Any, params: dict[str, Any], fragment: str) -> None:
    response = error_of(lambda: assume_a(sts, **params))
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ValidationError",
        400,
    )
    assert fragment in response["Error"]["Message"]


def test_role_chaining_acts_in_the_last_roles_account_for_at_most_an_hour(
    start_emulator: StartEmulator,
) -> None:
    chain_b = {"trusted_accounts": {TEAM_A}, "max_session_duration": 43200}  # trusts team A's sessions only
    emulator = start_emulator(roles={**ROLES, ROLE_B: chain_b})
    first = client_of(emulator, assume_a(emulator.client("sts"))["Credentials"], "sts")
    response = error_of(lambda: first.assume_role(RoleArn=ROLE_B, RoleSessionName="s1", DurationSeconds=7200))
    assert response["Error"]["Code"] == "ValidationError" and "role chaining" in response["Error"]["Message"]
    chained = first.assume_role(RoleArn=ROLE_B, RoleSessionName="chained")
    assert chained["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{TEAM_B}:assumed-role/agentcore-team-b/chained"
    assert emulator.issued_credentials()[-1]["sourceArn"].endswith("assumed-role/agentcore-team-a/operator")
    dummy = emulator.client("sts")
    assert code_of(lambda: dummy.assume_role(RoleArn=ROLE_B, RoleSessionName="s1")) == ("AccessDenied", 403)


def test_an_unknown_key_or_a_wrong_token_is_invalid(emulator: EmulatorHandle, sts: Any) -> None:
    stranger = emulator.client("sts", access_key="AKIDNOBODYKNOWS")
    assert code_of(stranger.get_caller_identity) == ("InvalidClientTokenId", 403)
    credentials = {**assume_a(sts)["Credentials"], "SessionToken": "forged"}
    assert code_of(client_of(emulator, credentials, "sts").get_caller_identity) == (
        "InvalidClientTokenId",
        403,
    )
    assert code_of(lambda: listed(client_of(emulator, credentials))) == ("UnrecognizedClientException", 403)


def test_expired_credentials_are_refused_on_both_protocols(start_emulator: StartEmulator) -> None:
    wall = FrozenClock(time.time())
    with serve(AgentCoreEmulator(EmulatorConfig(tps=0, roles=ROLES), wall_clock=wall)) as emulator:
        credentials = assume_a(emulator.client("sts"), DurationSeconds=900)["Credentials"]
        data, sts = client_of(emulator, credentials), client_of(emulator, credentials, "sts")
        session_id = start(data)["sessionId"]
        wall.advance(899.9)
        assert get(data, session_id)["status"] == "READY"
        wall.advance(0.1)
        assert code_of(lambda: get(data, session_id)) == ("ExpiredTokenException", 403)
        assert code_of(lambda: start(data)) == ("ExpiredTokenException", 403)
        assert code_of(sts.get_caller_identity) == ("ExpiredToken", 403)
        assert emulator.issued_credentials()[0]["expired"] is True
        fresh = client_of(emulator, assume_a(emulator.client("sts"))["Credentials"])
        assert get(fresh, session_id)["status"] == "READY"  # the same account, new credentials


def test_operations_the_emulator_does_not_serve_are_invalid_actions(sts: Any) -> None:
    response = error_of(sts.get_session_token)
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "InvalidAction",
        400,
    )
    assert "AssumeRole and GetCallerIdentity" in response["Error"]["Message"]


def test_an_unsigned_call_is_answered_in_stss_own_format(emulator: EmulatorHandle) -> None:
    unsigned = boto3.session.Session(region_name="us-east-1").client(
        "sts", endpoint_url=emulator.endpoint_url, config=Config(signature_version=UNSIGNED)
    )
    assert code_of(unsigned.get_caller_identity) == ("MissingAuthenticationToken", 403)
    # botocore sends this one unsigned (IRSA): the answer says it is not served.
    web_identity = lambda: unsigned.assume_role_with_web_identity(  # noqa: E731
        RoleArn=ROLE_A, RoleSessionName="pod", WebIdentityToken="x" * 10
    )
    assert code_of(web_identity) == ("InvalidAction", 400)


# -- botocore's refreshable credentials ---------------------------------------------------------


def test_a_profile_with_role_arn_refreshes_across_expiries(
    start_emulator: StartEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore's own AssumeRoleProvider, from a shared config profile, as a user sets it up.

    botocore refreshes when less than 15 minutes are left (advisory) and blocks for it under
    10 (mandatory). With a 2-second lifetime every request is inside both windows, so
    botocore assumes the role again before each one: no call ever carries expired credentials.
    """
    emulator = start_emulator(roles=ROLES, credential_lifetime_seconds=2)
    config = tmp_path / "config"
    config.write_text(
        f"[profile base]\naws_access_key_id = {DUMMY_ACCESS_KEY}\naws_secret_access_key = {DUMMY_SECRET_KEY}\n"
        f"[profile tenant]\nrole_arn = {ROLE_A}\nsource_profile = base\nexternal_id = {EXTERNAL_ID}\n"
        f"role_session_name = tenant-a\nduration_seconds = 900\nregion = us-east-1\n"
        f"endpoint_url = {emulator.endpoint_url}\n"
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    session = boto3.Session(profile_name="tenant")
    data = session.client("bedrock-agentcore", config=Config(retries={"total_max_attempts": 1}))
    began = time.monotonic()
    started = [start(data)["sessionId"] for _ in range(3)]
    while time.monotonic() - began < 5:  # two lifetimes and a half
        assert [get(data, session_id)["status"] for session_id in started] == ["READY"] * 3
        time.sleep(0.4)
    assert session.get_credentials().method == "assume-role"
    assert {s["account"] for s in emulator.sessions()} == {TEAM_A}
    calls = emulator.calls()
    agentcore = sum(
        calls[op]["Success"] for op in ("StartCodeInterpreterSession", "GetCodeInterpreterSession")
    )
    assert set(calls["StartCodeInterpreterSession"]) == set(calls["GetCodeInterpreterSession"]) == {"Success"}
    assert calls["AssumeRole"] == {"Success": agentcore}  # one refresh per call: all inside the windows
    assert len({c["accessKeyId"] for c in emulator.issued_credentials()}) == agentcore


class ShortWindowAssumeRole(CredentialProvider):  # type: ignore[misc]
    """botocore's AssumeRole fetcher, with the refresh windows scaled down with the lifetime.

    `RefreshableCredentials.create_from_metadata` takes the windows as arguments; the
    provider goes first in the session's credential chain (`insert_before("env", ...)`).
    """

    METHOD = "assume-role-short-windows"

    def __init__(self, endpoint_url: str, advisory: float, mandatory: float) -> None:
        base = botocore.session.Session()
        self.fetcher = AssumeRoleCredentialFetcher(
            client_creator=functools.partial(
                base.create_client, region_name="us-east-1", endpoint_url=endpoint_url
            ),
            source_credentials=Credentials(DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY),
            role_arn=ROLE_A,
            extra_args={"ExternalId": EXTERNAL_ID, "RoleSessionName": "windows", "DurationSeconds": 900},
            expiry_window_seconds=advisory,
        )
        self.advisory, self.mandatory = advisory, mandatory

    def load(self) -> RefreshableCredentials:
        return RefreshableCredentials.create_from_metadata(
            metadata=self.fetcher.fetch_credentials(),
            refresh_using=self.fetcher.fetch_credentials,
            method=self.METHOD,
            advisory_timeout=self.advisory,
            mandatory_timeout=self.mandatory,
        )


def botocore_session_with(provider: CredentialProvider) -> botocore.session.Session:
    session = botocore.session.Session()
    session.get_component("credential_provider").insert_before("env", provider)
    return session


def test_refreshes_in_the_advisory_window_and_reuses_fresh_credentials(start_emulator: StartEmulator) -> None:
    """Lifetime 3 s, advisory window 1.5 s, mandatory 0.75 s (the defaults' 15 and 10 minutes,
    scaled down): each credential serves the calls of its first 1.5 seconds, then botocore
    assumes the role again; several lifetimes pass and no call is refused."""
    emulator = start_emulator(roles=ROLES, credential_lifetime_seconds=3)
    session = boto3.Session(
        botocore_session=botocore_session_with(ShortWindowAssumeRole(emulator.endpoint_url, 1.5, 0.75)),
        region_name="us-east-1",
    )
    data = session.client(
        "bedrock-agentcore",
        endpoint_url=emulator.endpoint_url,
        config=Config(retries={"total_max_attempts": 1}),
    )
    session_id = start(data)["sessionId"]
    began, done = time.monotonic(), 1
    while time.monotonic() - began < 8:  # two lifetimes and a half
        assert get(data, session_id)["status"] == "READY"
        done += 1
        time.sleep(0.05)
    calls = emulator.calls()
    assert calls["GetCodeInterpreterSession"] == {"Success": done - 1}
    refreshes = calls["AssumeRole"]["Success"]
    assert 3 <= refreshes <= 12, refreshes  # about one per 1.5 s (a slow machine adds some)
    assert done >= 3 * refreshes  # credentials are reused while fresh
    assert {s["account"] for s in emulator.sessions()} == {TEAM_A}


def test_the_official_sdk_works_with_assumed_role_credentials(emulator: EmulatorHandle, sts: Any) -> None:
    pytest.importorskip("bedrock_agentcore")
    from .test_sdk import run_with_sdk

    credentials = assume_a(sts)["Credentials"]
    script = (
        "import json\n"
        "from bedrock_agentcore.tools.code_interpreter_client import CodeInterpreter\n"
        "client = CodeInterpreter('us-east-1')\n"
        "session_id = client.start(session_timeout_seconds=120)\n"
        "out = [e['result'] for e in client.execute_code('print(6 * 7)')['stream']]\n"
        "client.stop()\n"
        "print(json.dumps({'sessionId': session_id, 'stdout': out[0]['structuredContent']['stdout']}))\n"
    )
    seen = run_with_sdk(
        emulator,
        script,
        AWS_ACCESS_KEY_ID=credentials["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=credentials["SecretAccessKey"],
        AWS_SESSION_TOKEN=credentials["SessionToken"],
    )
    assert seen["stdout"] == "42\n"
    [session] = emulator.sessions(account=TEAM_A)
    assert (session["sessionId"], session["status"]) == (seen["sessionId"], "TERMINATED")
    assert emulator.sessions(account=ACCOUNT) == []


def test_builtin_is_listed_the_same_in_every_account(emulator: EmulatorHandle, sts: Any) -> None:
    control = client_of(emulator, assume_a(sts)["Credentials"], "bedrock-agentcore-control")
    assert control.get_code_interpreter(codeInterpreterId=BUILTIN)["status"] == "READY"
