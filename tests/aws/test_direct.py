"""Direct session calls (aws/direct.py) against boto3's own call path, over real HTTP.

The claim is "the same request and the same answer as botocore". So every test here makes the
same call twice, through a client with direct calls and through one without, and compares
what the other side received (a recording server started here) or what the caller got back
(the AgentCore emulator, with its faults). The clock botocore signs with is fixed, so the
signatures themselves must match.
"""

from __future__ import annotations

import datetime
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import botocore.auth
import botocore.session
import pytest
from agentcore_operator.aws import direct
from agentcore_operator.aws.clients import AWS_CALL_PATHS, DATA_PLANE, ClientFactory
from agentcore_operator.local.agentcore import EmulatorConfig, FaultRule
from agentcore_operator.local.agentcore.testing import running_emulator
from agentcore_operator.local.harness import dummy_boto_session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials, RefreshableCredentials
from botocore.exceptions import ClientError, NoCredentialsError, ParamValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BUILTIN = "aws.codeinterpreter.v1"
ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:code-interpreter-custom/team_a-ci-Xy12"
REGION = "us-east-1"
FIXED_NOW = datetime.datetime(2026, 12, 1, 12, 30, 5, tzinfo=datetime.UTC)
SESSION_ANSWER = {
    "codeInterpreterIdentifier": BUILTIN,
    "sessionId": "S0M3S3SS10N",
    "createdAt": "2026-12-01T12:30:05.123Z",
    "status": "READY",
}
INVOCATION_ID = "amz-sdk-invocation-id"

# (method, operation parameters): every session operation, with the members that move bytes
CALLS: list[tuple[str, dict[str, Any]]] = [
    (
        "start_code_interpreter_session",
        {
            "codeInterpreterIdentifier": ARN,
            "name": "job 7 / naïve",
            "sessionTimeoutSeconds": 900,
            "clientToken": "c" * 40,
            "certificates": [{"location": {"secretsManager": {"secretArn": "arn:aws:secretsmanager:x"}}}],
            "traceId": "Root=1-67891233-abcdef012345678912345678",
        },
    ),
    ("start_code_interpreter_session", {"codeInterpreterIdentifier": BUILTIN, "clientToken": "t" * 33}),
    ("get_code_interpreter_session", {"codeInterpreterIdentifier": ARN, "sessionId": "S0M3S3SS10N"}),
    (
        "stop_code_interpreter_session",
        {"codeInterpreterIdentifier": BUILTIN, "sessionId": "S0M3S3SS10N", "clientToken": "s" * 33},
    ),
    (
        "list_code_interpreter_sessions",
        {"codeInterpreterIdentifier": ARN, "status": "READY", "maxResults": 50, "nextToken": "a+b/c=="},
    ),
]


class Recorder(ThreadingHTTPServer):
    """Records each request as received (request line, headers in order, body) and answers
    with `answer` (status, JSON body, extra headers)."""

    daemon_threads = True

    def __init__(self) -> None:
        self.received: list[tuple[str, list[tuple[str, str]], bytes]] = []
        self.answer: tuple[int, dict[str, Any], dict[str, str]] = (200, SESSION_ANSWER, {})
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Recorder

    def _any(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append((self.requestline, list(self.headers.items()), body))
        status, document, extra = self.server.answer
        reply = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-RequestId", "req-1")
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_PUT = do_POST = _any

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: FIXED_NOW)


def both(endpoint_url: str, session: boto3.session.Session | None = None) -> dict[str, Any]:
    """A data-plane client per call path, from the operator's ClientFactory."""
    return {
        calls: ClientFactory(
            endpoint_url=endpoint_url,
            session=session or dummy_boto_session(),
            calls=calls,
            user_agent_extra="agentcore-operator/test",
        ).data(REGION)
        for calls in AWS_CALL_PATHS
    }


def sent_twice(recorder: Recorder, clients: dict[str, Any], method: str, params: dict[str, Any]) -> list[Any]:
    """What the server received from each client for the same call, the invocation ids set aside."""
    seen = []
    for calls in AWS_CALL_PATHS:
        del recorder.received[:]
        getattr(clients[calls], method)(**params)
        [(line, headers, body)] = recorder.received
        ids = [value for name, value in headers if name == INVOCATION_ID]
        assert len(ids) == 1 and uuid.UUID(ids[0]).version == 4
        seen.append((line, [(n, v) for n, v in headers if n != INVOCATION_ID], body))
    return seen


def is_direct(client: Any, method: str) -> bool:
    return getattr(client, method).__doc__.endswith("(agentcore_operator.aws.direct).")


# --- the request ---------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "params"), CALLS, ids=[f"{m}-{i}" for i, (m, _) in enumerate(CALLS)])
def test_every_session_call_sends_botocores_bytes(
    recorder: Recorder, fixed_clock: None, method: str, params: dict[str, Any]
) -> None:
    clients = both(recorder.url)
    assert is_direct(clients["direct"], method) and not is_direct(clients["botocore"], method)
    ours, botocores = sent_twice(recorder, clients, method, params)
    assert ours == botocores
    _, headers, _ = ours
    assert "agentcore-operator/test" in dict(headers)["User-Agent"]
    assert dict(headers)["amz-sdk-request"] == "attempt=1; max=1"
    assert dict(headers)["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLEAGENTCORE/20261201/"
    )


def test_temporary_credentials_send_their_token_signed(recorder: Recorder, fixed_clock: None) -> None:
    session = boto3.session.Session(
        aws_access_key_id="ASIATEMPORARY",
        aws_secret_access_key="s3cr3t",
        aws_session_token="FwoG+token/=",
        region_name=REGION,
    )
    ours, botocores = sent_twice(
        recorder, both(recorder.url, session), "get_code_interpreter_session", dict(CALLS[2][1])
    )
    assert ours == botocores
    headers = dict(ours[1])
    assert headers["X-Amz-Security-Token"] == "FwoG+token/="
    assert "x-amz-security-token" in headers["Authorization"].split("SignedHeaders=")[1]


def test_a_missing_client_token_is_generated_as_botocore_does(recorder: Recorder, fixed_clock: None) -> None:
    clients = both(recorder.url)
    bodies = []
    for calls in AWS_CALL_PATHS:
        del recorder.received[:]
        clients[calls].start_code_interpreter_session(codeInterpreterIdentifier=BUILTIN)
        bodies.append(json.loads(recorder.received[0][2]))
    assert [set(body) for body in bodies] == [{"clientToken"}, {"clientToken"}]
    assert all(uuid.UUID(body["clientToken"]).version == 4 for body in bodies)


def test_the_recursion_detection_header_inside_lambda(
    recorder: Recorder, fixed_clock: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "fn")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1 x")
    ours, botocores = sent_twice(recorder, both(recorder.url), *CALLS[2])
    assert ours == botocores
    assert dict(ours[1])["X-Amzn-Trace-Id"] == "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1%20x"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    identifier=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=30),
    session_id=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=30),
)
def test_any_identifier_is_encoded_and_signed_as_botocore_does(
    recorder: Recorder, fixed_clock: None, identifier: str, session_id: str
) -> None:
    ours, botocores = sent_twice(
        recorder,
        both(recorder.url),
        "stop_code_interpreter_session",
        {"codeInterpreterIdentifier": identifier, "sessionId": session_id, "clientToken": "x" * 33},
    )
    assert ours == botocores


def test_invalid_parameters_fail_as_botocore_fails(recorder: Recorder) -> None:
    clients = both(recorder.url)
    messages = []
    for calls in AWS_CALL_PATHS:
        with pytest.raises(ParamValidationError) as refused:
            clients[calls].start_code_interpreter_session(
                codeInterpreterIdentifier=BUILTIN, sessionTimeoutSeconds="9"
            )
        messages.append(str(refused.value))
    assert messages[0] == messages[1]
    assert recorder.received == []


# --- the answer ----------------------------------------------------------------------------


def without_request_ids(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer with what differs per request (ids, dates, lengths) removed."""
    metadata = dict(answer["ResponseMetadata"])
    metadata.pop("RequestId")
    metadata["HTTPHeaders"] = {
        name: value
        for name, value in metadata["HTTPHeaders"].items()
        if name not in ("x-amzn-requestid", "date", "content-length")
    }
    return {**answer, "ResponseMetadata": metadata}


def test_answers_and_errors_are_botocores_against_the_emulator() -> None:
    answers: dict[str, list[Any]] = {calls: [] for calls in AWS_CALL_PATHS}
    for calls in AWS_CALL_PATHS:  # each against a fresh emulator: the same seed, the same session ids
        faults = (FaultRule(operation="GetCodeInterpreterSession", error="ThrottlingException", count=1),)
        with running_emulator(EmulatorConfig(tps=0, faults=faults)) as emulator:
            client = both(emulator.endpoint_url)[calls]
            started = client.start_code_interpreter_session(
                codeInterpreterIdentifier=BUILTIN, clientToken="k" * 33
            )
            session_id = started["sessionId"]
            assert started["createdAt"].utcoffset() == datetime.timedelta(0)
            answers[calls].append(without_request_ids(started) | {"createdAt": "-"})
            for params in [
                {"sessionId": session_id},  # throttled (the fault)
                {"sessionId": "NOSUCHSESSION"},  # not found
                {"sessionId": "NOT VALID"},  # the service's validation
            ]:
                with pytest.raises(ClientError) as failed:
                    client.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, **params)
                answers[calls].append(
                    (type(failed.value).__name__, without_request_ids(failed.value.response))
                )
            got = client.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=session_id)
            assert got["createdAt"].utcoffset() == datetime.timedelta(0)
            answers[calls].append(without_request_ids(got) | {"createdAt": "-"})
            listed = client.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN, status="READY")
            answers[calls].append(
                without_request_ids(listed) | {"items": [item["sessionId"] for item in listed["items"]]}
            )
            stopped = client.stop_code_interpreter_session(
                codeInterpreterIdentifier=BUILTIN, sessionId=session_id, clientToken="q" * 33
            )
            answers[calls].append(without_request_ids(stopped) | {"lastUpdatedAt": "-"})
    assert answers["direct"] == answers["botocore"]
    kinds = [entry[0] for entry in answers["direct"][1:4]]
    assert kinds == ["ThrottlingException", "ResourceNotFoundException", "ValidationException"]
    assert answers["direct"][3][1]["fieldList"][0]["name"] == "sessionId"  # the modeled error fields


def test_an_answer_botocore_cannot_read_fails_the_same_way(recorder: Recorder) -> None:
    recorder.answer = (502, {"oops": True}, {})
    clients = both(recorder.url)
    errors = []
    for calls in AWS_CALL_PATHS:
        with pytest.raises(ClientError) as failed:
            clients[calls].get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId="S")
        errors.append((type(failed.value).__name__, without_request_ids(failed.value.response)))
    assert errors[0] == errors[1]
    assert errors[0][1]["ResponseMetadata"]["HTTPStatusCode"] == 502


# --- credentials ---------------------------------------------------------------------------


def test_no_credentials_fail_as_botocore_fails(recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    clients = both(recorder.url, boto3.session.Session(region_name=REGION))
    for client in clients.values():
        with pytest.raises(NoCredentialsError):
            client.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId="S")
    assert recorder.received == []


def test_expired_credentials_are_refreshed_before_signing(recorder: Recorder) -> None:
    issued: list[str] = []

    def refresh() -> dict[str, str]:
        issued.append(f"ASIAKEY{len(issued)}")
        expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(
            seconds=1 if len(issued) == 1 else 3600
        )
        return {"access_key": issued[-1], "secret_key": "s", "token": "t", "expiry_time": expiry.isoformat()}

    core = botocore.session.Session()
    core._credentials = RefreshableCredentials.create_from_metadata(refresh(), refresh, "test")
    client = ClientFactory(
        endpoint_url=recorder.url, session=boto3.session.Session(botocore_session=core)
    ).data(REGION)
    assert is_direct(client, "get_code_interpreter_session")
    client.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId="S")
    # The first credentials expire within botocore's refresh window: they are refreshed first.
    assert "Credential=ASIAKEY1/" in dict(recorder.received[-1][1])["Authorization"]


# --- which clients -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        Config(retries={"total_max_attempts": 3, "mode": "standard"}),
        Config(retries={"total_max_attempts": 1, "mode": "adaptive"}),
        Config(retries={"total_max_attempts": 1, "mode": "standard"}, auth_scheme_preference="sigv4a"),
        Config(retries={"total_max_attempts": 1, "mode": "standard"}, signature_version="v4a"),
    ],
    ids=["retries", "adaptive", "auth-preference", "signature-version"],
)
def test_a_client_configured_beyond_the_mirror_keeps_botocores_path(config: Config) -> None:
    client = dummy_boto_session().client(
        DATA_PLANE, region_name=REGION, endpoint_url="http://127.0.0.1:9", config=config
    )
    assert direct.install_on(client) is None
    assert not is_direct(client, "get_code_interpreter_session")


def test_the_control_plane_and_the_botocore_setting_keep_botocores_path() -> None:
    factory = ClientFactory(endpoint_url="http://127.0.0.1:9", session=dummy_boto_session())
    assert not hasattr(factory.control(REGION), "list_code_interpreter_sessions")
    assert is_direct(factory.data(REGION), "list_code_interpreter_sessions")
    assert not is_direct(factory.data(REGION), "invoke_code_interpreter")  # not a session call: botocore's
    botocores = ClientFactory(
        endpoint_url="http://127.0.0.1:9", session=dummy_boto_session(), calls="botocore"
    )
    assert not is_direct(botocores.data(REGION), "get_code_interpreter_session")
    with pytest.raises(ValueError, match="calls 'raw' is not one of direct, botocore"):
        ClientFactory(calls="raw")


def test_calls_count_what_they_sent(recorder: Recorder) -> None:
    client = dummy_boto_session().client(
        DATA_PLANE,
        region_name=REGION,
        endpoint_url=recorder.url,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    calls = direct.install_on(client)
    assert calls is not None
    client.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId="S")
    client.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN)
    assert calls.sent == 2 and len(recorder.received) == 2


# --- the signer, against SigV4Auth ---------------------------------------------------------

header_names = st.sampled_from(
    ["Content-Type", "X-Amz-Target", "x-custom", "X-Amzn-Trace-Id", "User-Agent", "Accept"]
)


@settings(max_examples=200, deadline=None)
@given(
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE"]),
    path=st.lists(st.text("abcXYZ019-_.~%:/ é+", min_size=0, max_size=8), max_size=4),
    query=st.lists(
        st.tuples(st.text("abz09%-_.", max_size=5), st.text("abz09%-_.=+", max_size=5)), max_size=4
    ),
    headers=st.dictionaries(header_names, st.text("ab  c\t1;=/", max_size=12), max_size=4),
    body=st.binary(max_size=64),
    token=st.none() | st.text("AbC012+/=", min_size=1, max_size=20),
    port=st.sampled_from(["", ":443", ":8443"]),
)
def test_sign_v4_is_sigv4auth(
    method: str,
    path: list[str],
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    token: str | None,
    port: str,
) -> None:
    url = f"https://bedrock-agentcore.us-east-1.amazonaws.com{port}/" + "/".join(path)
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query)
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    botocores = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    ours = dict(headers)
    original = botocore.auth.get_current_datetime
    try:
        botocore.auth.get_current_datetime = lambda: FIXED_NOW  # type: ignore[attr-defined]
        SigV4Auth(credentials, "bedrock-agentcore", "us-east-1").add_auth(botocores)
        direct.sign_v4(
            method, url, ours, body, credentials.get_frozen_credentials(), "us-east-1", "bedrock-agentcore"
        )
    finally:
        botocore.auth.get_current_datetime = original  # type: ignore[attr-defined]
    assert list(ours.items()) == list(botocores.headers.items())


def test_signing_keys_are_derived_once_a_day_and_bounded() -> None:
    keys = direct.SigningKeys()
    first = keys.key("secret", "20261201", "us-east-1", "bedrock-agentcore")
    assert keys.key("secret", "20261201", "us-east-1", "bedrock-agentcore") is first
    assert keys.key("secret", "20261202", "us-east-1", "bedrock-agentcore") != first
    for day in range(direct.SIGNING_KEYS_KEPT * 2):
        keys.key("secret", f"2027{day:04d}", "us-east-1", "bedrock-agentcore")
    assert len(keys._keys) <= direct.SIGNING_KEYS_KEPT


def test_the_signing_key_is_aws_documented_one() -> None:
    # AWS's SigV4 documentation example: secret, 20150830, us-east-1, iam.
    key = direct.SigningKeys().key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam")
    assert key.hex() == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
