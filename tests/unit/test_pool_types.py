"""The pool's typed spec and status, and its CRD: generated from the session CRD, never hand-copied."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from agentcore_operator.api.v1alpha1 import Condition, SpecError
from agentcore_operator.api.v1alpha1.pool import PoolSpec, PoolStatus, free_selector
from agentcore_operator.api.v1alpha1.pool_crd import (
    POOL_CRD,
    SESSION_CRD,
    pool_crd,
    render,
    without_transition_rules,
)

REPO = Path(__file__).resolve().parents[2]
SESSION = yaml.safe_load((REPO / "crds" / SESSION_CRD).read_text())


def read(spec: Any, name: str = "p") -> PoolSpec:
    return PoolSpec.from_resource(
        {"metadata": {"namespace": "ns", "name": name}, "spec": spec}, default_region="us-east-1"
    )


def openapi(crd: dict[str, Any]) -> dict[str, Any]:
    (version,) = crd["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


# --- the spec ----------------------------------------------------------------------------


def test_a_minimal_pool_gets_the_defaults() -> None:
    spec = read({"template": {"spec": {}}})
    assert spec.replicas == 0 and spec.min_remaining_seconds == 60 and spec.max_session_age_seconds == 0
    assert spec.session_timeout_seconds == 900 and spec.template_labels == {}


def test_the_template_hash_follows_the_template() -> None:
    one = read({"template": {"spec": {"sessionTimeoutSeconds": 600}}})
    same = read({"replicas": 5, "template": {"spec": {"sessionTimeoutSeconds": 600}}})
    other = read({"template": {"metadata": {"labels": {"a": "b"}}, "spec": {"sessionTimeoutSeconds": 600}}})
    assert one.template_hash == same.template_hash != other.template_hash
    assert len(one.template_hash) == 10


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "spec.template is missing"),
        ({"template": {}}, "spec.template.spec is missing"),
        ({"replicas": -1, "template": {"spec": {}}}, "spec.replicas -1 is outside"),
        ({"replicas": "3", "template": {"spec": {}}}, "spec.replicas '3' is not an integer"),
        ({"template": {"spec": {"deletionPolicy": "Retain"}}}, "deletionPolicy must be Delete"),
        ({"template": {"spec": {"sessionTimeoutSeconds": 5}}}, "spec.template.spec.sessionTimeoutSeconds 5"),
        ({"minRemainingSeconds": 900, "template": {"spec": {}}}, "must be less than the template's"),
        ({"maxSessionAgeSeconds": 30, "template": {"spec": {}}}, "0 or at least 60"),
        ({"template": {"metadata": {"labels": {"a": 1}}, "spec": {}}}, "labels must map names to strings"),
    ],
)
def test_bad_specs_are_refused_naming_the_field(spec: Any, message: str) -> None:
    with pytest.raises(SpecError, match=message.replace("(", r"\(")):
        read(spec)


def test_a_pool_name_too_long_for_a_label_is_refused() -> None:
    with pytest.raises(SpecError, match="at most 63"):
        read({"template": {"spec": {}}}, name="p" * 64)


# --- the status ----------------------------------------------------------------------------


def test_the_status_round_trips_with_the_crds_names() -> None:
    moment = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    status = PoolStatus(
        replicas=3,
        ready_replicas=2,
        selector=free_selector("p"),
        observed_generation=4,
        child_failures=1,
        retry_after=moment,
        conditions=(Condition("Ready", "False", "Filling", "2/3", moment, 4),),
    )
    data = status.to_dict()
    assert PoolStatus.from_dict(data) == status
    crd_status = openapi(pool_crd(SESSION))["properties"]["status"]["properties"]
    assert set(data) == set(crd_status)


def test_a_garbled_status_reads_as_unset() -> None:
    assert PoolStatus.from_dict({"replicas": "x", "readyReplicas": True, "retryAfter": 5}) == PoolStatus()


# --- the CRD -------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", ["crds", "charts/agentcore-operator/crds"])
def test_the_pool_crd_is_exactly_what_the_generator_writes(folder: str) -> None:
    assert (REPO / folder / POOL_CRD).read_text() == render(SESSION), (
        "run `python -m agentcore_operator.api.v1alpha1.pool_crd` after changing the session CRD"
    )


def test_the_template_spec_is_the_session_spec_without_its_immutability() -> None:
    template = openapi(pool_crd(SESSION))["properties"]["spec"]["properties"]["template"]["properties"][
        "spec"
    ]
    session = without_transition_rules(openapi(SESSION)["properties"]["spec"])
    assert {k: v for k, v in template.items() if k != "description"} == {
        k: v for k, v in session.items() if k != "description"
    }
    assert set(template["properties"]) == set(openapi(SESSION)["properties"]["spec"]["properties"])
    assert "oldSelf" not in render(SESSION)


def test_the_crd_has_the_scale_subresource_printer_columns_and_names() -> None:
    crd = pool_crd(SESSION)
    (version,) = crd["spec"]["versions"]
    assert version["subresources"] == {
        "status": {},
        "scale": {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        },
    }
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Desired",
        "Free",
        "Ready",
        "Reason",
        "Age",
    ]
    assert crd["spec"]["names"]["shortNames"] == ["cisp"] and crd["spec"]["names"]["categories"] == [
        "agentcore"
    ]
    assert crd["spec"]["scope"] == "Namespaced"
