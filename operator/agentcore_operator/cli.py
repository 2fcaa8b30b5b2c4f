"""The `agentcore-operator` command: one entry point, one subcommand per program.

Each subcommand lives in its own module and is imported only when chosen, so the
production image (installed without the `local` extra) never imports kmock or celpy.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("agentcore_operator.manager.cli", "Run the operator against a cluster and AgentCore."),
    "emulator": ("agentcore_operator.local.agentcore.cli", "Serve the local AgentCore emulator."),
    "cluster": ("agentcore_operator.local.cluster.cli", "Serve the emulated Kubernetes API server."),
    "demo": ("agentcore_operator.local.demo", "Run cluster, emulator and operator; apply the examples."),
}


def usage() -> str:
    lines = ["usage: agentcore-operator <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {summary}" for name, (_, summary) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in SUBCOMMANDS:
        print(f"agentcore-operator: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name, _ = SUBCOMMANDS[command]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("celpy",):
            print(
                f"agentcore-operator {command}: needs the 'local' extra (pip install 'agentcore-operator[local]')",
                file=sys.stderr,
            )
            return 2
        raise
    result: int = module.main(prog=f"agentcore-operator {command}", argv=rest)
    return result


if __name__ == "__main__":
    sys.exit(main())
