"""The claim's typed spec and status (api/v1alpha1/claim.py): what the schema refuses is refused here too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from agentcore_operator.api.v1alpha1 import SpecError
from agentcore_operator.api.v1alpha1.claim import ClaimPhase, ClaimSpec, ClaimStatus, LaunchType
from agentcore_operator.runtime.conditions import with_ready


def spec(**fields: Any) -> dict[str, Any]:
    return {"spec": {"poolRef": {"name": "p"}, **fields}}


def test_a_full_spec_is_read() -> None:
    read = ClaimSpec.from_resource(spec(shutdownTime="2030-01-01T00:00:00Z", ttlSecondsUnbound=30))
    assert read == ClaimSpec("p", None, datetime(2030, 1, 1, tzinfo=UTC), 30)
    assert ClaimSpec.from_resource(spec(ttlSecondsAfterBound=0)).ttl_seconds_after_bound == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"spec": {}}, "spec.poolRef.name"),
        ({"spec": {"poolRef": {"name": ""}}}, "spec.poolRef.name"),
        ({}, "spec"),
        (spec(ttlSecondsAfterBound=5, shutdownTime="2030-01-01T00:00:00Z"), "mutually exclusive"),
        (spec(shutdownTime="tomorrow"), "spec.shutdownTime"),
        (spec(ttlSecondsUnbound=-1), "spec.ttlSecondsUnbound"),
        (spec(ttlSecondsAfterBound=True), "spec.ttlSecondsAfterBound"),
    ],
)
def test_bad_specs_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError, match=field.replace(".", r"\.")):
        ClaimSpec.from_resource(body)


def test_the_status_round_trips_and_leaves_unset_fields_out() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    status = with_ready(
        ClaimStatus(
            session_name="p-abcde",
            session_id="s-1",
            expires_at=now,
            launch_type=LaunchType.WARM,
            bound_at=now,
            observed_generation=2,
        ),
        ClaimPhase.BOUND,
        "Bound",
        "bound",
        now,
        ready=True,
    )
    written = status.to_dict()
    assert written["phase"] == "Bound" and written["launchType"] == "Warm"
    assert written["boundAt"] == "2026-03-01T12:00:00Z"
    assert ClaimStatus.from_dict(written) == status
    assert ClaimStatus().to_dict() == {}
    assert ClaimStatus.from_dict({"phase": "Hibernating", "launchType": "Lukewarm"}) == ClaimStatus()
