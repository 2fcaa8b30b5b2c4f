"""`agentcore-operator emulator`: serve the AgentCore emulator until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys

from agentcore_operator.local.agentcore.config import (
    DEFAULT_MAX_SESSIONS,
    DEFAULT_TPS,
    EmulatorConfig,
    FaultRule,
    InterpreterSeed,
    RoleSeed,
    check_account,
    role_account,
)
from agentcore_operator.local.agentcore.server import AgentCoreEmulator
from agentcore_operator.local.agentcore.wire import interpreter_id_pattern


def fault_arg(text: str) -> FaultRule:
    """OPERATION:ERROR[:RATE], e.g. StartCodeInterpreterSession:ThrottlingException:0.1 (`*` for all)."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError(f"expected OPERATION:ERROR[:RATE], got {text!r}")
    try:
        return FaultRule(operation=parts[0], error=parts[1], rate=float(parts[2]) if len(parts) == 3 else 1.0)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def latency_arg(text: str) -> FaultRule:
    """OPERATION:SECONDS, e.g. GetCodeInterpreterSession:0.2."""
    operation, _, seconds = text.partition(":")
    try:
        return FaultRule(operation=operation, latency=float(seconds))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected OPERATION:SECONDS, got {text!r}") from exc


def interpreter_arg(text: str) -> tuple[str, InterpreterSeed]:
    """ID[:CREATE_DELAY[:FAILURE_REASON]], e.g. datasci_vpc-a1b2c3d4e5:3."""
    parts = text.split(":", 2)
    try:
        delay = float(parts[1]) if len(parts) > 1 and parts[1] else 0.0
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected ID[:CREATE_DELAY[:FAILURE_REASON]], got {text!r}"
        ) from exc
    pattern = interpreter_id_pattern()
    if not re.fullmatch(pattern, parts[0]):
        raise argparse.ArgumentTypeError(
            f"ID {parts[0]!r} does not match the model's codeInterpreterId pattern {pattern}"
        )
    return parts[0], InterpreterSeed(create_delay=delay, failure_reason=parts[2] if len(parts) > 2 else None)


def access_key_arg(text: str) -> tuple[str, str]:
    """AKID=ACCOUNT, e.g. AKIDTEAMA=111122223333."""
    key, sep, account = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected ACCESS_KEY_ID=ACCOUNT_ID, got {text!r}")
    try:
        check_account(account, f"the account of {key}")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return key, account


ROLE_OPTIONS = "external-id=X, trusted-account=ID (repeatable), max-session-duration=SECONDS"


def role_arg(text: str) -> tuple[str, RoleSeed]:
    """ROLE_ARN[,external-id=X][,trusted-account=ID]...[,max-session-duration=S]."""
    arn, *options = text.split(",")
    external_id: str | None = None
    trusted: set[str] = set()
    max_duration: int | None = None
    try:
        role_account(arn)
        for option in options:
            name, sep, value = option.partition("=")
            if not sep:
                raise ValueError(f"expected NAME=VALUE after the role ARN ({ROLE_OPTIONS}), got {option!r}")
            if name == "external-id":
                external_id = value
            elif name == "trusted-account":
                trusted.add(value)
            elif name == "max-session-duration":
                max_duration = int(value)
            else:
                raise ValueError(f"unknown role option {name!r}; one of {ROLE_OPTIONS}")
        extra = {} if max_duration is None else {"max_session_duration": max_duration}
        seed = RoleSeed(trusted_accounts=frozenset(trusted) or None, external_id=external_id, **extra)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return arn, seed


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Serve the local AgentCore code interpreter emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--account", default="123456789012", help="the emulated AWS account id")
    parser.add_argument("--start-delay", type=float, default=0.0, help="seconds until a new session is READY")
    parser.add_argument(
        "--create-delay", type=float, default=0.0, help="seconds a new interpreter is CREATING"
    )
    parser.add_argument(
        "--fail-create",
        action="append",
        default=[],
        metavar="NAME",
        help="interpreters created with this name end CREATE_FAILED (repeatable)",
    )
    parser.add_argument(
        "--interpreter",
        action="append",
        default=[],
        type=interpreter_arg,
        metavar="ID[:DELAY[:FAILURE]]",
        help="seed a custom interpreter (repeatable)",
    )
    parser.add_argument(
        "--max-sessions",
        type=int,
        default=DEFAULT_MAX_SESSIONS,
        help="concurrent active sessions per region before 402 ServiceQuotaExceeded",
    )
    parser.add_argument(
        "--tps",
        type=float,
        default=DEFAULT_TPS,
        help="requests per second per operation and region before 429 (0: unlimited)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        type=fault_arg,
        metavar="OP:ERROR[:RATE]",
        help="inject errors, e.g. StartCodeInterpreterSession:ThrottlingException:0.1",
    )
    parser.add_argument(
        "--latency",
        action="append",
        default=[],
        type=latency_arg,
        metavar="OP:SECONDS",
        help="add latency to an operation (`*` for all)",
    )
    parser.add_argument(
        "--terminated-retention",
        type=float,
        default=None,
        help="seconds TERMINATED sessions stay visible (default: forever)",
    )
    parser.add_argument(
        "--invoke-timeout",
        type=float,
        default=30.0,
        help="seconds one InvokeCodeInterpreter tool call may run before it is killed",
    )
    parser.add_argument(
        "--output-cap",
        type=int,
        default=1024**2,
        help="characters of stdout (and of stderr) one tool call returns",
    )
    parser.add_argument(
        "--access-key",
        action="append",
        default=[],
        type=access_key_arg,
        metavar="AKID=ACCOUNT",
        help="a known access key and its account (repeatable); with any, unknown keys get 403 "
        "(the dummy key AKIDEXAMPLEAGENTCORE stays --account's)",
    )
    parser.add_argument(
        "--role",
        action="append",
        default=[],
        type=role_arg,
        metavar="ROLE_ARN[,external-id=X][,trusted-account=ID][,max-session-duration=S]",
        help="a role STS AssumeRole may assume (repeatable); it trusts every account unless "
        "trusted-account is given",
    )
    parser.add_argument(
        "--credential-lifetime",
        type=float,
        default=None,
        metavar="SECONDS",
        help="cap the lifetime of credentials AssumeRole issues (default: DurationSeconds as asked)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed for ids and fault draws (reproducible runs)"
    )
    return parser


def main(*, prog: str, argv: list[str]) -> int:
    args = build_parser(prog).parse_args(argv)
    if args.max_sessions < 0 or args.tps < 0:
        print(f"{prog}: --max-sessions and --tps must not be negative", file=sys.stderr)
        return 2
    if args.invoke_timeout <= 0 or args.output_cap <= 0:
        print(f"{prog}: --invoke-timeout and --output-cap must be positive", file=sys.stderr)
        return 2
    if args.credential_lifetime is not None and args.credential_lifetime <= 0:
        print(f"{prog}: --credential-lifetime must be positive", file=sys.stderr)
        return 2
    try:
        check_account(args.account, "--account")
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    config = EmulatorConfig(
        account=args.account,
        start_delay=args.start_delay,
        create_delay=args.create_delay,
        fail_create=frozenset(args.fail_create),
        interpreters=dict(args.interpreter),
        max_sessions=args.max_sessions,
        tps=args.tps,
        faults=[*args.fault, *args.latency],
        terminated_retention=args.terminated_retention,
        seed=args.seed,
        invoke_timeout=args.invoke_timeout,
        output_cap=args.output_cap,
        accounts=dict(args.access_key),
        roles=dict(args.role),
        credential_lifetime_seconds=args.credential_lifetime,
    )
    try:
        asyncio.run(serve(AgentCoreEmulator(config), args.host, args.port))
    except OSError as exc:
        print(f"{prog}: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


async def serve(emulator: AgentCoreEmulator, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with emulator.serving(host, port) as serving:
        print(f"AgentCore emulator listening on {serving.endpoint_url}", flush=True)
        print(
            f"  boto3:   boto3.client('bedrock-agentcore', endpoint_url='{serving.endpoint_url}')", flush=True
        )
        print(
            f"  AWS CLI: aws bedrock-agentcore list-code-interpreter-sessions --endpoint-url {serving.endpoint_url} "
            "--code-interpreter-identifier aws.codeinterpreter.v1",
            flush=True,
        )
        print(
            f"  STS:     aws sts assume-role --endpoint-url {serving.endpoint_url} --role-arn ARN "
            "--role-session-name NAME",
            flush=True,
        )
        print(f"  introspection: {serving.endpoint_url}/_emulator/sessions", flush=True)
        await stop.wait()
