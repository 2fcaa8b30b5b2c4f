"""Who is calling: access keys to accounts, and the temporary credentials STS issued.

AWS answers every request on behalf of a principal: an IAM user's long-term access key, or
a role session's temporary credentials (an `ASIA...` key with a secret and a session
token) that AssumeRole issued and that expire. The emulator keeps the same split:

- long-term keys come from the config (`EmulatorConfig.accounts`). With none configured,
  any key is the default account's, so "any credentials will do" stays true for everyone
  who never asked for accounts; with some configured, only those keys and the dummy key are
  known, and any other is refused as AWS refuses it;
- temporary credentials are issued here (for `sts.py`'s AssumeRole) and belong to the
  role's account. They age on the wall clock, the clock the caller's SDK refreshes by, not
  on the emulator's movable clock: advancing that one to expire sessions must not expire
  credentials botocore still believes fresh.

The signature is never verified (docs/emulator.md, Signatures): a request is taken to be
from the principal its access key id names, with the session token it must carry.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import secrets
import string
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentcore_operator.local.agentcore.config import EmulatorConfig, RoleSeed, role_account

DUMMY_ACCESS_KEY = "AKIDEXAMPLEAGENTCORE"
DUMMY_SECRET_KEY = "emulator-secret"
DEFAULT_DURATION = 3600  # AssumeRole's DurationSeconds when the request names none
CHAINED_MAX_DURATION = 3600  # a role session assuming a role gets at most an hour
# Expired credentials are remembered this long (answered "expired", not "unknown"), then
# forgotten, so a long run with short lifetimes does not grow without bound.
EXPIRED_MEMORY = 3600.0
KEY_ALPHABET = string.ascii_uppercase + string.digits


class CredentialError(Exception):
    """A request's credentials name no one (`expired` False) or someone no longer valid."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.expired = expired


class AssumeRoleRefused(Exception):
    """AssumeRole said no: `access_denied` (the trust policy), else an invalid request."""

    def __init__(self, message: str, *, access_denied: bool) -> None:
        super().__init__(message)
        self.message = message
        self.access_denied = access_denied


UNKNOWN_KEY = "The security token included in the request is invalid."
EXPIRED_KEY = "The security token included in the request is expired"


def _stable_id(prefix: str, seed: str) -> str:
    """An IAM unique id (AIDA... for users, AROA... for roles) that is the same every run."""
    digest = base64.b32encode(hashlib.sha256(seed.encode()).digest()).decode()
    return prefix + digest[:17]


@dataclass(frozen=True)
class Principal:
    """What GetCallerIdentity answers, and the account whose AgentCore state a call sees."""

    account: str
    arn: str
    user_id: str
    role_arn: str | None = None  # set for a role session


def user_principal(access_key: str, account: str) -> Principal:
    return Principal(account, f"arn:aws:iam::{account}:user/emulator", _stable_id("AIDA", access_key))


@dataclass(frozen=True)
class IssuedCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expires_at: float  # epoch seconds on the wall clock
    issued_at: float
    principal: Principal
    role_session_name: str
    source_arn: str  # who assumed the role
    tags: Mapping[str, str] = field(default_factory=dict)
    external_id: str | None = None

    def to_dict(self, now: float) -> dict[str, Any]:
        """For introspection: everything but the secret and the token."""
        return {
            "accessKeyId": self.access_key_id,
            "account": self.principal.account,
            "roleArn": self.principal.role_arn,
            "arn": self.principal.arn,
            "roleSessionName": self.role_session_name,
            "sourceArn": self.source_arn,
            "tags": dict(self.tags),
            "externalId": self.external_id,
            "issuedAt": self.issued_at,
            "expiresAt": self.expires_at,
            "expired": now >= self.expires_at,
        }


class Accounts:
    """Access keys to principals, and AssumeRole's trust decisions. Thread-safe."""

    def __init__(self, config: EmulatorConfig, wall_clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.wall_clock = wall_clock
        self.strict = bool(config.accounts)
        self._keys = {DUMMY_ACCESS_KEY: config.account, **config.accounts}
        self._roles: dict[str, RoleSeed] = config.role_seeds()
        self._issued: dict[str, IssuedCredentials] = {}
        self._expiries: list[tuple[float, str]] = []  # heap, to forget long-expired credentials
        self._lock = threading.Lock()

    def known_accounts(self) -> set[str]:
        return {self.config.account, *self._keys.values(), *(role_account(arn) for arn in self._roles)}

    def authenticate(self, access_key: str, session_token: str | None) -> Principal:
        """The principal an access key (and its session token) names; CredentialError if none."""
        now = self.wall_clock()
        with self._lock:
            issued = self._issued.get(access_key)
        if issued is not None:
            if session_token != issued.session_token:
                raise CredentialError(UNKNOWN_KEY)
            if now >= issued.expires_at:
                raise CredentialError(EXPIRED_KEY, expired=True)
            return issued.principal
        account = self._keys.get(access_key)
        if account is None:
            if self.strict:
                raise CredentialError(UNKNOWN_KEY)
            account = self.config.account
        return user_principal(access_key, account)

    def assume_role(
        self,
        caller: Principal,
        role_arn: str,
        session_name: str,
        *,
        duration: int | None = None,
        external_id: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> IssuedCredentials:
        """Temporary credentials for the role, or AssumeRoleRefused, checked as IAM checks them:
        the role must exist and trust the caller's account, with the external id it requires
        (all three are one AccessDenied at AWS: it does not tell a stranger which failed)."""
        role = self._roles.get(role_arn)
        trusted = role is not None and (
            role.trusted_accounts is None or caller.account in role.trusted_accounts
        )
        if role is None or not trusted or (role.external_id is not None and external_id != role.external_id):
            raise AssumeRoleRefused(
                f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                access_denied=True,
            )
        requested = DEFAULT_DURATION if duration is None else duration
        if requested > role.max_session_duration:
            raise AssumeRoleRefused(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
                access_denied=False,
            )
        if caller.role_arn is not None and requested > CHAINED_MAX_DURATION:
            raise AssumeRoleRefused(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
                access_denied=False,
            )
        lowered = [key.lower() for key in tags or {}]
        if len(set(lowered)) != len(lowered):
            raise AssumeRoleRefused(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
                access_denied=False,
            )
        cap = self.config.credential_lifetime_seconds
        lifetime = float(requested) if cap is None else min(float(requested), cap)
        now = self.wall_clock()
        role_name = role_arn.rsplit("/", 1)[-1]
        account = role_account(role_arn)
        role_id = _stable_id("AROA", role_arn)
        principal = Principal(
            account=account,
            arn=f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}",
            user_id=f"{role_id}:{session_name}",
            role_arn=role_arn,
        )
        issued = IssuedCredentials(
            access_key_id="ASIA" + "".join(secrets.choice(KEY_ALPHABET) for _ in range(16)),
            secret_access_key=secrets.token_urlsafe(30),
            session_token=secrets.token_urlsafe(96),
            expires_at=now + lifetime,
            issued_at=now,
            principal=principal,
            role_session_name=session_name,
            source_arn=caller.arn,
            tags=dict(tags or {}),
            external_id=external_id,
        )
        with self._lock:
            self._forget_expired(now)
            self._issued[issued.access_key_id] = issued
            heapq.heappush(self._expiries, (issued.expires_at, issued.access_key_id))
        return issued

    def _forget_expired(self, now: float) -> None:
        while self._expiries and self._expiries[0][0] + EXPIRED_MEMORY <= now:
            _, key = heapq.heappop(self._expiries)
            self._issued.pop(key, None)

    def issued(self, account: str | None = None) -> list[dict[str, Any]]:
        """Credentials issued so far (newest last), optionally of one account."""
        now = self.wall_clock()
        with self._lock:
            return [
                credentials.to_dict(now)
                for credentials in sorted(self._issued.values(), key=lambda c: c.issued_at)
                if account is None or credentials.principal.account == account
            ]
