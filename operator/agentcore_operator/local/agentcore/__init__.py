"""Local stand-in for the AgentCore code interpreter APIs (dev and test only).

boto3 talks to it through `endpoint_url` exactly as it talks to AWS; see docs/emulator.md.
"""

from agentcore_operator.local.agentcore.config import (
    EmulatorClock,
    EmulatorConfig,
    FaultRule,
    InterpreterSeed,
    RoleSeed,
)
from agentcore_operator.local.agentcore.server import AgentCoreEmulator, Serving

__all__ = [
    "AgentCoreEmulator",
    "EmulatorClock",
    "EmulatorConfig",
    "FaultRule",
    "InterpreterSeed",
    "RoleSeed",
    "Serving",
]
