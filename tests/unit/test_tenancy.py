"""AgentCoreAccessPolicy: parsing, namespace selection, overlaps, the index, the policy's status,
the per-role credentials' refresh windows, and the per-account rate buckets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from agentcore_operator.api.v1alpha1 import SpecError
from agentcore_operator.runtime.errors import ApiError, ErrorKind
from agentcore_operator.runtime.meta import ResourceMeta
from agentcore_operator.runtime.ratelimit import RateLimiter
from agentcore_operator.tenancy.credentials import _LifetimeScaledCredentials
from agentcore_operator.tenancy.index import TenancyIndex
from agentcore_operator.tenancy.kind import PolicyResource, decide
from agentcore_operator.tenancy.policy import AccessPolicySpec, AccessPolicyStatus, Identity, Limits

OWN = "123456789012"
ACCOUNT_A = "111122223333"
ACCOUNT_B = "444455556666"
ROLE_A = f"arn:aws:iam::{ACCOUNT_A}:role/agentcore-team-a"
ROLE_B = f"arn:aws:iam::{ACCOUNT_B}:role/agentcore-team-b"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def policy(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "generation": 3}, "spec": spec}


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}}


# -- parsing --------------------------------------------------------------------------------


def test_a_full_spec_is_read() -> None:
    spec = AccessPolicySpec.from_resource(
        policy(
            "p",
            namespaceSelector={
                "names": ["team-a"],
                "selector": {
                    "matchLabels": {"tier": "gold"},
                    "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}],
                },
            },
            identity={
                "roleArn": ROLE_A,
                "externalId": "ext-123",
                "sessionTags": [{"key": "team", "value": "a"}],
                "durationSeconds": 900,
            },
            region="eu-west-1",
            weight=3,
            limits={"maxSessions": 5, "maxSessionTimeoutSeconds": 600, "allowedInterpreters": ["x"]},
        )
    )
    assert spec.identity == Identity(ROLE_A, "ext-123", (("team", "a"),), 900)
    assert spec.identity.account_id == ACCOUNT_A
    assert (spec.region, spec.weight) == ("eu-west-1", 3)
    assert spec.limits == Limits(5, 600, frozenset({"x"}))


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"namespaceSelector": {}}, "spec.namespaceSelector"),
        (
            {"namespaceSelector": {"names": ["a"]}, "identity": {"roleArn": "arn:aws:iam::1:role/x"}},
            "roleArn",
        ),
        (
            {"namespaceSelector": {"names": ["a"]}, "identity": {"roleArn": ROLE_A, "externalId": "x"}},
            "externalId",
        ),
        (
            {"namespaceSelector": {"names": ["a"]}, "identity": {"roleArn": ROLE_A, "durationSeconds": 60}},
            "durationSeconds",
        ),
        ({"namespaceSelector": {"names": ["a"]}, "region": "mars"}, "spec.region"),
        ({"namespaceSelector": {"names": ["a"]}, "weight": 0}, "spec.weight"),
        ({"namespaceSelector": {"names": ["a"]}, "limits": {"maxSessions": -1}}, "maxSessions"),
        (
            {"namespaceSelector": {"selector": {"matchExpressions": [{"key": "k", "operator": "In"}]}}},
            "matchExpressions[0]",
        ),
    ],
)
def test_bad_input_names_the_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError, match=field.replace("[", r"\[").replace("]", r"\]")):
        AccessPolicySpec.from_resource(policy("p", **spec))


def test_the_external_id_stays_out_of_the_identitys_repr() -> None:
    assert "secret-ish" not in repr(Identity(ROLE_A, "secret-ish"))


# -- selection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ({"names": ["team-a"]}, {}, True),
        ({"names": ["team-b"]}, {}, False),
        ({"selector": {}}, {}, True),  # an empty selector selects everything, as in Kubernetes
        ({"selector": {"matchLabels": {"team": "a"}}}, {"team": "a"}, True),
        ({"selector": {"matchLabels": {"team": "a"}}}, {"team": "b"}, False),
        (
            {"selector": {"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["b"]}]}},
            {},
            True,
        ),
        ({"selector": {"matchExpressions": [{"key": "team", "operator": "Exists"}]}}, {}, False),
        ({"selector": {"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}}, {}, True),
        ({"names": ["other"], "selector": {"matchLabels": {"team": "a"}}}, {"team": "a"}, True),  # OR
    ],
)
def test_namespaces_match_by_name_or_labels(
    selector: dict[str, Any], labels: dict[str, str], matches: bool
) -> None:
    spec = AccessPolicySpec.from_resource(policy("p", namespaceSelector=selector))
    assert spec.selector.matches("team-a", labels) is matches


# -- the index ------------------------------------------------------------------------------


def test_unbound_namespaces_run_as_the_operator() -> None:
    index = TenancyIndex(OWN)
    index.put_namespace(namespace("team-a"))
    tenancy = index.for_namespace("team-a")
    assert (tenancy.policy_name, tenancy.account_id, tenancy.role, tenancy.account_key) == (
        None,
        OWN,
        None,
        "",
    )


def test_a_bound_namespace_gets_the_policys_identity_region_weight_and_limits() -> None:
    index = TenancyIndex(OWN)
    index.put_namespace(namespace("team-a"))
    changes = index.put_policy(
        policy(
            "a",
            namespaceSelector={"names": ["team-a"]},
            identity={"roleArn": ROLE_A},
            region="eu-west-1",
            weight=2,
            limits={"maxSessions": 3},
        )
    )
    assert changes.namespaces == {"team-a"} and changes.policies == {"a"}
    tenancy = index.for_namespace("team-a")
    assert (tenancy.policy_name, tenancy.account_id, tenancy.region, tenancy.weight) == (
        "a",
        ACCOUNT_A,
        "eu-west-1",
        2,
    )
    assert tenancy.account_key == ACCOUNT_A
    assert tenancy.limits.max_sessions == 3


def test_a_policy_without_identity_binds_to_the_operators_account() -> None:
    index = TenancyIndex()
    index.put_namespace(namespace("team-c"))
    index.put_policy(policy("c", namespaceSelector={"names": ["team-c"]}, limits={"maxSessions": 1}))
    assert index.for_namespace("team-c").account_id == ""
    changes = index.set_own_account(OWN)
    assert "team-c" in changes.namespaces and "c" in changes.policies
    assert index.for_namespace("team-c").account_id == OWN
    assert index.for_namespace("team-c").account_key == ""


def test_an_overlap_is_won_by_the_name_that_sorts_first_and_reported_by_the_other() -> None:
    index = TenancyIndex(OWN)
    index.put_namespace(namespace("team-a", tier="gold"))
    index.put_policy(
        policy(
            "b-gold",
            namespaceSelector={"selector": {"matchLabels": {"tier": "gold"}}},
            identity={"roleArn": ROLE_B},
        )
    )
    assert index.for_namespace("team-a").policy_name == "b-gold"
    changes = index.put_policy(
        policy("a-team", namespaceSelector={"names": ["team-a"]}, identity={"roleArn": ROLE_A})
    )
    assert changes.namespaces == {"team-a"} and changes.policies >= {"a-team", "b-gold"}
    assert index.for_namespace("team-a").policy_name == "a-team"
    loser = index.policy_view("b-gold")
    assert loser.namespaces == () and [(o.namespace, o.winner) for o in loser.overlaps] == [
        ("team-a", "a-team")
    ]
    assert index.policy_view("a-team").overlaps == ()
    # The winner goes: the other takes the namespace over.
    changes = index.remove_policy("a-team")
    assert changes.namespaces == {"team-a"}
    assert index.for_namespace("team-a").policy_name == "b-gold"


def test_relabelling_a_namespace_moves_it_between_policies() -> None:
    index = TenancyIndex(OWN)
    index.put_policy(
        policy(
            "gold",
            namespaceSelector={"selector": {"matchLabels": {"tier": "gold"}}},
            identity={"roleArn": ROLE_A},
        )
    )
    index.put_namespace(namespace("team-x"))
    assert index.for_namespace("team-x").policy_name is None
    changes = index.put_namespace(namespace("team-x", tier="gold"))
    assert changes.namespaces == {"team-x"} and changes.policies == {"gold"}
    assert index.for_namespace("team-x").account_id == ACCOUNT_A
    assert not index.put_namespace(namespace("team-x", tier="gold"))  # the same labels change nothing
    index.remove_namespace("team-x")
    assert index.namespaces_of("gold") == ()


def test_a_changed_limit_requeues_the_bound_namespaces() -> None:
    index = TenancyIndex(OWN)
    index.put_namespace(namespace("team-a"))
    index.put_policy(policy("a", namespaceSelector={"names": ["team-a"]}, limits={"maxSessions": 1}))
    changes = index.put_policy(
        policy("a", namespaceSelector={"names": ["team-a"]}, limits={"maxSessions": 2})
    )
    assert changes.namespaces == {"team-a"}


def test_an_invalid_policy_binds_nothing_and_says_why() -> None:
    index = TenancyIndex(OWN)
    index.put_namespace(namespace("team-a"))
    index.put_policy(policy("a", namespaceSelector={"names": ["team-a"]}, weight=0))
    assert index.for_namespace("team-a").policy_name is None
    assert "spec.weight" in (index.policy_view("a").error or "")


def test_identities_are_found_by_account_and_unknown_accounts_are_denied() -> None:
    index = TenancyIndex(OWN)
    index.put_policy(policy("a", namespaceSelector={"names": ["team-a"]}, identity={"roleArn": ROLE_A}))
    assert index.identity_for("") is None
    assert index.identity_for(OWN) is None
    assert index.identity_for(ACCOUNT_A) == Identity(ROLE_A)
    with pytest.raises(ApiError) as denied:
        index.identity_for(ACCOUNT_B)
    assert denied.value.kind is ErrorKind.ACCESS_DENIED and ACCOUNT_B in denied.value.message


# -- the policy's status (tenancy/kind.py's table) ------------------------------------------------


def status_of(index: TenancyIndex, name: str) -> AccessPolicyStatus:
    meta = ResourceMeta(uid="u", namespace="", name=name, generation=3)
    decision = decide(PolicyResource(meta, index.policy_view(name)), AccessPolicyStatus(), NOW)
    assert decision.action is None
    return decision.status


def test_status_valid_names_the_namespaces_and_account() -> None:
    index = TenancyIndex(OWN)
    for name in ("team-a", "team-a2"):
        index.put_namespace(namespace(name, team="a"))
    index.put_policy(
        policy(
            "a", namespaceSelector={"selector": {"matchLabels": {"team": "a"}}}, identity={"roleArn": ROLE_A}
        )
    )
    status = status_of(index, "a")
    assert status.to_dict()["namespaces"] == ["team-a", "team-a2"]
    assert status.account_id == ACCOUNT_A and status.observed_generation == 3
    ready = status.condition("Ready")
    assert ready is not None and (ready.status, ready.reason) == ("True", "Valid")


def test_status_overlap_and_invalid() -> None:
    index = TenancyIndex(OWN)
    index.put_namespace(namespace("team-a"))
    index.put_policy(policy("a", namespaceSelector={"names": ["team-a"]}))
    index.put_policy(policy("b", namespaceSelector={"names": ["team-a"]}))
    index.put_policy(policy("c", namespaceSelector={"names": ["team-a"]}, region="nowhere"))
    overlap = status_of(index, "b").condition("Ready")
    assert overlap is not None and (overlap.status, overlap.reason) == ("False", "Overlap")
    assert "team-a (bound by a)" in overlap.message
    invalid = status_of(index, "c").condition("Ready")
    assert invalid is not None and invalid.reason == "InvalidSpec" and "spec.region" in invalid.message


# -- credentials ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lifetime", "advisory", "mandatory"),
    [(900, 225, 112.5), (3600, 900, 450), (43200, 900, 600), (20, 5, 2.5)],
)
def test_refresh_windows_follow_the_credentials_lifetime(
    lifetime: int, advisory: float, mandatory: float
) -> None:
    """botocore's fixed windows (15 and 10 minutes) would refresh 15-minute credentials before
    every call; these refresh at a quarter (advisory) and an eighth (mandatory) of the lifetime."""
    fetched = []

    def fetch() -> dict[str, Any]:
        fetched.append(1)
        expiry = (NOW + timedelta(seconds=lifetime)).isoformat().replace("+00:00", "Z")
        return {"access_key": "ASIA", "secret_key": "s", "token": "t", "expiry_time": expiry}

    credentials = _LifetimeScaledCredentials(fetch, lambda: NOW)
    assert credentials.get_frozen_credentials().access_key == "ASIA"
    assert credentials._advisory_refresh_timeout == advisory
    assert credentials._mandatory_refresh_timeout == mandatory
    credentials.get_frozen_credentials()
    assert len(fetched) == 1  # fresh credentials are not fetched again


# -- rate buckets per account -------------------------------------------------------------------


def test_each_account_has_its_own_bucket() -> None:
    async def scenario() -> list[float]:
        clock = [0.0]
        limiter = RateLimiter(default_rate=1.0, clock=lambda: clock[0])
        return [
            await limiter.acquire("us-east-1", "StartCodeInterpreterSession", ""),
            await limiter.acquire("us-east-1", "StartCodeInterpreterSession", ACCOUNT_A),
            await limiter.acquire("us-east-1", "StartCodeInterpreterSession", ACCOUNT_B),
        ]

    assert asyncio.run(scenario()) == [0.0, 0.0, 0.0]
