"""`agentcore-operator cluster`: serve the emulated Kubernetes API server until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from agentcore_operator.local.cluster.server import EmulatedCluster


def main(*, prog: str, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=prog, description="Serve a CRD-aware emulated Kubernetes API server."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6443)
    parser.add_argument(
        "--crds", action="append", type=Path, help="CRD file or folder (repeatable; default crds/)"
    )
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=Path(".tools/emulated-kubeconfig"),
        help="where to write a kubeconfig for it (default .tools/emulated-kubeconfig)",
    )
    args = parser.parse_args(argv)
    crds = args.crds or [Path("crds")]
    missing = [str(p) for p in crds if not p.exists()]
    if missing:
        print(f"{prog}: no such CRD file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        cluster = EmulatedCluster(crds)
    except Exception as exc:  # a broken CRD file: say which, in one line
        print(f"{prog}: cannot load CRDs: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(cluster, args.host, args.port, args.kubeconfig))
    except OSError as exc:
        print(f"{prog}: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


async def serve(cluster: EmulatedCluster, host: str, port: int, kubeconfig: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with cluster.serving(host, port) as serving:
        cluster.write_kubeconfig(kubeconfig, serving.url)
        print(f"emulated cluster listening on {serving.url}", flush=True)
        print(f"  kubeconfig: {kubeconfig}", flush=True)
        print(f"  try: KUBECONFIG={kubeconfig} kubectl get crds", flush=True)
        await stop.wait()
