"""CPU of one AgentCore call in the calling thread: the builtin transport vs botocore's urllib3.

Issue #18: about half the CPU a boto3 worker thread spends per call is botocore's HTTP layer.
This times N GetCodeInterpreterSession calls from one thread against the AgentCore emulator
(served by another thread of this process, over real HTTP on 127.0.0.1) with
`time.thread_time`, which counts only the calling thread's CPU: the emulator's work is not in
it. Both clients come from ClientFactory, once per `http_client`; the order alternates over
the rounds so neither gets the warmer cache.

    PYTHONPATH=operator .venv/bin/python bench/aws_http.py              # a few seconds
    PYTHONPATH=operator .venv/bin/python bench/aws_http.py --calls 2000 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from agentcore_operator.aws.clients import AWS_HTTP_CLIENTS, ClientFactory
from agentcore_operator.local.agentcore import EmulatorConfig
from agentcore_operator.local.agentcore.testing import running_emulator
from agentcore_operator.local.harness import dummy_boto_session

INTERPRETER = "aws.codeinterpreter.v1"
REGION = "us-east-1"


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
                endpoint_url=emulator.endpoint_url, session=dummy_boto_session(), http_client=name
            ).data(REGION)
            for name in AWS_HTTP_CLIENTS
        }
        session_id = clients["builtin"].start_code_interpreter_session(codeInterpreterIdentifier=INTERPRETER)[
            "sessionId"
        ]
        for client in clients.values():  # warm: models loaded, connections open
            cpu_per_call(client, session_id, 50)
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in AWS_HTTP_CLIENTS}
        for round_number in range(args.rounds):
            order = AWS_HTTP_CLIENTS if round_number % 2 == 0 else AWS_HTTP_CLIENTS[::-1]
            for name in order:
                results[name].append(cpu_per_call(clients[name], session_id, args.calls))

    print(f"GetCodeInterpreterSession, {args.calls} calls x {args.rounds} rounds, one thread (median)")
    print(f"{'http client':<12} {'CPU ms/call':>12} {'wall ms/call':>13}")
    for name in AWS_HTTP_CLIENTS:
        cpu = statistics.median(result[0] for result in results[name])
        wall = statistics.median(result[1] for result in results[name])
        print(f"{name:<12} {cpu:>12.3f} {wall:>13.3f}")
    ratio = statistics.median(r[0] for r in results["builtin"]) / statistics.median(
        r[0] for r in results["urllib3"]
    )
    print(f"builtin/urllib3 CPU: {ratio:.2f}")


if __name__ == "__main__":
    main()
