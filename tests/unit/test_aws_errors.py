"""Error classification at the AWS edge: real botocore exceptions in, one ApiError kind out."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from agentcore_operator.aws.errors import classify
from agentcore_operator.runtime.errors import RETRYABLE_KINDS, ApiError, ErrorKind
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
    UnknownServiceError,
)

OPERATION = "StartCodeInterpreterSession"


def client_error(code: str | None, status: int | None, message: str | None = "the message") -> ClientError:
    """A ClientError shaped as botocore builds it from an error response."""
    error: dict[str, Any] = {}
    if code is not None:
        error["Code"] = code
    if message is not None:
        error["Message"] = message
    response: dict[str, Any] = {"Error": error}
    if status is not None:
        response["ResponseMetadata"] = {"HTTPStatusCode": status, "RequestId": "req-1"}
    return ClientError(response, OPERATION)  # type: ignore[arg-type]


# The codes AgentCore's model declares, with their HTTP statuses (see test below), and a few
# that AWS's shared front end returns for any service.
CODES = {
    "ThrottlingException": (429, ErrorKind.THROTTLED),
    "ServiceQuotaExceededException": (402, ErrorKind.QUOTA_EXCEEDED),
    "InternalServerException": (500, ErrorKind.UNAVAILABLE),
    "ServiceUnavailableException": (503, ErrorKind.UNAVAILABLE),
    "AccessDeniedException": (403, ErrorKind.ACCESS_DENIED),
    "UnrecognizedClientException": (403, ErrorKind.ACCESS_DENIED),
    "ExpiredTokenException": (403, ErrorKind.ACCESS_DENIED),
    "InvalidSignatureException": (403, ErrorKind.ACCESS_DENIED),
    "ValidationException": (400, ErrorKind.INVALID),
    "ResourceNotFoundException": (404, ErrorKind.NOT_FOUND),
    "ConflictException": (409, ErrorKind.CONFLICT),
    "TooManyRequestsException": (429, ErrorKind.THROTTLED),
}


@pytest.mark.parametrize(
    ("code", "status", "kind"), [(c, s, k) for c, (s, k) in CODES.items()], ids=CODES.keys()
)
def test_known_codes_map_to_their_kind(code: str, status: int, kind: ErrorKind) -> None:
    error = classify(client_error(code, status, "AWS says why"), OPERATION)
    assert error == ApiError(kind, OPERATION, code, "AWS says why", status)


@pytest.mark.parametrize(
    ("code", "status"),
    [("ThrottlingException", 400), ("ValidationException", 500), ("AccessDeniedException", None)],
    ids=["throttling sent as 400", "validation sent as 500", "no status"],
)
def test_the_code_wins_over_the_status(code: str, status: int | None) -> None:
    assert classify(client_error(code, status), OPERATION).kind is CODES[code][1]


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, ErrorKind.THROTTLED),
        (500, ErrorKind.UNAVAILABLE),
        (502, ErrorKind.UNAVAILABLE),
        (503, ErrorKind.UNAVAILABLE),
        (504, ErrorKind.UNAVAILABLE),
        (401, ErrorKind.ACCESS_DENIED),
        (403, ErrorKind.ACCESS_DENIED),
        (404, ErrorKind.NOT_FOUND),
        (409, ErrorKind.CONFLICT),
        (400, ErrorKind.UNKNOWN),
        (402, ErrorKind.UNKNOWN),
        (418, ErrorKind.UNKNOWN),
        (None, ErrorKind.UNKNOWN),
    ],
    ids=str,
)
def test_unknown_codes_fall_back_to_the_http_status(status: int | None, kind: ErrorKind) -> None:
    error = classify(client_error("BrandNewException", status), OPERATION)
    assert error.kind is kind
    assert error.code == "BrandNewException"
    assert error.http_status == status


def test_a_client_error_without_code_or_message_still_says_something() -> None:
    error = classify(client_error(None, 500, None), OPERATION)
    assert error.code == "Unknown"
    assert error.kind is ErrorKind.UNAVAILABLE
    assert error.message  # botocore's own rendering of the failure


def test_the_operation_is_recorded() -> None:
    assert (
        classify(client_error("ThrottlingException", 429), "GetCodeInterpreter").operation
        == "GetCodeInterpreter"
    )


@pytest.mark.parametrize(
    "exc",
    [
        EndpointConnectionError(endpoint_url="https://bedrock-agentcore.us-east-1.amazonaws.com"),
        ConnectTimeoutError(endpoint_url="https://bedrock-agentcore.us-east-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://bedrock-agentcore.us-east-1.amazonaws.com"),
        ConnectionClosedError(endpoint_url="https://bedrock-agentcore.us-east-1.amazonaws.com"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_network_failures_are_aws_unavailable(exc: Exception) -> None:
    error = classify(exc, OPERATION)
    assert error.kind is ErrorKind.UNAVAILABLE
    assert error.kind.value == "AWSUnavailable"
    assert error.code == type(exc).__name__
    assert "bedrock-agentcore.us-east-1.amazonaws.com" in error.message
    assert error.retryable


@pytest.mark.parametrize(
    "exc",
    [
        NoCredentialsError(),
        PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
        CredentialRetrievalError(provider="web-identity", error_msg="token file missing"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_missing_credentials_are_access_denied(exc: Exception) -> None:
    """Retried slowly: IRSA or Pod Identity credentials may appear a moment after start-up."""
    error = classify(exc, OPERATION)
    assert (error.kind, error.code) == (ErrorKind.ACCESS_DENIED, "NoCredentials")
    assert error.retryable


@pytest.mark.parametrize(
    ("exc", "code"),
    [(NoRegionError(), "NoRegion"), (ParamValidationError(report="name is too long"), "ParamValidation")],
    ids=["no region", "param validation"],
)
def test_local_validation_failures_are_invalid_requests(exc: Exception, code: str) -> None:
    error = classify(exc, OPERATION)
    assert (error.kind, error.code) == (ErrorKind.INVALID, code)
    assert not error.retryable


def test_a_param_validation_error_keeps_botocores_report() -> None:
    error = classify(ParamValidationError(report="Invalid length for parameter name"), OPERATION)
    assert "Invalid length for parameter name" in error.message


@pytest.mark.parametrize(
    "exc",
    [UnknownServiceError(service_name="x", known_service_names="y"), BotoCoreError()],
    ids=["UnknownServiceError", "BotoCoreError"],
)
def test_other_botocore_errors_are_unknown(exc: Exception) -> None:
    error = classify(exc, OPERATION)
    assert (error.kind, error.code) == (ErrorKind.UNKNOWN, type(exc).__name__)


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (RuntimeError("boom"), "RuntimeError"),
        (KeyError("sessionId"), "KeyError"),
        (ValueError(), "ValueError"),
    ],
    ids=["runtime", "key", "empty message"],
)
def test_anything_else_is_unknown_with_a_message(exc: Exception, code: str) -> None:
    error = classify(exc, OPERATION)
    assert (error.kind, error.code) == (ErrorKind.UNKNOWN, code)
    assert error.message


def test_an_api_error_passes_through_untouched() -> None:
    original = ApiError(ErrorKind.CONFLICT, "StopCodeInterpreterSession", "ConflictException", "busy", 409)
    assert classify(original, OPERATION) is original


# --- the kinds themselves -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "retryable"),
    [
        (ErrorKind.THROTTLED, True),
        (ErrorKind.QUOTA_EXCEEDED, True),
        (ErrorKind.UNAVAILABLE, True),
        (ErrorKind.ACCESS_DENIED, True),
        (ErrorKind.CONFLICT, True),
        (ErrorKind.UNKNOWN, True),
        (ErrorKind.INVALID, False),
        (ErrorKind.NOT_FOUND, False),
    ],
    ids=str,
)
def test_retryable_kinds(kind: ErrorKind, retryable: bool) -> None:
    assert ApiError(kind, OPERATION, "Code", "message").retryable is retryable
    assert (kind in RETRYABLE_KINDS) is retryable


def test_kinds_are_the_condition_reasons_users_see() -> None:
    assert ErrorKind.THROTTLED.value == "Throttled"
    assert ErrorKind.QUOTA_EXCEEDED.value == "QuotaExceeded"
    assert ErrorKind.ACCESS_DENIED.value == "AccessDenied"
    assert ErrorKind.INVALID.value == "InvalidRequest"
    for kind in ErrorKind:
        assert kind.value.isalnum() and kind.value[0].isupper()  # a valid condition reason (CamelCase)


def test_an_api_error_reads_as_one_line() -> None:
    error = ApiError(ErrorKind.THROTTLED, OPERATION, "ThrottlingException", "Rate exceeded", 429)
    assert str(error) == "StartCodeInterpreterSession: ThrottlingException: Rate exceeded"
    assert isinstance(error, Exception)


# --- against the service model in botocore --------------------------------------------------------

OPERATIONS = {
    "bedrock-agentcore": [
        "StartCodeInterpreterSession",
        "GetCodeInterpreterSession",
        "ListCodeInterpreterSessions",
        "StopCodeInterpreterSession",
    ],
    "bedrock-agentcore-control": ["GetCodeInterpreter"],
}
MODEL_ERRORS = [
    (operation, shape.name, shape.metadata["error"]["httpStatusCode"])
    for service, operations in OPERATIONS.items()
    for operation in operations
    for shape in boto3.session.Session(region_name="us-east-1")
    .client(service)  # type: ignore[call-overload]
    .meta.service_model.operation_model(operation)
    .error_shapes
]


@pytest.mark.parametrize(("operation", "code", "status"), MODEL_ERRORS, ids=lambda v: str(v))
def test_every_error_the_model_declares_is_classified(operation: str, code: str, status: int) -> None:
    error = classify(client_error(code, status), operation)
    assert error.kind is not ErrorKind.UNKNOWN
    assert error.kind is CODES[code][1]
    assert status == CODES[code][0]


@pytest.mark.parametrize(
    ("code", "status"), [("AccessDenied", 403), ("ValidationError", 400), ("RegionDisabledException", 403)]
)
def test_a_refused_assume_role_inside_a_call_is_access_denied(code: str, status: int) -> None:
    """botocore assumes a tenant role inside the AgentCore call: any 4xx from STS means the
    AgentCore request was never sent (a ValidationError, such as a chained session asked for
    more than an hour, included), so the attempt did nothing."""
    refused = ClientError(
        {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "AssumeRole",  # type: ignore[arg-type]
    )
    error = classify(refused, OPERATION)
    assert (error.kind, error.code, error.operation) == (ErrorKind.ACCESS_DENIED, code, OPERATION)


def test_an_sts_outage_inside_a_call_stays_unavailable() -> None:
    outage = ClientError(
        {"Error": {"Code": "InternalFailure", "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
        "AssumeRole",  # type: ignore[arg-type]
    )
    assert classify(outage, OPERATION).kind is ErrorKind.UNAVAILABLE


def test_sts_throttling_inside_a_call_is_throttled() -> None:
    """STS answers throttling with a 400 and the code Throttling: a wait, not a refusal."""
    throttled = ClientError(
        {
            "Error": {"Code": "Throttling", "Message": "Rate exceeded"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        "AssumeRole",  # type: ignore[arg-type]
    )
    assert classify(throttled, OPERATION).kind is ErrorKind.THROTTLED
