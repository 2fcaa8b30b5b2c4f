"""Fairness benchmark: a small namespace arriving behind a big one in a contended account.

One account with a session quota of 100 (the emulator's --max-sessions) and the published
30 TPS per operation. The namespace `big` creates 1,000 CodeInterpreterSessions at once; a
second after they are all created, `small` creates 50. Each run has its own emulated
cluster, AgentCore emulator and operator (separate processes, over real HTTP), and runs
once per quota order: `fair` (weighted round-robin of namespaces, the default) and
`oldest-first` (the order before fair share: by creation, across namespaces).

Sessions end for the line to move: the benchmark is the workload, and uses each session
for `--hold` seconds after it first sees it Ready, then deletes the resource (the operator
stops the session; its quota slot frees). That is what a job or an agent does with a
sandbox; a short sessionTimeoutSeconds is not an option (AgentCore's minimum is 60 s), and
speeding up the emulator's clock would also move the expiry the operator waits for.

The equal-share ideal, for the small namespace, from its first create until its last
session is Ready:

    ideal = L + n_small * (w_big + w_small) / w_small / min(R, Q / (L + H))

- min(R, Q / (L + H)): the sessions per second the account can start in the steady state:
  R Starts per second (30), or Q slots (100) each held L + H seconds, whichever is lower;
- (w_big + w_small) / w_small: an equal share (weights 1 and 1) gives the small namespace
  half of them;
- L: the shortest time from a Start to a session seen Ready (AgentCore's start delay, and
  the operator's first Get after a Start, whichever is longer); H: the hold time.

It leaves out what no order can avoid: when `small` arrives the quota is mostly held by
`big`'s first sessions, which nothing preempts. The target is within 1.5x of the ideal.

    .venv/bin/python bench/fairness.py                   # about a minute and a half
    .venv/bin/python bench/fairness.py --orders fair --big 300
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from agentcore_operator.controller.quota import Order
from agentcore_operator.controller.state_machine import DEFAULT_TIMING
from harness import (
    DEFAULT_NAMESPACE,
    Watcher,
    create_session,
    delete_session,
    emulator_calls,
    for_each,
    operator_on_stand_ins,
    percentile,
    print_rows,
    session_manifest,
    until,
)

BIG, SMALL = "big", "small"
START_TPS = 30.0
TIMEOUT_SECONDS = 3600  # sessions end by deletion, not by expiry


@dataclass
class Outcome:
    order: str
    small_all_ready_s: float | None = None
    small_ready: int = 0
    small_p50_s: float = float("nan")
    big_ready_when_small_done: int = 0
    big_created_s: float = 0.0
    starts: int = 0
    refused_starts: int = 0
    notes: list[str] = field(default_factory=list)


def ideal_seconds(args: argparse.Namespace) -> tuple[float, float, float]:
    """(ideal, L, throughput): the equal-share ideal of the module docstring."""
    latency = max(args.start_delay, DEFAULT_TIMING.start_settle_seconds)
    throughput = min(START_TPS, args.quota / (latency + args.hold))
    share = 1 / 2  # weights 1 and 1
    return latency + args.small / (share * throughput), latency, throughput


async def scenario(args: argparse.Namespace, order: str, workdir: Path) -> Outcome:
    outcome = Outcome(order)
    emulator_options = [
        "--tps",
        str(START_TPS),
        "--max-sessions",
        str(args.quota),
        "--start-delay",
        str(args.start_delay),
    ]
    operator_options = [
        "--quota-order",
        order,
        "--ledger-namespace",
        DEFAULT_NAMESPACE,
        "--sweep-interval",
        "60",
    ]
    async with operator_on_stand_ins(
        workdir,
        order,
        emulator_options=emulator_options,
        operator_options=operator_options,
        namespaces=(BIG, SMALL),
    ) as stand_ins:
        http, base, endpoint = stand_ins.http, stand_ins.base, stand_ins.endpoint
        loop = asyncio.get_running_loop()
        deletes: set[asyncio.Task[None]] = set()
        timers: list[asyncio.TimerHandle] = []

        def delete_later(key: str) -> None:
            namespace, name = key.split("/", 1)

            def delete() -> None:
                task = asyncio.ensure_future(delete_session(http, base, namespace, name))
                deletes.add(task)
                task.add_done_callback(deletes.discard)

            timers.append(loop.call_later(args.hold, delete))

        watcher = Watcher(base, namespace=None, on_ready=delete_later)
        watch = asyncio.create_task(watcher.run(http))
        await asyncio.sleep(0.3)

        async def create(namespace: str, index: int) -> None:
            body = session_manifest(namespace, f"{namespace}-{index:04}", TIMEOUT_SECONDS)
            watcher.created[f"{namespace}/{body['metadata']['name']}"] = time.monotonic()
            await create_session(http, base, body)

        began = time.monotonic()
        await for_each(list(range(args.big)), lambda index: create(BIG, index))
        outcome.big_created_s = time.monotonic() - began
        await asyncio.sleep(args.delay)
        small_began = time.monotonic()
        await for_each(list(range(args.small)), lambda index: create(SMALL, index))
        small = [key for key in watcher.created if key.startswith(f"{SMALL}/")]
        done = await until(lambda: all(key in watcher.ready for key in small), args.timeout)
        ready = [watcher.ready[key] - small_began for key in small if key in watcher.ready]
        outcome.small_ready = len(ready)
        if done:
            outcome.small_all_ready_s = max(ready)
        outcome.small_p50_s = percentile(ready, 50)
        outcome.big_ready_when_small_done = sum(1 for key in watcher.ready if key.startswith(f"{BIG}/"))
        calls = (await emulator_calls(http, endpoint)).get("StartCodeInterpreterSession", {})
        outcome.starts = sum(calls.values())
        outcome.refused_starts = calls.get("ServiceQuotaExceededException", 0)
        watch.cancel()
        for timer in timers:
            timer.cancel()
        for task in list(deletes):
            task.cancel()
        await asyncio.gather(watch, *deletes, return_exceptions=True)
    return outcome


def print_table(args: argparse.Namespace, outcomes: list[Outcome]) -> None:
    ideal, latency, throughput = ideal_seconds(args)

    def cell(value: float | None) -> str:
        return "not reached" if value is None else f"{value:.1f}s"

    rows: list[tuple[str, ...]] = [("", *(o.order for o in outcomes))]
    rows.append(
        ("sessions: big first, small a second later", *(f"{args.big} + {args.small}" for _ in outcomes))
    )
    rows.append(
        ("quota (concurrent sessions), Start TPS", *(f"{args.quota}, {START_TPS:g}" for _ in outcomes))
    )
    rows.append(("big created in", *(f"{o.big_created_s:.1f}s" for o in outcomes)))
    rows.append(("small all Ready, after its first create", *(cell(o.small_all_ready_s) for o in outcomes)))
    rows.append(("small Ready p50", *(f"{o.small_p50_s:.1f}s" for o in outcomes)))
    rows.append(("small Ready within the timeout", *(f"{o.small_ready}/{args.small}" for o in outcomes)))
    rows.append(("equal-share ideal", *(f"{ideal:.1f}s" for _ in outcomes)))
    rows.append(
        (
            "  ratio to the ideal",
            *(f"{o.small_all_ready_s / ideal:.2f}x" if o.small_all_ready_s else "-" for o in outcomes),
        )
    )
    rows.append(("big sessions Ready by then", *(str(o.big_ready_when_small_done) for o in outcomes)))
    rows.append(("Starts sent / refused for quota", *(f"{o.starts} / {o.refused_starts}" for o in outcomes)))
    print()
    print_rows(rows)
    print(
        f"ideal = L + n_small * (w_big + w_small) / w_small / min(R, Q / (L + H)) = {latency:g} + "
        f"{args.small} * 2 / min({START_TPS:g}, {args.quota} / ({latency:g} + {args.hold:g})) = {ideal:.1f}s "
        f"(account throughput {throughput:.1f} sessions/s)"
    )
    for outcome in outcomes:
        for note in outcome.notes:
            print(f"note ({outcome.order}): {note}")
    fair = next((o for o in outcomes if o.order == Order.FAIR.value), outcomes[0])
    ratio = f"{fair.small_all_ready_s / ideal:.2f}" if fair.small_all_ready_s else "inf"
    print(f"small namespace all Ready: {ratio}x of the equal-share ideal")


async def main_async(args: argparse.Namespace) -> int:
    orders = [Order(order.strip()).value for order in args.orders.split(",")]
    with tempfile.TemporaryDirectory(prefix="agentcore-fairness-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        outcomes = []
        for order in orders:
            outcome = await scenario(args, order, workdir)
            print(f"{order}: small all Ready {outcome.small_all_ready_s}", file=sys.stderr)
            outcomes.append(outcome)
        print_table(args, outcomes)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--big", type=int, default=1000, help="sessions of the namespace that comes first")
    parser.add_argument("--small", type=int, default=50, help="sessions of the namespace that comes later")
    parser.add_argument(
        "--delay", type=float, default=1.0, help="seconds between the two namespaces' creates"
    )
    parser.add_argument("--quota", type=int, default=100, help="the account's concurrent session quota")
    parser.add_argument("--hold", type=float, default=5.0, help="seconds each session is used, then deleted")
    parser.add_argument("--start-delay", type=float, default=1.0, help="emulator seconds from Start to READY")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="give up on the small namespace after this"
    )
    parser.add_argument("--orders", default="fair,oldest-first", help="quota orders to run, comma-separated")
    parser.add_argument("--workdir", help="keep logs and kubeconfigs here")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
