"""AWS STS on the emulator's port: AssumeRole and GetCallerIdentity, in the query protocol.

STS speaks the `query` protocol (API version 2011-06-15), not rest-json: every call is a
POST to `/` whose form fields carry `Action`, `Version` and the members
(`RoleArn=...&Tags.member.1.Key=team&Tags.member.1.Value=a`), and every answer is XML:
`<AssumeRoleResponse><AssumeRoleResult>...</AssumeRoleResult><ResponseMetadata>...`, or
`<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
Member names, list encoding, constraints, the result wrapper and the XML namespace are read
from the botocore `sts` model, as `wire.py` reads the AgentCore models. The server sends a
request here when its SigV4 credential scope names the `sts` service.

Error codes are STS's own, which differ from AgentCore's for the same cause: an unknown key
is `InvalidClientTokenId` (AgentCore: UnrecognizedClientException), expired credentials
`ExpiredToken` (AgentCore: ExpiredTokenException), a refused role `AccessDenied`, a bad
member `ValidationError`, all 403 but the last (400).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import botocore.session
from botocore.model import ServiceModel, Shape, StructureShape

from agentcore_operator.local.agentcore.accounts import (
    Accounts,
    AssumeRoleRefused,
    CredentialError,
    Principal,
)
from agentcore_operator.local.agentcore.wire import AwsError, format_timestamp, validate

SERVICE = "sts"  # the signing name, and the botocore model's name
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def is_unsigned_sts(method: str, path: str, content_type: str, headers: Mapping[str, str]) -> bool:
    """An unsigned query-protocol POST to `/`: no AgentCore route looks like it."""
    return (
        method == "POST"
        and path == "/"
        and content_type == FORM_CONTENT_TYPE
        and "Authorization" not in headers
    )


OPERATIONS = ("AssumeRole", "GetCallerIdentity")
XML_CONTENT_TYPE = "text/xml"


class StsError(Exception):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class StsAnswer:
    operation: str  # "Unknown" when the request named no operation the emulator serves
    account: str  # the caller's account ("" when the caller is not known)
    status: int
    body: bytes
    outcome: str  # "Success" or the error code


class Sts:
    """Parses a signed STS request, asks `Accounts`, renders the XML answer."""

    def __init__(self, accounts: Accounts, model: ServiceModel | None = None) -> None:
        self.accounts = accounts
        self.model = model or botocore.session.get_session().get_service_model(SERVICE)
        self.version = str(self.model.metadata["apiVersion"])
        self.namespace = str(self.model.metadata["xmlNamespace"])

    def answer(
        self, access_key: str | None, session_token: str | None, query: str, body: bytes, request_id: str
    ) -> StsAnswer:
        """Answer one request (`access_key` None: it was not signed); never raises."""
        fields = dict(parse_qsl(query, keep_blank_values=True))
        fields.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        action = fields.get("Action", "")
        operation = action if action in OPERATIONS else "Unknown"
        account = ""
        try:
            if access_key is None:
                # Some STS calls are unsigned (AssumeRoleWithWebIdentity): say that one is not
                # served before saying a served one needs a signature.
                self._check_action(action, fields)
                raise StsError("MissingAuthenticationToken", "Request is missing Authentication Token", 403)
            try:
                caller = self.accounts.authenticate(access_key, session_token)
            except CredentialError as error:
                code = "ExpiredToken" if error.expired else "InvalidClientTokenId"
                raise StsError(code, error.message, 403) from None
            account = caller.account
            self._check_action(action, fields)
            op_model = self.model.operation_model(action)
            params = read_members(op_model.input_shape, fields) if op_model.input_shape else {}
            if op_model.input_shape is not None:
                try:
                    validate(op_model.input_shape, params)
                except AwsError as error:
                    raise StsError("ValidationError", error.message, 400) from None
            result = self._assume_role(caller, params) if action == "AssumeRole" else _identity(caller)
            output = op_model.output_shape
            assert output is not None
            wrapper = str(output.serialization.get("resultWrapper", f"{action}Result"))
            payload = (
                f'<{action}Response xmlns="{self.namespace}">'
                f"{to_xml(output, result, wrapper)}"
                f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
                f"</{action}Response>"
            )
            return StsAnswer(operation, account, 200, payload.encode(), "Success")
        except StsError as error:
            kind = "Sender" if error.status < 500 else "Receiver"
            payload = (
                f'<ErrorResponse xmlns="{self.namespace}">'
                f"<Error><Type>{kind}</Type><Code>{error.code}</Code>"
                f"<Message>{escape(error.message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>"
            )
            return StsAnswer(operation, account, error.status, payload.encode(), error.code)

    def _check_action(self, action: str, fields: Mapping[str, str]) -> None:
        if action not in OPERATIONS or fields.get("Version") != self.version:
            served = " and ".join(OPERATIONS)
            raise StsError(
                "InvalidAction",
                f"Could not find operation {action or '(no Action)'} for version "
                f"{fields.get('Version') or '(no Version)'}; the emulator serves {served} of {self.version}",
                400,
            )

    def _assume_role(self, caller: Principal, params: Mapping[str, Any]) -> dict[str, Any]:
        tags = {tag["Key"]: tag.get("Value", "") for tag in params.get("Tags") or ()}
        try:
            issued = self.accounts.assume_role(
                caller,
                params["RoleArn"],
                params["RoleSessionName"],
                duration=params.get("DurationSeconds"),
                external_id=params.get("ExternalId"),
                tags=tags,
            )
        except AssumeRoleRefused as refused:
            if refused.access_denied:
                raise StsError("AccessDenied", refused.message, 403) from None
            raise StsError("ValidationError", refused.message, 400) from None
        return {
            "Credentials": {
                "AccessKeyId": issued.access_key_id,
                "SecretAccessKey": issued.secret_access_key,
                "SessionToken": issued.session_token,
                "Expiration": issued.expires_at,
            },
            "AssumedRoleUser": {
                "AssumedRoleId": issued.principal.user_id,
                "Arn": issued.principal.arn,
            },
            "SourceIdentity": params.get("SourceIdentity"),
        }


def _identity(caller: Principal) -> dict[str, Any]:
    return {"UserId": caller.user_id, "Account": caller.account, "Arn": caller.arn}


def read_members(shape: StructureShape, fields: Mapping[str, str], prefix: str = "") -> dict[str, Any]:
    """The query protocol's flat form fields as the model's structure.

    A structure's members are `Prefix.Name`; a list's items `Name.member.1`, `Name.member.2`
    (an empty list is `Name=` alone); numbers are decimal text, booleans `true`/`false`.
    A value that is not a number stays text, and validation then words the error.
    """
    params: dict[str, Any] = {}
    for name, member in shape.members.items():
        key = prefix + str(member.serialization.get("name", name))
        value = _read_value(member, fields, key)
        if value is not None:
            params[name] = value
    return params


def _read_value(shape: Shape, fields: Mapping[str, str], key: str) -> Any:
    if shape.type_name == "structure":
        assert isinstance(shape, StructureShape)
        if not any(field.startswith(key + ".") for field in fields):
            return None
        return read_members(shape, fields, key + ".")
    if shape.type_name == "list":
        item_shape: Shape = shape.member  # type: ignore[attr-defined]
        items: list[Any] = []
        while True:
            item = _read_value(item_shape, fields, f"{key}.member.{len(items) + 1}")
            if item is None:
                break
            items.append(item)
        if items or key in fields:
            return items
        return None
    raw = fields.get(key)
    if raw is None:
        return None
    if shape.type_name in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            return raw
    if shape.type_name == "boolean":
        return raw == "true"
    return raw


def to_xml(shape: Shape, value: Any, element: str) -> str:
    """One model-shaped value as the query protocol's XML: lists as `<member>` items,
    timestamps ISO 8601, None members left out."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        inner = "".join(
            to_xml(member, value[name], str(member.serialization.get("name", name)))
            for name, member in shape.members.items()
            if isinstance(value, Mapping) and value.get(name) is not None
        )
        return f"<{element}>{inner}</{element}>"
    if kind == "list":
        item_shape: Shape = shape.member  # type: ignore[attr-defined]
        return f"<{element}>{''.join(to_xml(item_shape, item, 'member') for item in value)}</{element}>"
    if kind == "timestamp":
        text = str(format_timestamp(value, "iso8601"))
    elif kind == "boolean":
        text = "true" if value else "false"
    else:
        text = escape(str(value))
    return f"<{element}>{text}</{element}>"
