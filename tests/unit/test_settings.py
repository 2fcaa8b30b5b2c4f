"""Operator configuration: flags over environment, and one clear line for every bad value."""

from __future__ import annotations

import subprocess
import sys

import pytest
from agentcore_operator.manager.settings import ConfigError, parse_settings


def test_defaults_come_from_the_environment() -> None:
    env = {
        "AWS_REGION": "eu-west-1",
        "AGENTCORE_WATCH_NAMESPACES": "team-a, team-b",
        "AGENTCORE_ENDPOINT_URL": "http://127.0.0.1:4566",
        "AGENTCORE_LOG_FORMAT": "JSON",
        "AGENTCORE_TPS": "StartCodeInterpreterSession=10",
    }
    settings = parse_settings([], env)
    assert settings.region == "eu-west-1"
    assert settings.namespaces == ("team-a", "team-b")
    assert settings.endpoint_url == "http://127.0.0.1:4566"
    assert settings.log_format == "json"
    assert settings.tps == {"StartCodeInterpreterSession": 10.0}


def test_flags_win_over_the_environment() -> None:
    settings = parse_settings(
        ["--region", "us-west-2", "-n", "x", "-n", "y", "--http-port", "0"], {"AWS_REGION": "eu-west-1"}
    )
    assert (settings.region, settings.namespaces, settings.http_port) == ("us-west-2", ("x", "y"), 0)


def test_all_namespaces_overrides_the_environment_list() -> None:
    settings = parse_settings(["-A"], {"AWS_REGION": "us-east-1", "AGENTCORE_WATCH_NAMESPACES": "a"})
    assert settings.namespaces == ()


@pytest.mark.parametrize(
    ("argv", "env", "needle"),
    [
        ([], {}, "no AWS region"),
        (["--region", "mars-1"], {}, "not an AWS region"),
        (["--region", "us-east-1", "-n", "Bad_NS"], {}, "not a valid Kubernetes namespace"),
        (["--region", "us-east-1", "-n", "a", "-A"], {}, "exclude each other"),
        (["--region", "us-east-1", "--endpoint-url", "ftp://x"], {}, "not an http(s) URL"),
        (["--region", "us-east-1", "--log-format", "xml"], {}, "--log-format"),
        (["--region", "us-east-1", "--log-level", "loud"], {}, "--log-level"),
        (["--region", "us-east-1", "--http-port", "99999"], {}, "outside -1..65535"),
        (["--region", "us-east-1", "--http-port", "http"], {}, "not a whole number"),
        (["--region", "us-east-1", "--max-workers", "0"], {}, "outside 1..1024"),
        (["--region", "us-east-1", "--sweep-interval", "soon"], {}, "not a number"),
        (["--region", "us-east-1", "--tps", "StartCodeInterpreterSession"], {}, "OPERATION=N"),
        (["--region", "us-east-1", "--tps", "Invoke=3"], {}, "OPERATION=N"),
        (["--region", "us-east-1", "--tps", "StartCodeInterpreterSession=-1"], {}, "outside"),
        (["--region", "us-east-1", "--bogus"], {}, "unrecognized arguments"),
        ([], {"AWS_REGION": "us-east-1", "AGENTCORE_LOG_LEVEL": "verbose"}, "AGENTCORE_LOG_LEVEL"),
        ([], {"AWS_REGION": "us-east-1", "AGENTCORE_TPS": "x=1"}, "AGENTCORE_TPS"),
    ],
)
def test_bad_values_are_refused_with_a_message_naming_them(
    argv: list[str], env: dict[str, str], needle: str
) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        parse_settings(argv, env)
    assert needle in str(caught.value)


def test_the_cli_fails_fast_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agentcore_operator.cli", "run", "--region", "nowhere"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "agentcore-operator run: --region/AWS_REGION 'nowhere' is not an AWS region name such as us-east-1"
    ]
