"""CPU of one AgentCore call in the calling thread, for each way the operator can make it.

Issue #18: about half the CPU a boto3 worker thread spent per call was botocore's HTTP layer,
and most of the rest its per-call machinery (hooks, endpoint ruleset, SigV4Auth). This times
N GetCodeInterpreterSession calls from one thread against the AgentCore emulator (served by
another thread of this process, over real HTTP on 127.0.0.1) with `time.thread_time`, which
counts only the calling thread's CPU: the emulator's work is not in it. The clients come from
ClientFactory, one per (calls, http_client) stack:

- botocore + urllib3: boto3 as it comes;
- botocore + builtin: botocore's call path over aws/transport.py;
- direct + builtin: aws/direct.py over aws/transport.py (the operator's default).

The order rotates over the rounds so none always gets the warmer cache.

    PYTHONPATH=operator .venv/bin/python bench/aws_http.py              # a few seconds
    PYTHONPATH=operator .venv/bin/python bench/aws_http.py --calls 2000 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from agentcore_operator.aws.clients import ClientFactory
from agentcore_operator.local.agentcore import EmulatorConfig
from agentcore_operator.local.agentcore.testing import running_emulator
from agentcore_operator.local.harness import dummy_boto_session

INTERPRETER = "aws.codeinterpreter.v1"
REGION = "us-east-1"
STACKS = {  # name -> (calls, http_client)
    "botocore + urllib3": ("botocore", "urllib3"),
    "botocore + builtin": ("botocore", "builtin"),
    "direct + builtin": ("direct", "builtin"),
}


def cpu_per_call(client: Any, session_id: str, calls: int) -> tuple[float, float]:
    """(CPU ms, wall ms) per call in this thread."""
    cpu, wall = time.thread_time(), time.perf_counter()
    for _ in range(calls):
        client.get_code_interpreter_session(codeInterpreterIdentifier=INTERPRETER, sessionId=session_id)
    return (time.thread_time() - cpu) * 1000 / calls, (time.perf_counter() - wall) * 1000 / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="calls per round and client [500]")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per client [3]")
    args = parser.parse_args()

    with running_emulator(EmulatorConfig(tps=0)) as emulator:
        clients = {
            name: ClientFactory(
                endpoint_url=emulator.endpoint_url,
                session=dummy_boto_session(),
                calls=calls,
                http_client=http,
            ).data(REGION)
            for name, (calls, http) in STACKS.items()
        }
        any_client = next(iter(clients.values()))
        session_id = any_client.start_code_interpreter_session(codeInterpreterIdentifier=INTERPRETER)[
            "sessionId"
        ]
        for client in clients.values():  # warm: models loaded, connections open
            cpu_per_call(client, session_id, 50)
        names = list(STACKS)
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        for round_number in range(args.rounds):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                results[name].append(cpu_per_call(clients[name], session_id, args.calls))

    print(f"GetCodeInterpreterSession, {args.calls} calls x {args.rounds} rounds, one thread (median)")
    print(f"{'calls + http client':<20} {'CPU ms/call':>12} {'wall ms/call':>13} {'CPU vs boto3':>13}")
    first = statistics.median(result[0] for result in results[names[0]])
    for name in names:
        cpu = statistics.median(result[0] for result in results[name])
        wall = statistics.median(result[1] for result in results[name])
        print(f"{name:<20} {cpu:>12.3f} {wall:>13.3f} {cpu / first:>12.2f}x")


if __name__ == "__main__":
    main()
