"""What a SigV4-signed request claims: its access key, session token, region and service.

AWS reads the caller from the `Authorization` header's credential scope
(`Credential=<key>/<date>/<region>/<service>/aws4_request`) and, for temporary
credentials, the `X-Amz-Security-Token` header. The emulator reads the same, and checks
the form of the header but not the signature itself (docs/emulator.md, Signatures).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from agentcore_operator.local.agentcore.wire import AwsError

CREDENTIAL_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=[^,]+,\s*Signature=[0-9a-f]{64}$"
)
TOKEN_HEADER = "X-Amz-Security-Token"


@dataclass(frozen=True)
class Signature:
    access_key: str
    session_token: str | None  # temporary credentials only
    region: str
    service: str


def read_signature(headers: Mapping[str, str]) -> Signature:
    """The claims of a signed request; 403 (rest-json codes) for one that is not signed."""
    header = headers.get("Authorization")
    if not header:
        raise AwsError(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token: requests must be signed with AWS Signature Version 4",
            403,
        )
    found = CREDENTIAL_RE.match(header)
    if found is None or not headers.get("X-Amz-Date"):
        raise AwsError(
            "IncompleteSignatureException",
            "Authorization header is not a valid AWS4-HMAC-SHA256 signature (Credential, SignedHeaders, "
            "Signature and an X-Amz-Date header are required)",
            403,
        )
    return Signature(
        found.group("key"), headers.get(TOKEN_HEADER), found.group("region"), found.group("service")
    )
