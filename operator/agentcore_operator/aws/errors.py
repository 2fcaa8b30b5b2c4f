"""Classify botocore failures into the runtime's error kinds, in one place."""

from __future__ import annotations

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
)

from agentcore_operator.runtime.errors import ApiError, ErrorKind

_BY_CODE: dict[str, ErrorKind] = {
    "ThrottlingException": ErrorKind.THROTTLED,
    "Throttling": ErrorKind.THROTTLED,  # STS's code (query protocol), on a 400
    "TooManyRequestsException": ErrorKind.THROTTLED,
    "RequestLimitExceeded": ErrorKind.THROTTLED,
    "ServiceQuotaExceededException": ErrorKind.QUOTA_EXCEEDED,
    "AccessDeniedException": ErrorKind.ACCESS_DENIED,
    "UnrecognizedClientException": ErrorKind.ACCESS_DENIED,
    "InvalidSignatureException": ErrorKind.ACCESS_DENIED,
    "ExpiredTokenException": ErrorKind.ACCESS_DENIED,
    "MissingAuthenticationTokenException": ErrorKind.ACCESS_DENIED,
    "IncompleteSignatureException": ErrorKind.ACCESS_DENIED,
    "ValidationException": ErrorKind.INVALID,
    "ResourceNotFoundException": ErrorKind.NOT_FOUND,
    "ConflictException": ErrorKind.CONFLICT,
    "InternalServerException": ErrorKind.UNAVAILABLE,
    "ServiceUnavailableException": ErrorKind.UNAVAILABLE,
}

# STS calls botocore makes itself, inside an AgentCore call, to fetch assumed-role credentials.
_CREDENTIAL_OPERATIONS = frozenset({"AssumeRole", "AssumeRoleWithWebIdentity"})
_CREDENTIAL_ERRORS = (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError)
_NETWORK_ERRORS = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)


def classify(exc: Exception, operation: str) -> ApiError:
    """One ApiError for any exception a boto3 call raised."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        message = str(error.get("Message") or exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        kind = _BY_CODE.get(code) or _by_status(status)
        if (
            exc.operation_name in _CREDENTIAL_OPERATIONS
            and kind is not ErrorKind.THROTTLED
            and isinstance(status, int)
            and 400 <= status < 500
        ):
            # STS refused the tenant role botocore assumes for this call (unknown role, trust,
            # external id, a chained session over an hour): the AgentCore request was never
            # sent, so nothing was done, and the namespace's identity is what is wrong.
            kind = ErrorKind.ACCESS_DENIED
        return ApiError(kind, operation, code, message, status)
    if isinstance(exc, _CREDENTIAL_ERRORS):
        return ApiError(ErrorKind.ACCESS_DENIED, operation, "NoCredentials", str(exc))
    if isinstance(exc, NoRegionError):
        return ApiError(ErrorKind.INVALID, operation, "NoRegion", str(exc))
    if isinstance(exc, ParamValidationError):
        return ApiError(ErrorKind.INVALID, operation, "ParamValidation", str(exc))
    if isinstance(exc, _NETWORK_ERRORS):
        return ApiError(ErrorKind.UNAVAILABLE, operation, type(exc).__name__, str(exc))
    if isinstance(exc, BotoCoreError):
        return ApiError(ErrorKind.UNKNOWN, operation, type(exc).__name__, str(exc))
    return ApiError(ErrorKind.UNKNOWN, operation, type(exc).__name__, str(exc) or repr(exc))


def _by_status(status: object) -> ErrorKind:
    if not isinstance(status, int):
        return ErrorKind.UNKNOWN
    if status == 429:
        return ErrorKind.THROTTLED
    if status >= 500:
        return ErrorKind.UNAVAILABLE
    if status in (401, 403):
        return ErrorKind.ACCESS_DENIED
    if status == 404:
        return ErrorKind.NOT_FOUND
    if status == 409:
        return ErrorKind.CONFLICT
    return ErrorKind.UNKNOWN
