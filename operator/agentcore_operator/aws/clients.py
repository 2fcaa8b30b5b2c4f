"""boto3 clients for both AgentCore planes, one per (identity, region), built once and shared.

boto3 clients are thread-safe, sessions are not: clients are created under a lock from
one botocore session per identity (the operator's own, or an assumed role's from
tenancy/credentials.py), then used from any worker thread. Build them in a worker thread:
the first client of a session parses the service model.

Timestamps in answers (`createdAt`, `lastUpdatedAt`) are read by `parse_timestamp`: botocore's
default hands every one to dateutil's general parser, about a tenth of botocore's CPU per
call; an ISO 8601 UTC time is read by `datetime.fromisoformat` to the same instant instead
(in UTC: botocore's tzinfo there is dateutil's tzutc() or tzlocal(), with the same offset).

HTTP: with `http_client="builtin"` (the default) every AgentCore client sends through
aws/transport.py's `LeanHttpSession` (keep-alive sockets per worker thread, about half the
CPU of botocore's urllib3 layer; `install_on` says why the hook is
the endpoint's `http_session`), which hands what it does not do to the client's
original URLLib3Session; `"urllib3"` keeps botocore's own. STS clients (tenancy/credentials.py, and
`caller_account`) stay on urllib3: a few calls an hour are not worth it.

Calls: with `calls="direct"` (the default) a data-plane client's four session operations
(Start, Get, Stop, List) skip botocore's per-call hooks (aws/direct.py: the same request,
signature and answer, about 40% less CPU per call); `"botocore"` keeps boto3's own call path.
The control plane (GetCodeInterpreter, cached) keeps botocore's.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import botocore.utils
from botocore.config import Config

from agentcore_operator.aws import direct
from agentcore_operator.aws.transport import install_on
from agentcore_operator.tenancy.credentials import RoleSessions
from agentcore_operator.tenancy.policy import Identity

if TYPE_CHECKING:  # the stubs are a dev dependency; at run time these are plain boto3 clients
    from mypy_boto3_bedrock_agentcore.client import BedrockAgentCoreClient
    from mypy_boto3_bedrock_agentcore_control.client import BedrockAgentCoreControlClient

AWS_HTTP_CLIENTS = ("builtin", "urllib3")
AWS_CALL_PATHS = ("direct", "botocore")
DATA_PLANE = "bedrock-agentcore"
CONTROL_PLANE = "bedrock-agentcore-control"


def parse_timestamp(value: Any) -> datetime:
    """botocore's timestamp parser, with a fast path for ISO 8601 times in UTC."""
    if isinstance(value, str) and value[4:5] == "-":
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.utcoffset() == timedelta(0):
                return parsed.replace(tzinfo=UTC)
    result: datetime = botocore.utils.parse_timestamp(value)
    return result


class ClientFactory:
    """Caches a client per (identity, service, region); `endpoint_url` points both planes
    (and STS, for AssumeRole and GetCallerIdentity) elsewhere. Identity None: the operator's own."""

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        max_pool_connections: int = 16,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        session: boto3.session.Session | None = None,
        user_agent_extra: str | None = None,
        http_client: str = AWS_HTTP_CLIENTS[0],
        calls: str = AWS_CALL_PATHS[0],
    ) -> None:
        if http_client not in AWS_HTTP_CLIENTS:
            raise ValueError(f"http_client {http_client!r} is not one of {', '.join(AWS_HTTP_CLIENTS)}")
        if calls not in AWS_CALL_PATHS:
            raise ValueError(f"calls {calls!r} is not one of {', '.join(AWS_CALL_PATHS)}")
        self._endpoint_url = endpoint_url
        self._http_client = http_client
        self._calls = calls
        self._session = session or boto3.session.Session()
        parsers = self._session._session.get_component("response_parser_factory")
        parsers.set_parser_defaults(timestamp_parser=parse_timestamp)
        # Retries are ours (requeue with a visible reason), not botocore's hidden ones.
        self._config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=max_pool_connections,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            # Names the replica in every request (CloudTrail's userAgent, the emulator's call log).
            user_agent_extra=user_agent_extra,
        )
        self._clients: dict[tuple[Identity | None, str, str], Any] = {}
        self._lock = threading.Lock()
        self.roles = RoleSessions(self._session, endpoint_url=endpoint_url)

    def built(self, service: str, region: str, identity: Identity | None = None) -> Any | None:
        """The client if it is built already (a dict lookup: safe on the event loop), else None."""
        return self._clients.get((identity, service, region))

    def _client(self, service: str, region: str, identity: Identity | None) -> Any:
        key = (identity, service, region)
        client = self._clients.get(key)
        if client is None:
            with self._lock:
                client = self._clients.get(key)
                if client is None:
                    session = self._session if identity is None else self.roles.session(identity)
                    client = session.client(  # type: ignore[call-overload]
                        service, region_name=region, endpoint_url=self._endpoint_url, config=self._config
                    )
                    if self._http_client == "builtin":
                        install_on(client)
                    if self._calls == "direct" and service == DATA_PLANE:
                        direct.install_on(client)
                    self._clients[key] = client
        return client

    def data(self, region: str, identity: Identity | None = None) -> BedrockAgentCoreClient:
        client: BedrockAgentCoreClient = self._client(DATA_PLANE, region, identity)
        return client

    def control(self, region: str, identity: Identity | None = None) -> BedrockAgentCoreControlClient:
        client: BedrockAgentCoreControlClient = self._client(CONTROL_PLANE, region, identity)
        return client

    def caller_account(self, region: str) -> str:
        """The operator's own account (STS GetCallerIdentity). Blocking: call it in a thread."""
        sts = self._session.client(
            "sts", region_name=region, endpoint_url=self._endpoint_url, config=self._config
        )
        return str(sts.get_caller_identity()["Account"])
