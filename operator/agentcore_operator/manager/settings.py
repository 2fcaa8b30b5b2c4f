"""Operator configuration from flags and environment, checked up front.

Anything wrong here stops the process at once with one line naming the flag or variable
and what is wrong: a crash loop with a traceback helps nobody.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from agentcore_operator.api.v1alpha1.types import REGION_RE
from agentcore_operator.aws.clients import AWS_CALL_PATHS, AWS_HTTP_CLIENTS
from agentcore_operator.controller.kube import KUBE_HTTP_CLIENTS
from agentcore_operator.controller.quota import Order
from agentcore_operator.controller.state_machine import Timing
from agentcore_operator.pools.decision import PoolTiming
from agentcore_operator.runtime.elector import ElectionConfigError, ElectionTiming
from agentcore_operator.runtime.ratelimit import DEFAULT_TPS

OPERATIONS = (
    "StartCodeInterpreterSession",
    "GetCodeInterpreterSession",
    "ListCodeInterpreterSessions",
    "StopCodeInterpreterSession",
    "GetCodeInterpreter",
    "CreateCodeInterpreter",
    "DeleteCodeInterpreter",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
)
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")
DEFAULT_LEASE_NAME = "agentcore-operator"
NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


class ConfigError(ValueError):
    """A configuration value is unusable; the message names it."""


@dataclass(frozen=True)
class Settings:
    region: str
    namespaces: tuple[str, ...] = ()  # empty: every namespace
    endpoint_url: str | None = None
    kubeconfig: str | None = None
    http_host: str = "0.0.0.0"
    http_port: int = 8080  # 0 picks a free port (tests); -1 serves nothing
    log_format: str = "text"
    log_level: str = "info"
    tps: Mapping[str, float] = field(default_factory=dict)
    default_tps: float = DEFAULT_TPS
    max_workers: int = 16
    kube_http_client: str = KUBE_HTTP_CLIENTS[0]  # "aiohttp": the general client for every API-server request
    aws_http_client: str = AWS_HTTP_CLIENTS[0]  # "urllib3": botocore's own HTTP layer (the escape hatch)
    # "botocore": boto3's own call path for the session calls (the escape hatch)
    aws_calls: str = AWS_CALL_PATHS[0]
    reconcile_workers: int = 2048  # concurrent reconcile passes (coroutines; most wait on the rate limiter)
    sweep_interval: float = 60.0
    ledger_namespace: str = "agentcore-system"
    orphan_sweep_interval: float = 300.0  # 0 turns orphan recovery off
    ledger_flush_interval: float = 1.0
    timing: Timing = field(default_factory=Timing)
    # The longest wait between retries of a resource whose passes keep failing (the per-key
    # backoff doubles from 1 s up to this); tests shorten it as they shorten `timing`.
    retry_backoff_cap_seconds: float = 60.0
    pool_timing: PoolTiming = field(default_factory=PoolTiming)
    leader_elect: bool = False
    leader_election_id: str = DEFAULT_LEASE_NAME
    leader_election_namespace: str | None = None  # None: the ledger namespace
    election: ElectionTiming = field(default_factory=ElectionTiming)
    identity: str | None = None  # None: POD_NAME, else <hostname>_<random>
    quota_order: Order = Order.FAIR  # who Starts first when the session quota is contended

    @property
    def lease_namespace(self) -> str:
        return self.leader_election_namespace or self.ledger_namespace


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=prog, description="Reconcile CodeInterpreterSession resources against AWS Bedrock AgentCore."
    )
    parser.add_argument(
        "--namespace",
        "-n",
        action="append",
        dest="namespaces",
        metavar="NS",
        help="watch this namespace (repeat for several; default: all) [AGENTCORE_WATCH_NAMESPACES]",
    )
    parser.add_argument(
        "--all-namespaces", "-A", action="store_true", help="watch every namespace (the default)"
    )
    parser.add_argument("--region", help="default AWS region for sessions without spec.region [AWS_REGION]")
    parser.add_argument(
        "--endpoint-url",
        help="send both AgentCore planes here (the emulator, a VPC endpoint) [AGENTCORE_ENDPOINT_URL]",
    )
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: in-cluster, then KUBECONFIG or ~/.kube/config)"
    )
    parser.add_argument(
        "--http-port",
        help="port for /healthz, /readyz and /metrics; 0 picks one, -1 disables [AGENTCORE_HTTP_PORT, 8080]",
    )
    parser.add_argument("--http-host", help="address for the HTTP server [AGENTCORE_HTTP_HOST, 0.0.0.0]")
    parser.add_argument("--log-format", help="text or json [AGENTCORE_LOG_FORMAT]")
    parser.add_argument("--log-level", help="debug, info, warning or error [AGENTCORE_LOG_LEVEL]")
    parser.add_argument(
        "--tps",
        action="append",
        metavar="OPERATION=N",
        help="client-side rate limit for one AgentCore operation (default 30 each) [AGENTCORE_TPS]",
    )
    parser.add_argument(
        "--max-workers", help="threads for AWS and Kubernetes calls [AGENTCORE_MAX_WORKERS, 16]"
    )
    parser.add_argument(
        "--kube-http-client",
        help="HTTP client for requests to the API server other than watches: builtin (lean keep-alive) "
        "or aiohttp (used anyway behind a proxy) [AGENTCORE_KUBE_HTTP_CLIENT, builtin]",
    )
    parser.add_argument(
        "--aws-http-client",
        help="HTTP layer under boto3 for AgentCore calls: builtin (keep-alive sockets) or urllib3 "
        "(botocore's own) [AGENTCORE_AWS_HTTP_CLIENT, builtin]",
    )
    parser.add_argument(
        "--aws-calls",
        help="How the session calls (Start, Get, Stop, List) are made: direct (botocore's model, "
        "serializer, credentials and parser without its per-call hooks) or botocore (boto3's own "
        "call path) [AGENTCORE_AWS_CALLS, direct]",
    )
    parser.add_argument(
        "--sweep-interval",
        help="seconds between drift sweeps of Ready sessions [AGENTCORE_SWEEP_INTERVAL, 60]",
    )
    parser.add_argument(
        "--ledger-namespace",
        help="namespace of the session ledger ConfigMaps: the operator's own [POD_NAMESPACE, agentcore-system]",
    )
    parser.add_argument(
        "--orphan-sweep-interval",
        help="seconds between orphan sweeps; 0 disables [AGENTCORE_ORPHAN_SWEEP_INTERVAL, 300]",
    )
    parser.add_argument(
        "--quota-order",
        help="who Starts first in a contended account: fair (weighted round-robin of namespaces) "
        "or oldest-first (by creation, across namespaces) [AGENTCORE_QUOTA_ORDER, fair]",
    )
    parser.add_argument(
        "--leader-elect",
        nargs="?",
        const="true",
        metavar="BOOL",
        help="run as one of several replicas: only the holder of a Lease acts [AGENTCORE_LEADER_ELECT, false]",
    )
    parser.add_argument(
        "--leader-election-id",
        help=f"name of the Lease [AGENTCORE_LEADER_ELECTION_ID, {DEFAULT_LEASE_NAME}]",
    )
    parser.add_argument(
        "--leader-election-namespace",
        help="namespace of the Lease [AGENTCORE_LEADER_ELECTION_NAMESPACE, POD_NAMESPACE, the ledger namespace]",
    )
    parser.add_argument(
        "--leader-elect-lease-duration",
        help="seconds a standby waits on an unrenewed Lease before taking over [AGENTCORE_LEASE_DURATION, 15]",
    )
    parser.add_argument(
        "--leader-elect-renew-deadline",
        help="seconds the leader keeps acting without a renewal, then exits [AGENTCORE_RENEW_DEADLINE, 10]",
    )
    parser.add_argument(
        "--leader-elect-retry-period",
        help="seconds between attempts to acquire or renew the Lease [AGENTCORE_RETRY_PERIOD, 2]",
    )
    return parser


def parse_settings(
    argv: Sequence[str], env: Mapping[str, str] | None = None, *, prog: str = "agentcore-operator run"
) -> Settings:
    """Flags win over environment variables; every value is checked here."""
    env = os.environ if env is None else env
    args = build_parser(prog).parse_args(list(argv))

    region = args.region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not region:
        raise ConfigError("no AWS region: pass --region or set AWS_REGION")
    if not REGION_RE.fullmatch(region):
        raise ConfigError(f"--region/AWS_REGION {region!r} is not an AWS region name such as us-east-1")

    if args.namespaces and args.all_namespaces:
        raise ConfigError("--namespace and --all-namespaces exclude each other")
    raw_namespaces = args.namespaces or (
        [] if args.all_namespaces else _split(env.get("AGENTCORE_WATCH_NAMESPACES", ""))
    )
    for namespace in raw_namespaces:
        if not NAMESPACE_RE.match(namespace) or len(namespace) > 63:
            raise ConfigError(f"namespace {namespace!r} is not a valid Kubernetes namespace name")
    namespaces = tuple(dict.fromkeys(raw_namespaces))

    endpoint_url = args.endpoint_url or env.get("AGENTCORE_ENDPOINT_URL") or None
    if endpoint_url and not re.match(r"^https?://[^\s/]+", endpoint_url):
        raise ConfigError(f"--endpoint-url/AGENTCORE_ENDPOINT_URL {endpoint_url!r} is not an http(s) URL")

    log_format = (args.log_format or env.get("AGENTCORE_LOG_FORMAT") or "text").lower()
    if log_format not in LOG_FORMATS:
        raise ConfigError(
            f"--log-format/AGENTCORE_LOG_FORMAT {log_format!r} is not one of {', '.join(LOG_FORMATS)}"
        )
    log_level = (args.log_level or env.get("AGENTCORE_LOG_LEVEL") or "info").lower()
    if log_level not in LOG_LEVELS:
        raise ConfigError(
            f"--log-level/AGENTCORE_LOG_LEVEL {log_level!r} is not one of {', '.join(LOG_LEVELS)}"
        )

    http_port = _int(
        "--http-port/AGENTCORE_HTTP_PORT",
        args.http_port or env.get("AGENTCORE_HTTP_PORT") or "8080",
        -1,
        65535,
    )
    max_workers = _int(
        "--max-workers/AGENTCORE_MAX_WORKERS",
        args.max_workers or env.get("AGENTCORE_MAX_WORKERS") or "16",
        1,
        1024,
    )
    kube_http_client = _choice(
        "--kube-http-client/AGENTCORE_KUBE_HTTP_CLIENT",
        args.kube_http_client or env.get("AGENTCORE_KUBE_HTTP_CLIENT") or KUBE_HTTP_CLIENTS[0],
        KUBE_HTTP_CLIENTS,
    )
    aws_http_client = _choice(
        "--aws-http-client/AGENTCORE_AWS_HTTP_CLIENT",
        args.aws_http_client or env.get("AGENTCORE_AWS_HTTP_CLIENT") or AWS_HTTP_CLIENTS[0],
        AWS_HTTP_CLIENTS,
    )
    aws_calls = _choice(
        "--aws-calls/AGENTCORE_AWS_CALLS",
        args.aws_calls or env.get("AGENTCORE_AWS_CALLS") or AWS_CALL_PATHS[0],
        AWS_CALL_PATHS,
    )
    sweep_interval = _float(
        "--sweep-interval/AGENTCORE_SWEEP_INTERVAL",
        args.sweep_interval or env.get("AGENTCORE_SWEEP_INTERVAL") or "60",
        0.1,
        86400,
    )

    ledger_namespace = args.ledger_namespace or env.get("POD_NAMESPACE") or "agentcore-system"
    if not NAMESPACE_RE.match(ledger_namespace) or len(ledger_namespace) > 63:
        raise ConfigError(
            f"--ledger-namespace/POD_NAMESPACE {ledger_namespace!r} is not a valid namespace name"
        )
    orphan_sweep_interval = _float(
        "--orphan-sweep-interval/AGENTCORE_ORPHAN_SWEEP_INTERVAL",
        args.orphan_sweep_interval or env.get("AGENTCORE_ORPHAN_SWEEP_INTERVAL") or "300",
        0,
        86400,
    )

    leader_elect_raw = (
        args.leader_elect if args.leader_elect is not None else env.get("AGENTCORE_LEADER_ELECT", "")
    ).lower()
    if leader_elect_raw not in TRUE_WORDS + FALSE_WORDS:
        raise ConfigError(f"--leader-elect/AGENTCORE_LEADER_ELECT {leader_elect_raw!r} is not true or false")
    lease_name = args.leader_election_id or env.get("AGENTCORE_LEADER_ELECTION_ID") or DEFAULT_LEASE_NAME
    if not NAME_RE.match(lease_name) or len(lease_name) > 253:
        raise ConfigError(f"--leader-election-id {lease_name!r} is not a valid Lease name")
    lease_namespace = (
        args.leader_election_namespace
        or env.get("AGENTCORE_LEADER_ELECTION_NAMESPACE")
        or env.get("POD_NAMESPACE")
        or ledger_namespace
    )
    if not NAMESPACE_RE.match(lease_namespace) or len(lease_namespace) > 63:
        raise ConfigError(f"--leader-election-namespace {lease_namespace!r} is not a valid namespace name")
    election = ElectionTiming(
        lease_duration=_float(
            "--leader-elect-lease-duration/AGENTCORE_LEASE_DURATION",
            args.leader_elect_lease_duration or env.get("AGENTCORE_LEASE_DURATION") or "15",
            1,
            3600,
        ),
        renew_deadline=_float(
            "--leader-elect-renew-deadline/AGENTCORE_RENEW_DEADLINE",
            args.leader_elect_renew_deadline or env.get("AGENTCORE_RENEW_DEADLINE") or "10",
            0.5,
            3600,
        ),
        retry_period=_float(
            "--leader-elect-retry-period/AGENTCORE_RETRY_PERIOD",
            args.leader_elect_retry_period or env.get("AGENTCORE_RETRY_PERIOD") or "2",
            0.1,
            600,
        ),
    )
    try:
        election.check()
    except ElectionConfigError as exc:
        raise ConfigError(f"leader election: {exc}") from None

    quota_order = _choice(
        "--quota-order/AGENTCORE_QUOTA_ORDER",
        args.quota_order or env.get("AGENTCORE_QUOTA_ORDER") or Order.FAIR.value,
        tuple(order.value for order in Order),
    )

    tps: dict[str, float] = {}
    for item in args.tps or _split(env.get("AGENTCORE_TPS", "")):
        operation, sep, value = item.partition("=")
        if not sep or operation not in OPERATIONS:
            raise ConfigError(
                f"--tps/AGENTCORE_TPS {item!r} must be OPERATION=N with OPERATION one of {', '.join(OPERATIONS)}"
            )
        tps[operation] = _float(f"--tps {operation}", value, 0.01, 100000)

    return Settings(
        region=region,
        namespaces=namespaces,
        endpoint_url=endpoint_url,
        kubeconfig=args.kubeconfig or None,
        http_host=args.http_host or env.get("AGENTCORE_HTTP_HOST") or "0.0.0.0",
        http_port=http_port,
        log_format=log_format,
        log_level=log_level,
        tps=tps,
        max_workers=max_workers,
        kube_http_client=kube_http_client,
        aws_http_client=aws_http_client,
        aws_calls=aws_calls,
        sweep_interval=sweep_interval,
        ledger_namespace=ledger_namespace,
        orphan_sweep_interval=orphan_sweep_interval,
        leader_elect=leader_elect_raw in TRUE_WORDS,
        leader_election_id=lease_name,
        leader_election_namespace=lease_namespace,
        election=election,
        identity=env.get("POD_NAME") or None,
        quota_order=Order(quota_order),
    )


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    chosen = value.lower()
    if chosen not in choices:
        raise ConfigError(f"{name} {value!r} is not one of {', '.join(choices)}")
    return chosen


def _int(name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} {value!r} is not a whole number") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} {number} is outside {low}..{high}")
    return number


def _float(name: str, value: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} {value!r} is not a number") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} {number} is outside {low}..{high}")
    return number
