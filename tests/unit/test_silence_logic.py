"""`activations.logic.silence`: which active stacks count as silent, and since when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from activations.logic.silence import silent_activations
from activations.models import Activation

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _activation(
    activation_id: str, *, created: str, last: str | None = None, status: str = "active"
) -> Activation:
    return Activation(
        activation_id=activation_id,
        customer_id="team",
        access_key="VSAK" + "A" * 16,
        account_id="111122223333",
        region="us-east-1",
        stack_id=f"arn:aws:cloudformation:us-east-1:111122223333:stack/{activation_id}/x",
        product="textlens",
        version="1.0.0",
        issued_at=created,
        last_request_type="Create",
        created_at=created,
        updated_at=created,
        status=status,
        last_usage_at=last,
    )


def test_silence_counts_from_the_last_report_or_else_the_activation() -> None:
    found = silent_activations(
        [
            _activation("act-a", created="2026-11-20T00:00:00Z", last="2026-11-27T11:00:00Z"),  # reporting
            _activation("act-b", created="2026-11-20T00:00:00Z", last="2026-11-26T11:59:59Z"),  # 24 h+
            _activation("act-c", created="2026-11-26T11:00:00Z"),  # never reported, 25 h
            _activation("act-d", created="2026-11-27T00:00:00Z"),  # never reported, 12 h
            _activation("act-e", created="2026-11-01T00:00:00Z", status="deactivated"),
            _activation("act-f", created="not a time"),
        ],
        NOW,
        timedelta(hours=24),
    )
    assert [(f["activation_id"], f["silent_hours"]) for f in found] == [("act-c", 25), ("act-b", 24)]
    assert found[1]["last_usage_at"] == "2026-11-26T11:59:59Z" and found[0]["last_usage_at"] is None
