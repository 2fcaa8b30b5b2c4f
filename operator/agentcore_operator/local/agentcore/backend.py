"""The emulated accounts: interpreters, sessions, client tokens and the session quota.

State is per account and region (a `Scope`), as in AWS: a session of one account is not
found by another, and each account has its own quota. Session status is derived from the clock when read, so
expiry needs no background task and a test that advances the clock sees it at once.
Everything is behind one lock: the HTTP server and a test's thread read it together.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import json
import random
import re
import string
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from agentcore_operator.local.agentcore.config import EmulatorConfig, InterpreterSeed
from agentcore_operator.local.agentcore.wire import (
    AwsError,
    decode_token,
    encode_token,
    epoch_to_datetime,
    token_position,
)

BUILTIN_INTERPRETER = "aws.codeinterpreter.v1"
MIN_TIMEOUT, MAX_TIMEOUT, DEFAULT_TIMEOUT = 60, 28800, 900
DEFAULT_PAGE, MAX_PAGE = 10, 100
BUILTIN_CREATED_AT = 1752624000.0  # 2025-07-16, when AgentCore was announced
ARN_RE = re.compile(
    r"^arn:aws(-[^:]+)?:bedrock-agentcore:(?P<region>[a-z0-9-]+):(?P<account>aws|[0-9]{12}):"
    r"code-interpreter(-custom)?/(?P<id>[^/]+)$"
)
# Interpreter states in which sessions cannot start yet or any more.
NOT_YET = {"CREATING"}
GONE = {"DELETED"}


MAX_TAGS = 50  # the model's TagsMap


def check_network(network: Mapping[str, Any]) -> None:
    """What the model says in words only: vpcConfig "is required when the network mode is set to VPC"."""
    if network.get("networkMode") == "VPC" and "vpcConfig" not in network:
        raise invalid("vpcConfig is required when networkMode is VPC", "networkConfiguration.vpcConfig")


def check_mount_paths(configurations: list[Any] | None) -> None:
    """Each mount path must be unique across a session's file systems (the model says so in words)."""
    paths = [
        next(iter(item.values())).get("mountPath", "").rstrip("/")
        for item in configurations or ()
        if isinstance(item, dict) and item
    ]
    duplicates = sorted({p for p in paths if paths.count(p) > 1})
    if duplicates:
        raise invalid(
            f"mountPath {duplicates[0]} is used by more than one file system", "filesystemConfigurations"
        )


def not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFoundException", message, 404)


def conflict(message: str) -> AwsError:
    return AwsError("ConflictException", message, 409)


def invalid(message: str, field_name: str | None = None) -> AwsError:
    extra: dict[str, Any] = {"reason": "FieldValidationFailed"}
    if field_name:
        extra["fieldList"] = [{"name": field_name, "message": message}]
    return AwsError("ValidationException", message, 400, **extra)


@dataclass
class Interpreter:
    id: str
    name: str
    arn: str
    created_at: float
    ready_at: float
    network_mode: str = "PUBLIC"
    failure_reason: str | None = None
    deleted_at: float | None = None
    system: bool = False
    description: str | None = None
    execution_role_arn: str | None = None
    network_configuration: dict[str, Any] | None = None  # as created (None: {networkMode})
    certificates: list[Any] | None = None
    filesystem_configurations: list[Any] | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def status(self, now: float) -> str:
        if self.deleted_at is not None:
            return "DELETED" if now >= self.deleted_at else "DELETING"
        if now < self.ready_at:
            return "CREATING"
        return "CREATE_FAILED" if self.failure_reason else "READY"

    def last_updated(self, now: float) -> float:
        if self.deleted_at is not None:
            return min(now, self.deleted_at)
        return self.ready_at if now >= self.ready_at else self.created_at


@dataclass
class Session:
    seq: int
    account: str
    region: str
    interpreter_id: str
    session_id: str
    name: str | None
    timeout: int
    created_at: float
    ready_at: float
    stopped_at: float | None = None
    certificates: list[Any] | None = None
    filesystem_configurations: list[Any] | None = None

    @property
    def expires_at(self) -> float:
        return self.created_at + self.timeout

    def ended_at(self) -> float:
        return min(self.expires_at, self.stopped_at) if self.stopped_at is not None else self.expires_at

    def status(self, now: float) -> str | None:
        """READY or TERMINATED; None while starting (the model has no value for that)."""
        if now >= self.ended_at():
            return "TERMINATED"
        return "READY" if now >= self.ready_at else None

    def last_updated(self, now: float) -> float:
        if now >= self.ended_at():
            return self.ended_at()
        return self.ready_at if now >= self.ready_at else self.created_at

    def to_dict(self, now: float) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "codeInterpreterIdentifier": self.interpreter_id,
            "sessionId": self.session_id,
            "name": self.name,
            "sessionTimeoutSeconds": self.timeout,
            "status": self.status(now) or "STARTING",
            "createdAt": self.created_at,
            "readyAt": self.ready_at,
            "expiresAt": self.expires_at,
            "stoppedAt": self.stopped_at,
            "certificates": self.certificates,
            "filesystemConfigurations": self.filesystem_configurations,
        }


class Scope(NamedTuple):
    """Where a call's state lives: the caller's account and the region it signed for."""

    account: str
    region: str


@dataclass
class Region:
    interpreters: dict[str, Interpreter] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    by_interpreter: dict[str, list[Session]] = field(default_factory=dict)  # in seq order
    active: set[str] = field(default_factory=set)  # not TERMINATED as of the last purge
    endings: list[tuple[float, str]] = field(default_factory=list)  # heap of (ended_at, session id)
    tokens: dict[tuple[str, str], tuple[str, dict[str, Any]]] = field(default_factory=dict)


class Backend:
    """AWS accounts as the code interpreter APIs see them, one `Region` per scope.

    One lock, one id generator and one sequence for all of them: ids stay unique across
    accounts (the sandboxes are keyed by region and session id), and a seed reproduces a run.
    """

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.clock: Callable[[], float] = config.clock
        self._lock = threading.RLock()
        self._random = random.Random(config.seed)
        self._regions: dict[Scope, Region] = {}
        self._seq = 0
        self._seeds = config.seeds()
        self._seeded_at = self.clock()

    # -- helpers -----------------------------------------------------------------------

    def _region(self, scope: Scope | str) -> Region:
        if isinstance(scope, str):  # a region of the default account (older callers, tests)
            scope = Scope(self.config.account, scope)
        region = self._regions.get(scope)
        if region is None:
            region = self._regions[scope] = Region()
            region.interpreters[BUILTIN_INTERPRETER] = Interpreter(
                id=BUILTIN_INTERPRETER,
                name="aws_codeinterpreter_v1",  # the model's name pattern has no dots
                arn=f"arn:aws:bedrock-agentcore:{scope.region}:aws:code-interpreter/{BUILTIN_INTERPRETER}",
                created_at=BUILTIN_CREATED_AT,
                ready_at=BUILTIN_CREATED_AT,
                network_mode="SANDBOX",
                system=True,
            )
            for interpreter_id, seed in self._seeds.items():
                if seed.account in (None, scope.account):
                    region.interpreters[interpreter_id] = self._seeded(scope, interpreter_id, seed)
        return region

    def _seeded(self, scope: Scope, interpreter_id: str, seed: InterpreterSeed) -> Interpreter:
        return Interpreter(
            id=interpreter_id,
            name=seed.name or interpreter_id.rsplit("-", 1)[0],
            arn=self._custom_arn(scope, interpreter_id),
            created_at=self._seeded_at,
            ready_at=self._seeded_at + seed.create_delay,
            network_mode=seed.network_mode,
            failure_reason=seed.failure_reason,
        )

    def _custom_arn(self, scope: Scope, interpreter_id: str) -> str:
        return f"arn:aws:bedrock-agentcore:{scope.region}:{scope.account}:code-interpreter-custom/{interpreter_id}"

    def _random_id(self, length: int, alphabet: str = string.ascii_uppercase + string.digits) -> str:
        return "".join(self._random.choice(alphabet) for _ in range(length))

    def _interpreter(self, scope: Scope, identifier: str) -> Interpreter:
        """Resolve an id or ARN; an ARN for another region or account names nothing here."""
        region = self._region(scope)
        bare = identifier
        arn = ARN_RE.match(identifier)
        if arn:
            owner = arn.group("account")
            if arn.group("region") != scope.region or owner not in ("aws", scope.account):
                raise not_found(f"Code interpreter {identifier} not found")
            bare = arn.group("id")
        interpreter = region.interpreters.get(bare)
        if interpreter is None or interpreter.status(self.clock()) in GONE:
            raise not_found(f"Code interpreter {identifier} not found")
        return interpreter

    def _purge(self, region: Region, now: float) -> None:
        """Move sessions whose end has come out of the active set (they stop counting to the quota)."""
        while region.endings and region.endings[0][0] <= now:
            _, session_id = heapq.heappop(region.endings)
            session = region.sessions.get(session_id)
            if session is not None and session.ended_at() <= now:
                region.active.discard(session_id)
        retention = self.config.terminated_retention
        if retention is not None:
            horizon = now - retention
            for session_id in [
                sid
                for sid, s in region.sessions.items()
                if sid not in region.active and s.ended_at() <= horizon
            ]:
                session = region.sessions.pop(session_id)
                region.by_interpreter[session.interpreter_id].remove(session)

    def _session(self, scope: Scope, interpreter: Interpreter, session_id: str) -> Session:
        region = self._region(scope)
        self._purge(region, self.clock())
        session = region.sessions.get(session_id)
        if session is None or session.interpreter_id != interpreter.id:
            raise not_found(f"Session {session_id} not found")
        return session

    def _idempotent(
        self, region: Region, operation: str, token: str | None, params: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The earlier answer to this token, if any; a different request under it is a conflict."""
        if not token:
            return None
        fingerprint = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()
        earlier = region.tokens.get((operation, token))
        if earlier is None:
            return None
        if earlier[0] != fingerprint:
            raise conflict(
                f"The clientToken {token} was already used for a {operation} request with different parameters"
            )
        return earlier[1]

    def _remember(
        self,
        region: Region,
        operation: str,
        token: str | None,
        params: Mapping[str, Any],
        answer: dict[str, Any],
    ) -> None:
        if token:
            fingerprint = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()
            region.tokens[(operation, token)] = (fingerprint, answer)

    # -- data plane --------------------------------------------------------------------

    def start_session(self, scope: Scope, params: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            region = self._region(scope)
            now = self.clock()
            self._purge(region, now)
            token = params.get("clientToken")
            identity = {k: v for k, v in params.items() if k not in ("clientToken", "traceId", "traceParent")}
            replay = self._idempotent(region, "StartCodeInterpreterSession", token, identity)
            if replay is not None:
                return replay
            interpreter = self._interpreter(scope, params["codeInterpreterIdentifier"])
            check_mount_paths(params.get("filesystemConfigurations"))
            timeout = params.get("sessionTimeoutSeconds", DEFAULT_TIMEOUT)
            if not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:
                raise invalid(
                    f"sessionTimeoutSeconds must be between {MIN_TIMEOUT} and {MAX_TIMEOUT} seconds, got {timeout}",
                    "sessionTimeoutSeconds",
                )
            state = interpreter.status(now)
            if state in NOT_YET or state == "DELETING":
                raise conflict(
                    f"Code interpreter {interpreter.id} is {state}; sessions can start once it is READY"
                )
            if state != "READY":
                raise invalid(
                    f"Code interpreter {interpreter.id} is {state}: {interpreter.failure_reason or ''}".rstrip(
                        ": "
                    )
                )
            if len(region.active) >= self.config.max_sessions:
                raise AwsError(
                    "ServiceQuotaExceededException",
                    f"You have reached the maximum of {self.config.max_sessions} concurrent code interpreter "
                    f"sessions in {scope.region}. Stop a session or request a quota increase.",
                    402,
                )
            self._seq += 1
            session = Session(
                seq=self._seq,
                account=scope.account,
                region=scope.region,
                interpreter_id=interpreter.id,
                session_id=self._random_id(26),
                name=params.get("name"),
                timeout=timeout,
                created_at=now,
                ready_at=now + self.config.start_delay,
                certificates=params.get("certificates"),
                filesystem_configurations=params.get("filesystemConfigurations"),
            )
            region.sessions[session.session_id] = session
            region.by_interpreter.setdefault(interpreter.id, []).append(session)
            region.active.add(session.session_id)
            heapq.heappush(region.endings, (session.expires_at, session.session_id))
            answer = {
                "codeInterpreterIdentifier": interpreter.id,
                "sessionId": session.session_id,
                "createdAt": epoch_to_datetime(now),
            }
            self._remember(region, "StartCodeInterpreterSession", token, identity, answer)
            return answer

    def get_session(self, scope: Scope, params: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            interpreter = self._interpreter(scope, params["codeInterpreterIdentifier"])
            session = self._session(scope, interpreter, params["sessionId"])
            now = self.clock()
            return {
                "codeInterpreterIdentifier": interpreter.id,
                "sessionId": session.session_id,
                "name": session.name,
                "createdAt": epoch_to_datetime(session.created_at),
                "sessionTimeoutSeconds": session.timeout,
                "status": session.status(now),
                "certificates": session.certificates,
                "filesystemConfigurations": session.filesystem_configurations,
            }

    def list_sessions(self, scope: Scope, params: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            interpreter = self._interpreter(scope, params["codeInterpreterIdentifier"])
            region = self._region(scope)
            now = self.clock()
            self._purge(region, now)
            wanted = params.get("status")
            limit = params.get("maxResults", DEFAULT_PAGE)
            after = 0
            token = params.get("nextToken")
            if token:
                decoded = decode_token(token)
                if decoded.get("i") != interpreter.id or decoded.get("s") != wanted:
                    raise invalid("nextToken does not belong to this request", "nextToken")
                after = token_position(decoded, "after")
            sessions = region.by_interpreter.get(interpreter.id, [])
            start = bisect.bisect_right([s.seq for s in sessions], after) if after else 0
            items: list[dict[str, Any]] = []
            last_seq = after
            more = False
            for session in sessions[start:]:
                status = session.status(now)
                if status is None or (wanted and status != wanted):
                    continue  # starting sessions have no listable status yet
                if len(items) == limit:
                    more = True
                    break
                items.append(
                    {
                        "codeInterpreterIdentifier": interpreter.id,
                        "sessionId": session.session_id,
                        "name": session.name,
                        "status": status,
                        "createdAt": epoch_to_datetime(session.created_at),
                        "lastUpdatedAt": epoch_to_datetime(session.last_updated(now)),
                    }
                )
                last_seq = session.seq
            answer: dict[str, Any] = {"items": items}
            if more:
                answer["nextToken"] = encode_token({"i": interpreter.id, "s": wanted, "after": last_seq})
            return answer

    def stop_session(self, scope: Scope, params: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            region = self._region(scope)
            token = params.get("clientToken")
            identity = {k: params.get(k) for k in ("codeInterpreterIdentifier", "sessionId")}
            replay = self._idempotent(region, "StopCodeInterpreterSession", token, identity)
            if replay is not None:
                return replay
            interpreter = self._interpreter(scope, params["codeInterpreterIdentifier"])
            session = self._session(scope, interpreter, params["sessionId"])
            now = self.clock()
            if session.status(now) != "TERMINATED":
                session.stopped_at = now
                region.active.discard(session.session_id)
            answer = {
                "codeInterpreterIdentifier": interpreter.id,
                "sessionId": session.session_id,
                "lastUpdatedAt": epoch_to_datetime(session.ended_at()),
            }
            self._remember(region, "StopCodeInterpreterSession", token, identity, answer)
            return answer

    def invocable_session(self, scope: Scope, identifier: str, session_id: str) -> None:
        """A session code can run in: READY. Unknown or ended: 404; still starting: 409."""
        with self._lock:
            interpreter = self._interpreter(scope, identifier)
            session = self._session(scope, interpreter, session_id)
            status = session.status(self.clock())
            if status == "TERMINATED":
                raise not_found(f"Session {session_id} not found: it is TERMINATED")
            if status is None:
                raise conflict(f"Session {session_id} is still starting; it accepts calls once READY")

    def session_alive(self, region_name: str, session_id: str) -> bool:
        """Not TERMINATED (nor forgotten): its sandbox may stay."""
        with self._lock:
            session = self._find(region_name, session_id)
            return session is not None and session.status(self.clock()) != "TERMINATED"

    def _find(self, region_name: str, session_id: str) -> Session | None:
        """A session by id in whichever account has it (ids are unique across accounts)."""
        for scope, region in self._regions.items():
            if scope.region == region_name and session_id in region.sessions:
                return region.sessions[session_id]
        return None

    # -- control plane -----------------------------------------------------------------

    def _describe_interpreter(self, interpreter: Interpreter, now: float) -> dict[str, Any]:
        return {
            "codeInterpreterId": interpreter.id,
            "codeInterpreterArn": interpreter.arn,
            "name": interpreter.name,
            "description": interpreter.description,
            "executionRoleArn": interpreter.execution_role_arn,
            "networkConfiguration": interpreter.network_configuration
            or {"networkMode": interpreter.network_mode},
            "certificates": interpreter.certificates,
            "filesystemConfigurations": interpreter.filesystem_configurations,
            "status": interpreter.status(now),
            "failureReason": interpreter.failure_reason
            if interpreter.status(now) == "CREATE_FAILED"
            else None,
            "createdAt": epoch_to_datetime(interpreter.created_at),
            "lastUpdatedAt": epoch_to_datetime(interpreter.last_updated(now)),
        }

    def get_interpreter(self, scope: Scope, params: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            interpreter = self._interpreter(scope, params["codeInterpreterId"])
            return self._describe_interpreter(interpreter, self.clock())

    def list_interpreters(self, scope: Scope, params: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            region = self._region(scope)
            now = self.clock()
            wanted = params.get("type")
            visible = [
                i
                for i in region.interpreters.values()
                if i.status(now) not in GONE and (wanted is None or (wanted == "SYSTEM") == i.system)
            ]
            offset = 0
            token = params.get("nextToken")
            if token:
                decoded = decode_token(token)
                if decoded.get("t") != wanted:
                    raise invalid("nextToken does not belong to this request", "nextToken")
                offset = token_position(decoded, "offset")
            limit = params.get("maxResults", DEFAULT_PAGE)
            page = visible[offset : offset + limit]
            answer: dict[str, Any] = {
                "codeInterpreterSummaries": [
                    {
                        key: value
                        for key, value in self._describe_interpreter(i, now).items()
                        if key in ("codeInterpreterId", "codeInterpreterArn", "name", "description", "status")
                        or key in ("createdAt", "lastUpdatedAt")
                    }
                    for i in page
                ]
            }
            if offset + limit < len(visible):
                answer["nextToken"] = encode_token({"t": wanted, "offset": offset + limit})
            return answer

    def create_interpreter(self, scope: Scope, params: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            region = self._region(scope)
            now = self.clock()
            token = params.get("clientToken")
            identity = {k: v for k, v in params.items() if k != "clientToken"}
            replay = self._idempotent(region, "CreateCodeInterpreter", token, identity)
            if replay is not None:
                return replay
            name = params["name"]
            check_network(params["networkConfiguration"])
            check_mount_paths(params.get("filesystemConfigurations"))
            if any(
                i.name == name and i.status(now) not in GONE and not i.system
                for i in region.interpreters.values()
            ):
                raise conflict(f"A code interpreter named {name} already exists")
            interpreter_id = f"{name}-{self._random_id(10, string.ascii_letters + string.digits)}"
            interpreter = Interpreter(
                id=interpreter_id,
                name=name,
                arn=self._custom_arn(scope, interpreter_id),
                created_at=now,
                ready_at=now + self.config.create_delay,
                network_mode=params["networkConfiguration"]["networkMode"],
                failure_reason=(
                    f"Failed to create code interpreter {name}: the emulator was told to fail it (--fail-create)"
                    if name in self.config.fail_create
                    else None
                ),
                description=params.get("description"),
                execution_role_arn=params.get("executionRoleArn"),
                network_configuration=dict(params["networkConfiguration"]),
                certificates=params.get("certificates"),
                filesystem_configurations=params.get("filesystemConfigurations"),
                tags=dict(params.get("tags") or {}),
            )
            region.interpreters[interpreter_id] = interpreter
            answer = {
                "codeInterpreterId": interpreter.id,
                "codeInterpreterArn": interpreter.arn,
                "createdAt": epoch_to_datetime(now),
                "status": interpreter.status(now),
            }
            self._remember(region, "CreateCodeInterpreter", token, identity, answer)
            return answer

    def delete_interpreter(self, scope: Scope, params: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            interpreter = self._interpreter(scope, params["codeInterpreterId"])
            if interpreter.system:
                raise invalid(f"{interpreter.id} is a system code interpreter and cannot be deleted")
            now = self.clock()
            if interpreter.deleted_at is None:
                interpreter.deleted_at = now + self.config.create_delay
            return {
                "codeInterpreterId": interpreter.id,
                "status": interpreter.status(now),
                "lastUpdatedAt": epoch_to_datetime(now),
            }

    def _taggable(self, scope: Scope, arn: str) -> Interpreter:
        """The custom interpreter an ARN names (the only taggable resource the emulator has)."""
        found = ARN_RE.match(arn)
        if found is None or found.group("region") != scope.region or found.group("account") != scope.account:
            raise not_found(f"Resource {arn} not found")
        interpreter = self._region(scope).interpreters.get(found.group("id"))
        if interpreter is None or interpreter.system or interpreter.arn != arn:
            raise not_found(f"Resource {arn} not found")
        if interpreter.status(self.clock()) in GONE:
            raise not_found(f"Resource {arn} not found")
        return interpreter

    def tag_resource(self, scope: Scope, params: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            interpreter = self._taggable(scope, params["resourceArn"])
            merged = {**interpreter.tags, **params["tags"]}
            if len(merged) > MAX_TAGS:
                raise invalid(
                    f"A resource can have at most {MAX_TAGS} tags; this would make {len(merged)}", "tags"
                )
            interpreter.tags = merged
            return {}

    def untag_resource(self, scope: Scope, params: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            interpreter = self._taggable(scope, params["resourceArn"])
            for key in params["tagKeys"]:
                interpreter.tags.pop(key, None)
            return {}

    def list_tags(self, scope: Scope, params: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            return {"tags": dict(self._taggable(scope, params["resourceArn"]).tags)}

    # -- introspection (tests and benchmarks, never the AWS routes) ----------------------

    def sessions(self, region_name: str | None = None, account: str | None = None) -> list[dict[str, Any]]:
        """Every session (of one region, of one account), by region, oldest first."""
        with self._lock:
            now = self.clock()
            return [
                session.to_dict(now)
                for session in sorted(
                    (
                        session
                        for scope, region in self._regions.items()
                        if region_name in (None, scope.region) and account in (None, scope.account)
                        for session in region.sessions.values()
                    ),
                    key=lambda s: (s.region, s.seq),
                )
            ]

    def interpreters(
        self, region_name: str = "us-east-1", account: str | None = None
    ) -> list[dict[str, Any]]:
        """The interpreters of one account (default: the default account's) in one region."""
        scope = Scope(account or self.config.account, region_name)
        with self._lock:
            now = self.clock()
            return [
                {
                    "id": i.id,
                    "name": i.name,
                    "arn": i.arn,
                    "status": i.status(now),
                    "failureReason": i.failure_reason,
                    "networkConfiguration": i.network_configuration or {"networkMode": i.network_mode},
                    "description": i.description,
                    "executionRoleArn": i.execution_role_arn,
                    "certificates": i.certificates,
                    "filesystemConfigurations": i.filesystem_configurations,
                    "tags": dict(i.tags),
                    "createdAt": i.created_at,
                    "deletedAt": i.deleted_at,
                }
                for i in self._region(scope).interpreters.values()
            ]

    def active_sessions(self, region_name: str, account: str | None = None) -> int:
        with self._lock:
            region = self._region(Scope(account or self.config.account, region_name))
            self._purge(region, self.clock())
            return len(region.active)

    def stop_out_of_band(self, region_name: str, session_id: str) -> None:
        """Stop a session as someone else would (the console, another tool)."""
        with self._lock:
            session = self._find(region_name, session_id)
            if session is None:
                raise KeyError(session_id)
            now = self.clock()
            if session.status(now) != "TERMINATED":
                session.stopped_at = now
                self._region(Scope(session.account, region_name)).active.discard(session_id)

    def reset(self) -> None:
        with self._lock:
            self._regions.clear()
            self._random = random.Random(self.config.seed)
