"""AgentCore session calls sent without botocore's per-call machinery, as botocore sends them.

Why: a boto3 call runs about fifteen event hooks, the endpoint ruleset, a user-agent build,
an AWSRequest and its preparation, and SigV4Auth, for every call. Without them a call costs
about 40% less CPU (`bench/aws_http.py`), and the operator about a fifth less per 1,000
session lifecycles (`bench/scale.py`, issue #18: 8.2 -> 6.7 s, interleaved runs).
`install_on(client)` gives a data-plane client methods for the
four session operations that send the same request (method, URL, headers in botocore's
order, body, signature) and return the same answer or raise the same exception, with none
of that per-call work.

What stays botocore's, so that its model and configuration decide:
- parameter validation and serialization (the client's serializer);
- the endpoint and the signing name and region: the client's ruleset resolver and signer
  choice, asked once per operation (these operations have no context parameters, so the
  answer cannot change between calls);
- credentials: the client's, frozen per call as botocore freezes them (refreshable ones
  refresh, and an AssumeRole failure surfaces as it does through botocore);
- the HTTP session the client sends with (aws/transport.py's, or urllib3's);
- the response parser (with the client's timestamp parser) and the modeled exception classes.

What replaces each hook botocore registers for these operations:
- generate_idempotent_uuid: a missing clientToken gets a uuid4, as there;
- add_recursion_detection_header: the same header, in the same case (inside Lambda only);
- the User-Agent: the client's own string, built once per client;
- RequestSigner and SigV4Auth: `sign_v4`, the same canonical request and signature; the
  signing key is kept per (secret, day, region, service) instead of derived per call;
- add_retry_headers and the standard retry handler: the client makes one attempt
  (total_max_attempts 1: the operator retries, with its own pacing), so the same two
  headers and the same `MaxAttemptsReached`/`RetryAttempts` answer metadata, and no retry;
- _handle_request_validation_mode_member, inject_api_version_header_if_needed,
  MaxAttemptsSeeder: nothing to do for these operations.

A client keeps its own methods when it does something not mirrored here (`install_on`
returns None): another protocol or signature version, an auth scheme preference, more than
one attempt, request compression, or no HTTP session where expected (a botocore change). An
operation keeps botocore's path when its endpoint answer carries headers or an auth scheme
other than SigV4. Handlers registered on the client's events (`meta.events`) are not
run for these four operations: the operator registers none.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote, urlsplit

import botocore.auth
from botocore.auth import EMPTY_SHA256_HASH, SIGNED_HEADERS_BLACKLIST, SIGV4_TIMESTAMP
from botocore.awsrequest import AWSPreparedRequest, prepare_request_dict
from botocore.credentials import ReadOnlyCredentials
from botocore.endpoint import convert_to_response_dict
from botocore.exceptions import NoCredentialsError
from botocore.utils import normalize_url_path

logger = logging.getLogger(__name__)

# The client's method name -> the operation: the session calls the operator makes.
DIRECT_OPERATIONS = {
    "start_code_interpreter_session": "StartCodeInterpreterSession",
    "get_code_interpreter_session": "GetCodeInterpreterSession",
    "stop_code_interpreter_session": "StopCodeInterpreterSession",
    "list_code_interpreter_sessions": "ListCodeInterpreterSessions",
}
ONE_ATTEMPT_METADATA = {"MaxAttemptsReached": True, "RetryAttempts": 0}
SIGNING_KEYS_KEPT = 64  # a key per (secret, day, region, service): a few per account and day


class SigningKeys:
    """SigV4 signing keys, derived once per (secret, day, region, service) rather than per call."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str, str, str], bytes] = {}

    def key(self, secret: str, day: str, region: str, service: str) -> bytes:
        wanted = (secret, day, region, service)
        key = self._keys.get(wanted)
        if key is None:
            key = hmac.new(f"AWS4{secret}".encode(), day.encode(), hashlib.sha256).digest()
            for part in (region, service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            if len(self._keys) >= SIGNING_KEYS_KEPT:
                self._keys.clear()  # yesterday's keys and rotated secrets: start again
            self._keys[wanted] = key
        return key


SIGNING_KEYS = SigningKeys()


def sign_v4(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    credentials: ReadOnlyCredentials,
    region: str,
    service: str,
    *,
    host: str | None = None,
    keys: SigningKeys = SIGNING_KEYS,
) -> None:
    """Sign a request in place as botocore's SigV4Auth.add_auth signs it (no Date header, a
    body that is bytes, payload signing on): X-Amz-Date, X-Amz-Security-Token for temporary
    credentials, then Authorization, each (re)placed last as there. `host`: the URL's, as
    botocore signs it (`host_of`), when the caller has it already."""
    # Read through the module, as SigV4Auth reads it: a test that fixes the clock fixes both.
    timestamp = botocore.auth.get_current_datetime().strftime(SIGV4_TIMESTAMP)  # type: ignore[attr-defined]
    for name in ("Authorization", "X-Amz-Date"):
        _drop(headers, name)
    headers["X-Amz-Date"] = timestamp
    if credentials.token:
        _drop(headers, "X-Amz-Security-Token")
        headers["X-Amz-Security-Token"] = credentials.token
    parts = urlsplit(url)
    signed: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered not in SIGNED_HEADERS_BLACKLIST:
            signed[lowered] = " ".join(value.split())
    if "host" not in signed:
        signed["host"] = host if host is not None else host_of(url)
    names = sorted(signed)
    signed_headers = ";".join(names)
    query = ""
    if parts.query:  # as SigV4Auth reads a URL's query: the pairs as sent, sorted
        query = "&".join(f"{k}={v}" for k, _, v in sorted(p.partition("=") for p in parts.query.split("&")))
    if "X-Amz-Content-SHA256" in headers:
        payload = headers["X-Amz-Content-SHA256"]
    else:
        payload = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256_HASH
    canonical = "\n".join(
        (
            method.upper(),
            quote(normalize_url_path(parts.path), safe="/~"),
            query,
            "".join(f"{name}:{signed[name]}\n" for name in names),
            signed_headers,
            payload,
        )
    )
    scope = f"{timestamp[:8]}/{region}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = keys.key(str(credentials.secret_key), timestamp[:8], region, service)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )


def host_of(url: str) -> str:
    """The Host SigV4Auth signs for a URL that has no Host header (botocore's own function)."""
    host: str = botocore.auth._host_from_url(url)  # type: ignore[attr-defined]
    return host


def _drop(headers: dict[str, str], name: str) -> None:
    for present in [key for key in headers if key.lower() == name.lower()]:
        del headers[present]


@dataclass(frozen=True)
class _Plan:
    """What botocore decides once per operation of a client: where it goes and how it is signed."""

    model: Any  # botocore OperationModel
    endpoint_url: str
    host: str
    signing_name: str
    signing_region: str


class DirectCalls:
    """The four session operations of one data-plane client, sent directly (see the module)."""

    def __init__(self, boto_client: Any) -> None:
        self._client = boto_client
        self._service_model = boto_client.meta.service_model
        self._serializer = boto_client._serializer
        self._signer = boto_client._request_signer
        self._http = boto_client._endpoint.http_session
        self._endpoint = boto_client._endpoint
        self._parser = boto_client._endpoint._response_parser_factory.create_parser(
            self._service_model.protocol
        )
        self._user_agent = boto_client._user_agent_creator.to_string()
        self._plans: dict[str, _Plan | None] = {}
        self.sent = 0  # calls sent directly (the tests read it; += from many threads: approximate)

    @staticmethod
    def fits(boto_client: Any) -> bool:
        """True when nothing in the client's configuration asks for what this path leaves out."""
        config = boto_client.meta.config
        service = boto_client.meta.service_model
        retries = config.retries or {}
        attempts = retries.get("total_max_attempts", (retries.get("max_attempts") or 0) + 1)
        return (
            service.protocol == "rest-json"
            and service.signature_version == "v4"
            and config.signature_version in (None, "v4")
            and not config.auth_scheme_preference
            and retries.get("mode") == "standard"
            and attempts == 1
            and not getattr(config, "sigv4a_signing_region_set", None)
            and all(
                hasattr(boto_client, attribute)
                for attribute in ("_serializer", "_request_signer", "_endpoint")
            )
            and hasattr(boto_client._endpoint, "http_session")
            and hasattr(boto_client._endpoint, "_response_parser_factory")
            and hasattr(boto_client, "_user_agent_creator")
        )

    def method(self, name: str, operation: str) -> Callable[..., dict[str, Any]]:
        """The client's method `name`, sending `operation` directly when its plan allows."""
        botocore_method = getattr(self._client, name)

        def call(**params: Any) -> dict[str, Any]:
            plan = self._plan(operation)
            if plan is None:
                result: dict[str, Any] = botocore_method(**params)
                return result
            return self._call(plan, params)

        call.__name__ = name
        call.__doc__ = f"{operation}, sent directly (agentcore_operator.aws.direct)."
        return call

    def _plan(self, operation: str) -> _Plan | None:
        if operation in self._plans:
            return self._plans[operation]
        model = self._service_model.operation_model(operation)
        context: dict[str, Any] = {
            "client_region": self._client.meta.region_name,
            "client_config": self._client.meta.config,
            "has_streaming_input": model.has_streaming_input,
            "auth_type": model.resolved_auth_type,
            "unsigned_payload": model.unsigned_payload,
            "auth_options": self._service_model.metadata.get("auth"),
        }
        plan: _Plan | None = None
        plain = not (
            model.context_parameters
            or model.static_context_parameters
            or getattr(model, "operation_context_parameters", None)
            or model.has_streaming_input
            or model.has_streaming_output
            or model.http_checksum
            or model.request_compression
            or model.endpoint
            or model.unsigned_payload
        )
        if plain:
            endpoint_url, extra_headers, _ = self._client._resolve_endpoint_ruleset(model, {}, context)
            signature_version = self._signer._choose_signer(operation, "standard", context)
            signing = context.get("signing") or {}
            if not extra_headers and signature_version == "v4":
                plan = _Plan(
                    model=model,
                    endpoint_url=endpoint_url,
                    host=host_of(endpoint_url),
                    signing_name=signing.get("signing_name") or self._signer.signing_name,
                    signing_region=signing.get("region") or self._signer.region_name,
                )
        if plan is None:
            logger.info("%s keeps botocore's call path: its request is not a plain SigV4 one", operation)
        self._plans[operation] = plan
        return plan

    def _call(self, plan: _Plan, params: dict[str, Any]) -> dict[str, Any]:
        model = plan.model
        params = dict(params)
        for name in model.idempotent_members:
            if name not in params:
                params[name] = str(uuid.uuid4())
        request = self._serializer.serialize_to_request(params, model)
        prepare_request_dict(request, endpoint_url=plan.endpoint_url, user_agent=self._user_agent)
        if "AWS_LAMBDA_FUNCTION_NAME" in os.environ and os.environ.get("_X_AMZN_TRACE_ID"):
            request["headers"].setdefault(
                "X-Amzn-Trace-Id", quote(os.environ["_X_AMZN_TRACE_ID"], safe="-=;:+&[]{}\"',")
            )
        body = request["body"]
        payload = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
        headers: dict[str, str] = dict(request["headers"])
        credentials = self._signer._credentials
        if credentials is None:
            raise NoCredentialsError()
        method, url = request["method"], request["url"]
        sign_v4(
            method,
            url,
            headers,
            payload,
            credentials.get_frozen_credentials(),
            plan.signing_region,
            plan.signing_name,
            host=plan.host,
        )
        headers["amz-sdk-invocation-id"] = str(uuid.uuid4())
        headers["amz-sdk-request"] = "attempt=1; max=1"
        if method not in ("GET", "HEAD", "OPTIONS") and "Content-Length" not in headers:
            headers["Content-Length"] = str(len(payload))
        # A plain dict of headers: both HTTP sessions only iterate and look up, as they do a
        # HeadersDict, and building botocore's case-insensitive one costs more than the send.
        http_response = self._http.send(AWSPreparedRequest(method, url, cast(Any, headers), payload, False))
        self.sent += 1
        answer = convert_to_response_dict(http_response, model)
        parsed: dict[str, Any] = self._parser.parse(answer, model.output_shape)
        if http_response.status_code >= 300:
            self._endpoint._add_modeled_error_fields(answer, parsed, model, self._parser)
        parsed.setdefault("ResponseMetadata", {}).update(ONE_ATTEMPT_METADATA)
        if http_response.status_code >= 300:
            code = parsed.get("Error", {}).get("Code")
            raise self._client.exceptions.from_code(code)(parsed, model.name)
        return parsed


def install_on(boto_client: Any) -> DirectCalls | None:
    """Give a data-plane client direct session methods; None (and unchanged) if it does not fit."""
    if not DirectCalls.fits(boto_client):
        logger.info("AgentCore calls keep botocore's call path: the client's configuration is not mirrored")
        return None
    calls = DirectCalls(boto_client)
    for name, operation in DIRECT_OPERATIONS.items():
        setattr(boto_client, name, calls.method(name, operation))
    return calls
