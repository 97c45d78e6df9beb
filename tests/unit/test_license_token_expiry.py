"""A license token's `exp` (runtime/license/logic/tokens.py): `iat + lifetime`, but never past the
end of the grace period, so the solution stops being served when the grace ends. Pure logic, no
AWS; the route that uses it is tested on moto in tests/integration/test_license_tokens.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from license.logic.tokens import claims_for, latest_expiry
from subscriptions.models import ACTIVE, GRACE, INACTIVE, PENDING, UNSUBSCRIBE_PENDING

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
GRACE_PERIOD = timedelta(days=10)


def _exp(status: str, *, grace_until=None, ending_since=None, grace=GRACE_PERIOD, lifetime=HOUR) -> int:
    cap = latest_expiry(
        status=status, grace_until=grace_until, ending_since=ending_since, now=NOW, grace=grace
    )
    claims = claims_for(
        issuer="https://api.example.com/prod",
        team_id="team-1",
        aws_account_id="111122223333",
        entitlements=["requests"],
        now=NOW,
        lifetime=lifetime,
        not_after=cap,
    )
    assert claims["iat"] == int(NOW.timestamp())
    return claims["exp"] - claims["iat"]


def test_an_active_subscription_gets_the_whole_lifetime() -> None:
    assert _exp(ACTIVE) == 3600
    assert (
        latest_expiry(status=ACTIVE, grace_until=None, ending_since=None, now=NOW, grace=GRACE_PERIOD) is None
    )


@pytest.mark.parametrize(("grace_left", "expected"), [(10, 10), (3599, 3599), (3600, 3600), (7200, 3600)])
def test_in_grace_exp_is_the_smaller_of_the_lifetime_and_the_grace_end(
    grace_left: int, expected: int
) -> None:
    assert _exp(GRACE, grace_until=NOW + timedelta(seconds=grace_left)) == expected


def test_unsubscribe_pending_is_capped_at_the_earliest_the_grace_can_end() -> None:
    """The grace starts at the unsubscribe-success that follows: `grace` after the pending event is
    the earliest it can end. Only a grace shorter than the lifetime makes this bite."""
    assert _exp(UNSUBSCRIBE_PENDING, ending_since=NOW - timedelta(minutes=5)) == 3600
    short = timedelta(minutes=30)
    assert _exp(UNSUBSCRIBE_PENDING, ending_since=NOW - timedelta(minutes=5), grace=short) == 25 * 60
    assert _exp(UNSUBSCRIBE_PENDING, ending_since=None, grace=short) == 30 * 60
    # An event time in the future (a skewed clock) is no later than now.
    assert _exp(UNSUBSCRIBE_PENDING, ending_since=NOW + HOUR, grace=short) == 30 * 60


@pytest.mark.parametrize(
    ("grace", "since_minutes"), [(timedelta(0), 0), (timedelta(0), 50), (timedelta(minutes=10), 20)]
)
def test_a_buyer_still_subscribed_gets_a_usable_token_however_short_the_grace(grace, since_minutes) -> None:
    """Still subscribed while pending: never a token born expired, at least 5 minutes."""
    assert _exp(UNSUBSCRIBE_PENDING, ending_since=NOW - timedelta(minutes=since_minutes), grace=grace) == 300


def test_a_grace_without_an_end_gets_no_lifetime() -> None:
    assert _exp(GRACE, grace_until=None) == 0


@pytest.mark.parametrize("status", [PENDING, INACTIVE])
def test_other_statuses_set_no_cap_because_they_get_no_token(status: str) -> None:
    """The route refuses them before any claims are made (402 SubscriptionInactive)."""
    assert (
        latest_expiry(status=status, grace_until=NOW, ending_since=NOW, now=NOW, grace=GRACE_PERIOD) is None
    )
