"""Failover benchmark: two operator replicas, the leader killed again and again.

Runs the emulated cluster and the AgentCore emulator (in this process, over real HTTP) and
two `agentcore-operator run --leader-elect` processes with production election timings
(15 s lease, 10 s renew deadline, 2 s retry). Creates and deletes N sessions over time
while killing whichever replica leads K times, SIGTERM and SIGKILL in turn, restarting it
each time. Prints one table:

- failover time, from the signal to the next leader's acquireTime in the Lease, p50 and
  max, for SIGTERM (target < 3 s: the leader releases the Lease) and SIGKILL (target <
  leaseDuration + 5 s: the Lease must expire);
- duplicate sessions (two AgentCore sessions for one resource), leaked sessions (a deleted
  resource whose session is still READY), resources that did not converge;
- mutating AgentCore calls made by a replica outside its term as leader (by the user agent
  in the emulator's call log against the Lease's history).

    .venv/bin/python bench/failover.py                  # N=200, K=20 (about 5 minutes)
    .venv/bin/python bench/failover.py --sessions 40 --kills 4 --lease 3 --renew 2 --retry 0.5
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from agentcore_operator.local.agentcore.testing import running_emulator
from agentcore_operator.local.cluster.testing import running_cluster
from agentcore_operator.local.replicas import percentile, run_chaos
from agentcore_operator.runtime.elector import ElectionTiming


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--lease", type=float, default=15.0, help="lease duration, seconds")
    parser.add_argument("--renew", type=float, default=10.0, help="renew deadline, seconds")
    parser.add_argument("--retry", type=float, default=2.0, help="retry period, seconds")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    election = ElectionTiming(args.lease, args.renew, args.retry)
    election.check()
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="agentcore-failover-") as workdir,
        running_cluster() as cluster,
        running_emulator() as emulator,
    ):
        report = run_chaos(
            cluster,
            emulator,
            Path(workdir),
            sessions=args.sessions,
            kills=args.kills,
            election=election,
            seed=args.seed,
            converge_timeout=300,
            progress=lambda line: print(f"  {line}", file=sys.stderr, flush=True),
        )
    sigterm, sigkill = report.seconds("SIGTERM"), report.seconds("SIGKILL")
    rows = [
        ("sessions created / deleted", f"{report.sessions} / {report.deleted}", ""),
        ("leader kills (SIGTERM / SIGKILL)", f"{len(sigterm)} / {len(sigkill)}", ""),
        (
            "failover after SIGTERM, p50 / max",
            f"{percentile(sigterm, 0.5):.2f} s / {max(sigterm, default=float('nan')):.2f} s",
            "< 3 s",
        ),
        (
            "failover after SIGKILL, p50 / max",
            f"{percentile(sigkill, 0.5):.2f} s / {max(sigkill, default=float('nan')):.2f} s",
            f"< {election.lease_duration + 5:g} s (lease + 5 s)",
        ),
        ("exit codes after SIGTERM", " ".join(str(c) for k, c in report.exit_codes if k == "SIGTERM"), "0"),
        ("duplicate sessions", str(len(report.duplicates)), "0"),
        ("leaked sessions", str(len(report.leaked)), "0"),
        ("resources not converged", str(len(report.unconverged)), "0"),
        ("mutating calls by a non-leader", str(len(report.non_leader_calls)), "0"),
        ("convergence after the last kill", f"{report.converge_seconds:.1f} s", ""),
        ("wall time", f"{time.monotonic() - started:.0f} s", ""),
    ]
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(
        f"\nfailover: lease {election.lease_duration:g} s, renew deadline {election.renew_deadline:g} s, "
        f"retry {election.retry_period:g} s"
    )
    print(f"{'':<{width}}  {'measured':<{value_width}}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:<{value_width}}  {target}")
    for problem in report.duplicates + report.leaked + report.unconverged + report.non_leader_calls:
        print(f"  ! {problem}")
    ok = not (report.duplicates or report.leaked or report.unconverged or report.non_leader_calls)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
