"""SIGKILL during CreateCodeInterpreter: never two interpreters for one resource.

The operator runs as a real process and dies the way pods die. AgentCore (the emulator)
carries out each Create and answers it late, so a kill lands after AgentCore acted and
before the operator heard of it: the Create is sent again on the next life, with the
same clientToken (derived from the resource's UID), and must return the same interpreter.
The check is on the emulator's own interpreter table, never on what the operator believes.
"""

from __future__ import annotations

from collections import Counter

import pytest
from agentcore_operator.local.agentcore.testing import EmulatorHandle
from agentcore_operator.local.cluster.testing import ClusterHandle

from . import test_reliability
from .conftest import eventually
from .test_interpreters import interpreter_manifest
from .test_reliability import OperatorProcess, apply_many

operator_process = test_reliability.operator_process  # the real-process fixture, shared

KILLS = 10


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sigkill_during_create_leaves_exactly_one_interpreter_per_resource(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator_process: OperatorProcess
) -> None:
    emulator.add_fault(operation="CreateCodeInterpreter", latency=1.0, latency_after=True)
    names = [f"crash-{i}" for i in range(KILLS)]
    operator_process.start()
    for life, name in enumerate(names):
        apply_many(cluster, [interpreter_manifest(name)])
        operator_process.wait_up()
        # This resource's Create has reached AgentCore and been carried out; its answer is
        # still on the way. (Not a count of Creates taken after wait_up: an operator quick to
        # start may have sent it already, and the count would then wait for a Create that
        # never comes.)
        eventually(
            lambda n=f"default_{name.replace('-', '_')}": any(
                i["name"] == n for i in emulator.emulator.backend.interpreters()
            ),
            timeout=20,
            interval=0.02,
            message=f"a Create in life {life}",
        )
        operator_process.kill()
        operator_process.start()
    assert operator_process.kills == KILLS
    emulator.emulator.clear_faults()

    def all_ready() -> bool:
        bodies = cluster.objects("codeinterpreters", "default")
        return len(bodies) == KILLS and all((b.get("status") or {}).get("phase") == "Ready" for b in bodies)

    eventually(all_ready, timeout=30, interval=0.2, message="every interpreter Ready after the last life")
    made = [i for i in emulator.emulator.backend.interpreters() if i["name"].startswith("default_crash")]
    per_name = Counter(i["name"] for i in made)
    assert per_name == Counter({f"default_crash_{i}": 1 for i in range(KILLS)}), per_name
    bodies = {b["metadata"]["name"]: b["status"] for b in cluster.objects("codeinterpreters", "default")}
    by_name = {i["name"]: i["id"] for i in made}
    for name in names:
        assert bodies[name]["codeInterpreterId"] == by_name[f"default_{name.replace('-', '_')}"]
    # Some Creates were sent more than once (the kills), all answered with the same interpreter.
    assert emulator.call_count("CreateCodeInterpreter", "Success") > KILLS
