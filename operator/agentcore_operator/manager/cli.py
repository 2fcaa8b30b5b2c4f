"""`agentcore-operator run`: parse, check, then hand over to the operator until signalled."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from typing import TYPE_CHECKING

from agentcore_operator.manager.logs import configure_logging
from agentcore_operator.manager.settings import ConfigError, parse_settings

if TYPE_CHECKING:
    from agentcore_operator.manager.operator import Operator


def main(*, prog: str, argv: list[str]) -> int:
    if any(arg in ("-h", "--help") for arg in argv):
        from agentcore_operator.manager.settings import build_parser

        build_parser(prog).print_help()
        return 0
    try:
        settings = parse_settings(argv, prog=prog)
    except ConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)

    from kubernetes.config.config_exception import ConfigException

    from agentcore_operator.manager.operator import LeadershipLost, Operator

    try:
        operator = Operator(settings)
    except (ConfigException, OSError) as exc:
        print(f"{prog}: cannot load Kubernetes credentials: {exc}", file=sys.stderr)
        return 2
    freeze_startup_heap(operator, settings.region)
    try:
        asyncio.run(operator.run())
    except LeadershipLost as exc:
        # Exit non-zero so the pod restarts and stands by again, as controller-runtime does.
        print(f"{prog}: leadership lost: {exc}", file=sys.stderr)
        return 1
    return 0


def freeze_startup_heap(operator: Operator, region: str) -> None:
    """Build the AWS clients, then leave everything alive so far out of the cyclic GC's walks.

    The modules and botocore's service models (about 140,000 objects) live as long as the
    process; each full collection walked all of them again, about a tenth of a second each.
    Only the process's own entry point does this: an operator in a test shares its heap.
    """
    with contextlib.suppress(Exception):  # the first call builds them again, and reports what fails
        asyncio.run(operator.sessions.prepare(region))
    gc.collect()
    gc.freeze()
