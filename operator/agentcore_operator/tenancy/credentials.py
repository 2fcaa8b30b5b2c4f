"""Per-role AWS credentials through botocore's own AssumeRole machinery.

One botocore session per identity (role ARN, external id, session tags, duration), built
once and cached: its credentials are `DeferredRefreshableCredentials` fed by an
`AssumeRoleCredentialFetcher`, the same pair botocore uses for `role_arn` in a profile. They
are fetched on first use and refreshed before they expire, in the worker thread that makes
the AgentCore call (never on the event loop); STS is reached at the operator's endpoint_url
when one is set (the emulator serves it), with the operator's own credentials as the source.

The refresh windows follow the credentials' actual lifetime: botocore refreshes 15 minutes
(advisory) and 10 minutes (mandatory) before expiry, which for a 15-minute lifetime (the
minimum AWS grants, or a shorter one an emulator hands out) would mean an AssumeRole before
every call. Credentials are never logged: only the role ARN is.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.session
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    Credentials,
    DeferredRefreshableCredentials,
)

from agentcore_operator.tenancy.policy import Identity

ROLE_SESSION_NAME = "agentcore-operator"
# Refresh when this share of the credentials' lifetime is left (advisory: one thread refreshes
# while the others go on; mandatory: every caller waits for fresh ones).
ADVISORY_SHARE = 0.25
MANDATORY_SHARE = 0.125
DEFAULT_ADVISORY_SECONDS = 15 * 60.0
DEFAULT_MANDATORY_SECONDS = 10 * 60.0
# The fetcher's own cache would hand back the credentials the refresh means to replace: it
# considers everything expired, and the refreshable credentials decide when to fetch.
ALWAYS_FETCH = 10**9


class _LifetimeScaledCredentials(DeferredRefreshableCredentials):
    """Refreshes a share of the lifetime ahead of expiry (at most botocore's defaults)."""

    def __init__(self, fetch: Callable[[], dict[str, Any]], clock: Callable[[], datetime]) -> None:
        super().__init__(refresh_using=self._fetch_scaled, method="assume-role", time_fetcher=clock)
        self._fetch = fetch
        self._clock = clock

    def _fetch_scaled(self) -> dict[str, Any]:
        metadata = self._fetch()
        expiry = datetime.fromisoformat(str(metadata["expiry_time"]).replace("Z", "+00:00"))
        lifetime = max(1.0, (expiry - self._clock()).total_seconds())
        self._advisory_refresh_timeout = min(DEFAULT_ADVISORY_SECONDS, lifetime * ADVISORY_SHARE)
        self._mandatory_refresh_timeout = min(DEFAULT_MANDATORY_SECONDS, lifetime * MANDATORY_SHARE)
        return metadata


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RoleSessions:
    """A boto3 session per identity, assumed from `source` (the operator's own session)."""

    def __init__(
        self,
        source: boto3.session.Session,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._source = source
        self._endpoint_url = endpoint_url
        self._region = region or source.region_name or "us-east-1"
        self._clock = clock
        self._sessions: dict[Identity, boto3.session.Session] = {}
        self._lock = threading.Lock()

    def session(self, identity: Identity) -> boto3.session.Session:
        """The cached session of one identity (built without any call: credentials come on first use)."""
        session = self._sessions.get(identity)
        if session is None:
            with self._lock:
                session = self._sessions.get(identity)
                if session is None:
                    session = self._build(identity)
                    self._sessions[identity] = session
        return session

    def _build(self, identity: Identity) -> boto3.session.Session:
        source = self._source.get_credentials()
        if source is None:
            source = Credentials("", "")  # AssumeRole then fails as NoCredentials would, per call
        extra: dict[str, Any] = {
            "RoleSessionName": ROLE_SESSION_NAME,
            "DurationSeconds": identity.duration_seconds,
        }
        if identity.external_id:
            extra["ExternalId"] = identity.external_id
        if identity.session_tags:
            extra["Tags"] = [{"Key": key, "Value": value} for key, value in identity.session_tags]
        fetcher = AssumeRoleCredentialFetcher(
            client_creator=functools.partial(
                self._source.client, region_name=self._region, endpoint_url=self._endpoint_url
            ),
            source_credentials=source,
            role_arn=identity.role_arn,
            extra_args=extra,
            expiry_window_seconds=ALWAYS_FETCH,
        )
        credentials = _LifetimeScaledCredentials(fetcher.fetch_credentials, self._clock)
        botocore_session = botocore.session.Session()
        # The service models are parsed once per loader, and answers are read by one set of parser
        # settings: share the operator's session's, not a copy per role.
        for component in ("data_loader", "response_parser_factory"):
            botocore_session.register_component(component, self._source._session.get_component(component))
        # The session's only credential source is the assumed role (no environment, no profile).
        botocore_session.register_component("credential_provider", CredentialResolver([_Fixed(credentials)]))
        return boto3.session.Session(botocore_session=botocore_session, region_name=self._region)


class _Fixed(CredentialProvider):
    METHOD = "assume-role"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials
