"""Run the emulator in a background thread, for tests, benchmarks and the demo.

The caller's thread stays free for blocking boto3 calls, as a user's program would be.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from agentcore_operator.local.agentcore.accounts import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY
from agentcore_operator.local.agentcore.config import EmulatorConfig, FaultRule
from agentcore_operator.local.agentcore.server import AgentCoreEmulator
from agentcore_operator.local.background import serving_in_thread

__all__ = ["DUMMY_ACCESS_KEY", "DUMMY_SECRET_KEY", "EmulatorHandle", "running_emulator"]


@dataclass
class EmulatorHandle:
    endpoint_url: str
    emulator: AgentCoreEmulator

    def client(
        self,
        service: str = "bedrock-agentcore",
        region: str = "us-east-1",
        *,
        access_key: str = DUMMY_ACCESS_KEY,
        secret_key: str = DUMMY_SECRET_KEY,
        session_token: str | None = None,
        **config: Any,
    ) -> Any:
        """A boto3 client pointed here (`sts` too), with the dummy credentials unless told
        otherwise, and no hidden retries; `config` is botocore Config keyword arguments."""
        session = boto3.session.Session(
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            aws_session_token=session_token,
            region_name=region,
        )
        return session.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.endpoint_url,
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, **config),
        )

    def sessions(self, region: str | None = None, account: str | None = None) -> list[dict[str, Any]]:
        return self.emulator.backend.sessions(region, account)

    def issued_credentials(self, account: str | None = None) -> list[dict[str, Any]]:
        """Credentials AssumeRole issued (of one account), oldest first, without secrets."""
        return self.emulator.accounts.issued(account)

    def assumed_client(
        self, role_arn: str, service: str = "bedrock-agentcore", region: str = "us-east-1", **assume: Any
    ) -> Any:
        """A client with credentials from AssumeRole (asked with the dummy key): one-shot,
        not refreshed. `assume` is AssumeRole's other members (ExternalId=..., Tags=...)."""
        assume.setdefault("RoleSessionName", "emulator-test")
        credentials = self.client("sts", region).assume_role(RoleArn=role_arn, **assume)["Credentials"]
        return self.client(
            service,
            region,
            access_key=credentials["AccessKeyId"],
            secret_key=credentials["SecretAccessKey"],
            session_token=credentials["SessionToken"],
        )

    def calls(self) -> dict[str, dict[str, int]]:
        return self.emulator.calls()

    def call_count(self, operation: str | None = None, outcome: str | None = None) -> int:
        return self.emulator.call_count(operation, outcome)

    def add_fault(self, **rule: Any) -> None:
        self.emulator.add_fault(FaultRule(**rule))

    def stop_session(self, session_id: str, region: str = "us-east-1") -> None:
        """Stop a session out of band, as the console or another tool would."""
        self.emulator.backend.stop_out_of_band(region, session_id)
        self.emulator.sandboxes.close(region, session_id)


@contextmanager
def running_emulator(
    config: EmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[EmulatorHandle]:
    emulator = AgentCoreEmulator(config)
    with serving_in_thread(lambda: emulator.serving(host, port), "agentcore-emulator") as (serving, _):
        yield EmulatorHandle(serving.endpoint_url, emulator)
