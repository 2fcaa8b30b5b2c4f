"""Accounts and STS through both command lines: the emulator's flags, and the AWS CLI v1.

The emulator runs as a user runs it (`agentcore-operator emulator --access-key ... --role
...`); the AWS CLI, with its own copy of botocore, assumes roles and calls AgentCore with
what it got, first with `--endpoint-url`, then from a profile with `role_arn` (the CLI's own
AssumeRole provider) and `AWS_ENDPOINT_URL`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from agentcore_operator.local.agentcore.testing import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY

from .conftest import ACCOUNT, BUILTIN
from .test_cli import free_port, serve

pytest.importorskip("awscli")

AWS = Path(sys.executable).with_name("aws")
TEAM_A, TEAM_B = "111122223333", "444455556666"
TEAM_B_KEY = "AKIDTEAMBEXAMPLE0001"
ROLE_A = f"arn:aws:iam::{TEAM_A}:role/agentcore-team-a"
ROLE_B = f"arn:aws:iam::{TEAM_B}:role/agentcore-team-b"
EXTERNAL_ID = "tenant-a-3f9c"
LIFETIME = (
    8  # --credential-lifetime: long enough for two CLI runs on a busy machine, short enough to wait out
)


def aws(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The AWS CLI with the dummy key unless `env` says otherwise (an empty value unsets),
    no config files, no retries."""
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_MAX_ATTEMPTS": "1",
    }
    return subprocess.run(
        [str(AWS), *argv, "--output", "json"],
        env={name: value for name, value in {**base, **env}.items() if value},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def printed(*argv: str, **env: str) -> dict[str, Any]:
    done = aws(*argv, **env)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def as_env(credentials: dict[str, Any]) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }


def test_the_aws_cli_assumes_roles_the_emulator_cli_was_given(tmp_path: Path) -> None:
    argv = [
        *("--port", str(free_port()), "--tps", "0"),
        *("--access-key", f"{TEAM_B_KEY}={TEAM_B}"),
        *("--role", f"{ROLE_A},external-id={EXTERNAL_ID}"),
        *("--role", f"{ROLE_B},trusted-account={TEAM_B},max-session-duration=7200"),
        *("--credential-lifetime", str(LIFETIME)),
    ]
    with serve(*argv) as (_, url):
        at = ("--endpoint-url", url)
        assert printed("sts", "get-caller-identity", *at)["Account"] == ACCOUNT
        assert printed("sts", "get-caller-identity", *at, AWS_ACCESS_KEY_ID=TEAM_B_KEY)["Account"] == TEAM_B
        assumed = printed(
            *("sts", "assume-role", *at, "--role-arn", ROLE_A, "--role-session-name", "from-the-cli"),
            *("--external-id", EXTERNAL_ID, "--duration-seconds", "900", "--tags", "Key=team,Value=a"),
        )
        credentials = assumed["Credentials"]
        assert credentials["Expiration"].endswith("Z")  # printed as sent: ISO 8601
        who = printed("sts", "get-caller-identity", *at, **as_env(credentials))
        assert (who["Account"], who["Arn"]) == (TEAM_A, assumed["AssumedRoleUser"]["Arn"])
        started = printed(
            *("bedrock-agentcore", "start-code-interpreter-session", *at),
            *("--code-interpreter-identifier", BUILTIN),
            **as_env(credentials),
        )
        in_a = requests.get(f"{url}/_emulator/sessions", params={"account": TEAM_A}, timeout=10).json()
        assert [s["sessionId"] for s in in_a["sessions"]] == [started["sessionId"]]
        issued = requests.get(f"{url}/_emulator/credentials", timeout=10).json()["credentials"]
        assert [(c["roleArn"], c["tags"]) for c in issued] == [(ROLE_A, {"team": "a"})]

        refusals = [
            aws(
                "sts",
                "assume-role",
                *at,
                "--role-arn",
                ROLE_A,
                "--role-session-name",
                "x1",
                "--external-id",
                "no",
            ),
            aws("sts", "assume-role", *at, "--role-arn", ROLE_B, "--role-session-name", "x1"),  # untrusted
            aws(
                "sts",
                "assume-role",
                *at,
                "--role-arn",
                ROLE_B.replace("team-b", "nobody"),
                "--role-session-name",
                "x1",
            ),
        ]
        for refused in refusals:
            assert refused.returncode == 255
            assert "(AccessDenied) when calling the AssumeRole operation" in refused.stderr
        b_into_b = printed(
            *("sts", "assume-role", *at, "--role-arn", ROLE_B, "--role-session-name", "b1"),
            AWS_ACCESS_KEY_ID=TEAM_B_KEY,
        )
        assert b_into_b["AssumedRoleUser"]["Arn"].startswith(f"arn:aws:sts::{TEAM_B}:")
        stranger = aws("sts", "get-caller-identity", *at, AWS_ACCESS_KEY_ID="AKIDNOBODYKNOWS")
        assert "(InvalidClientTokenId)" in stranger.stderr

        # A profile with role_arn: the CLI assumes the role itself, AWS_ENDPOINT_URL points
        # its STS and AgentCore clients here.
        config = tmp_path / "config"
        config.write_text(
            f"[profile base]\naws_access_key_id = {DUMMY_ACCESS_KEY}\naws_secret_access_key = {DUMMY_SECRET_KEY}\n"
            f"[profile tenant]\nrole_arn = {ROLE_A}\nsource_profile = base\nexternal_id = {EXTERNAL_ID}\n"
            "region = us-east-1\n"
        )
        profile_env = {
            **{"AWS_CONFIG_FILE": str(config), "AWS_ENDPOINT_URL": url, "AWS_PROFILE": "tenant"},
            **{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""},
        }
        listed = printed(
            "bedrock-agentcore",
            "list-code-interpreter-sessions",
            "--code-interpreter-identifier",
            BUILTIN,
            **profile_env,
        )
        assert [item["sessionId"] for item in listed["items"]] == [started["sessionId"]]  # team A's

        left = time.time() + LIFETIME - issued[0]["issuedAt"]
        time.sleep(max(0.0, left) + 0.2)
        expired = aws("sts", "get-caller-identity", *at, **as_env(credentials))
        assert "(ExpiredToken) when calling the GetCallerIdentity operation" in expired.stderr
        expired = aws(
            *("bedrock-agentcore", "list-code-interpreter-sessions", *at),
            *("--code-interpreter-identifier", BUILTIN),
            **as_env(credentials),
        )
        assert (
            "(ExpiredTokenException) when calling the ListCodeInterpreterSessions operation" in expired.stderr
        )
