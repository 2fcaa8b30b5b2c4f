"""Two accounts, twice the rate: the published quotas are per account and region.

Two namespaces create N CodeInterpreterSessions each, at once. In the first run both use
the operator's own account; in the second an AgentCoreAccessPolicy binds `team-b` to a
role in a second account (the operator assumes it through the emulator's STS). AgentCore
(the emulator) enforces 30 Starts per second per account, region and operation, and the
operator paces itself with one token bucket per (account, region, operation): with two
accounts, twice as many Starts per second are allowed, and all 2N sessions should be Ready
in about half the time. Each run has its own emulated cluster, emulator and operator
(separate processes, over real HTTP).

    .venv/bin/python bench/accounts.py                 # about a minute
    .venv/bin/python bench/accounts.py --per-namespace 300
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from harness import (
    DEFAULT_NAMESPACE,
    GROUP_PATH,
    StandIns,
    Watcher,
    aws_env,
    create_session,
    emulator_calls,
    for_each,
    operator_on_stand_ins,
    print_rows,
    session_manifest,
    until,
)

START_TPS = 30.0
OWN_ACCOUNT = "123456789012"
TEAM_B_ACCOUNT = "222233334444"
TEAM_B_ROLE = f"arn:aws:iam::{TEAM_B_ACCOUNT}:role/agentcore-team-b"
NAMESPACES = ("team-a", "team-b")


@dataclass
class Outcome:
    accounts: int
    all_ready_s: float | None = None
    ready: int = 0
    starts: int = 0
    throttled: int = 0
    per_account: str = ""


async def accounts_of_sessions(http: aiohttp.ClientSession, endpoint: str) -> dict[str, int]:
    async with http.get(f"{endpoint}/_emulator/sessions") as response:
        listing = await response.json()
    entries = listing if isinstance(listing, list) else listing.get("sessions", [])
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.get("account", "?")] = counts.get(entry.get("account", "?"), 0) + 1
    return counts


async def scenario(args: argparse.Namespace, accounts: int, workdir: Path) -> Outcome:
    outcome = Outcome(accounts)
    emulator_options = [
        "--tps",
        str(START_TPS),
        "--start-delay",
        str(args.start_delay),
        "--account",
        OWN_ACCOUNT,
    ]
    emulator_options += [
        "--access-key",
        f"{aws_env('')['AWS_ACCESS_KEY_ID']}={OWN_ACCOUNT}",
        "--role",
        TEAM_B_ROLE,
    ]

    async def bind_team_b(stand_ins: StandIns) -> None:
        if accounts == 1:
            return
        policy = {
            "apiVersion": "agentcore.dev/v1alpha1",
            "kind": "AgentCoreAccessPolicy",
            "metadata": {"name": "team-b"},
            "spec": {"namespaceSelector": {"names": ["team-b"]}, "identity": {"roleArn": TEAM_B_ROLE}},
        }
        url = f"{stand_ins.base}{GROUP_PATH}/agentcoreaccesspolicies"
        async with stand_ins.http.post(url, json=policy) as response:
            if response.status >= 300:
                raise RuntimeError(f"policy: {response.status} {await response.text()}")

    async with operator_on_stand_ins(
        workdir,
        str(accounts),
        emulator_options=emulator_options,
        operator_options=["--ledger-namespace", DEFAULT_NAMESPACE, "--sweep-interval", "60"],
        namespaces=NAMESPACES,
        before_operator=bind_team_b,
    ) as stand_ins:
        http, base, endpoint = stand_ins.http, stand_ins.base, stand_ins.endpoint
        watcher = Watcher(base, namespace=None)
        watch = asyncio.create_task(watcher.run(http))
        await asyncio.sleep(0.3)
        bodies = [
            session_manifest(namespace, f"s-{index:04}", 3600)
            for index in range(args.per_namespace)
            for namespace in NAMESPACES
        ]
        began = time.monotonic()
        await for_each(bodies, lambda body: create_session(http, base, body))
        keys = [f"{b['metadata']['namespace']}/{b['metadata']['name']}" for b in bodies]
        done = await until(lambda: all(key in watcher.ready for key in keys), args.timeout)
        outcome.ready = sum(1 for key in keys if key in watcher.ready)
        if done:
            outcome.all_ready_s = max(watcher.ready[key] for key in keys) - began
        calls = (await emulator_calls(http, endpoint)).get("StartCodeInterpreterSession", {})
        outcome.starts = sum(calls.values())
        outcome.throttled = calls.get("ThrottlingException", 0)
        per_account = await accounts_of_sessions(http, endpoint)
        outcome.per_account = ", ".join(f"{a}: {n}" for a, n in sorted(per_account.items()))
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)
    return outcome


async def main_async(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="agentcore-accounts-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        outcomes = []
        for accounts in (1, 2):
            outcome = await scenario(args, accounts, workdir)
            print(f"{accounts} account(s): all Ready {outcome.all_ready_s}", file=sys.stderr)
            outcomes.append(outcome)
    total = args.per_namespace * len(NAMESPACES)

    def cell(value: float | None) -> str:
        return "not reached" if value is None else f"{value:.1f}s"

    rows: list[tuple[str, ...]] = [("", "one account", "two accounts")]
    rows.append(("sessions (two namespaces at once)", *(str(total) for _ in outcomes)))
    rows.append(
        (
            "physical limit N / (30 TPS x accounts)",
            *(f"{total / (START_TPS * o.accounts):.1f}s" for o in outcomes),
        )
    )
    rows.append(("time until all Ready", *(cell(o.all_ready_s) for o in outcomes)))
    rows.append(
        (
            "aggregate sessions started per second",
            *(f"{total / o.all_ready_s:.1f}" if o.all_ready_s else "-" for o in outcomes),
        )
    )
    rows.append(("Ready", *(f"{o.ready}/{total}" for o in outcomes)))
    rows.append(("Starts sent / throttled by AgentCore", *(f"{o.starts} / {o.throttled}" for o in outcomes)))
    rows.append(("sessions per account (emulator)", *(o.per_account for o in outcomes)))
    print()
    print_rows(rows)
    one, two = outcomes
    if one.all_ready_s and two.all_ready_s:
        print(f"two accounts: {one.all_ready_s / two.all_ready_s:.2f}x the aggregate Start rate of one")
    else:
        print("two accounts: not measured (a run did not get every session Ready)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-namespace", type=int, default=450, help="sessions each namespace creates")
    parser.add_argument("--start-delay", type=float, default=1.0, help="emulator seconds from Start to READY")
    parser.add_argument("--timeout", type=float, default=120.0, help="give up after this")
    parser.add_argument("--workdir", help="keep logs and kubeconfigs here")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
