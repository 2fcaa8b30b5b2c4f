"""Operator configuration: flags over environment, and one clear line for every bad value."""

from __future__ import annotations

import subprocess
import sys

import pytest
from agentcore_operator.controller.quota import Order
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


def test_the_quota_order_is_fair_unless_asked_for_oldest_first() -> None:
    assert parse_settings(["--region", "us-east-1"], {}).quota_order is Order.FAIR
    env = {"AWS_REGION": "us-east-1", "AGENTCORE_QUOTA_ORDER": "Oldest-First"}
    assert parse_settings([], env).quota_order is Order.OLDEST_FIRST


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
        (["--region", "us-east-1", "--kube-http-client", "requests"], {}, "--kube-http-client"),
        (["--region", "us-east-1", "--tps", "StartCodeInterpreterSession"], {}, "OPERATION=N"),
        (["--region", "us-east-1", "--tps", "Invoke=3"], {}, "OPERATION=N"),
        (["--region", "us-east-1", "--tps", "StartCodeInterpreterSession=-1"], {}, "outside"),
        (["--region", "us-east-1", "--bogus"], {}, "unrecognized arguments"),
        ([], {"AWS_REGION": "us-east-1", "AGENTCORE_LOG_LEVEL": "verbose"}, "AGENTCORE_LOG_LEVEL"),
        ([], {"AWS_REGION": "us-east-1", "AGENTCORE_TPS": "x=1"}, "AGENTCORE_TPS"),
        (["--region", "us-east-1", "--quota-order", "newest-first"], {}, "fair, oldest-first"),
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


def test_leader_election_is_off_by_default_with_client_go_timings() -> None:
    settings = parse_settings([], {"AWS_REGION": "us-east-1"})
    assert not settings.leader_elect
    assert (settings.leader_election_id, settings.lease_namespace) == (
        "agentcore-operator",
        "agentcore-system",
    )
    timing = settings.election
    assert (timing.lease_duration, timing.renew_deadline, timing.retry_period) == (15.0, 10.0, 2.0)
    assert settings.identity is None


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["--leader-elect"], {}, True),
        (["--leader-elect=false"], {"AGENTCORE_LEADER_ELECT": "true"}, False),
        ([], {"AGENTCORE_LEADER_ELECT": "TRUE"}, True),
        ([], {"AGENTCORE_LEADER_ELECT": "0"}, False),
    ],
)
def test_leader_elect_from_flag_or_environment(argv: list[str], env: dict[str, str], expected: bool) -> None:
    assert parse_settings(argv, {"AWS_REGION": "us-east-1", **env}).leader_elect is expected


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        ([], {}, "builtin"),
        ([], {"AGENTCORE_KUBE_HTTP_CLIENT": "AIOHTTP"}, "aiohttp"),
        (["--kube-http-client", "builtin"], {"AGENTCORE_KUBE_HTTP_CLIENT": "aiohttp"}, "builtin"),
    ],
)
def test_the_kube_http_client_from_flag_or_environment(
    argv: list[str], env: dict[str, str], expected: str
) -> None:
    assert parse_settings(argv, {"AWS_REGION": "us-east-1", **env}).kube_http_client == expected


def test_the_lease_namespace_is_the_pods_then_the_ledgers() -> None:
    base = {"AWS_REGION": "us-east-1"}
    assert parse_settings(["--ledger-namespace", "ops"], base).lease_namespace == "ops"
    assert (
        parse_settings(["--ledger-namespace", "ops"], {**base, "POD_NAMESPACE": "pods"}).lease_namespace
        == "pods"
    )
    flagged = parse_settings(
        ["--leader-election-namespace", "elect", "--leader-election-id", "my-lease"], base
    )
    assert (flagged.lease_namespace, flagged.leader_election_id) == ("elect", "my-lease")
    assert parse_settings([], {**base, "POD_NAME": "op-7d4-x"}).identity == "op-7d4-x"


def test_election_timings_are_configurable() -> None:
    settings = parse_settings(
        [
            "--leader-elect-lease-duration",
            "30",
            "--leader-elect-renew-deadline",
            "20",
            "--leader-elect-retry-period",
            "4",
        ],
        {"AWS_REGION": "us-east-1"},
    )
    assert (settings.election.lease_duration, settings.election.renew_deadline) == (30.0, 20.0)
    assert settings.election.retry_period == 4.0


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--leader-elect=maybe"], "AGENTCORE_LEADER_ELECT 'maybe'"),
        (["--leader-election-id", "Not_A_Name"], "not a valid Lease name"),
        (["--leader-election-namespace", "Ops_Team"], "not a valid namespace"),
        (["--leader-elect-renew-deadline", "15"], "greater than the renew deadline"),
        (["--leader-elect-retry-period", "9"], "retry period"),
        (["--leader-elect-lease-duration", "soon"], "is not a number"),
    ],
)
def test_bad_election_settings_are_one_clear_line(argv: list[str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse_settings(argv, {"AWS_REGION": "us-east-1"})
