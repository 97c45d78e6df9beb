"""Notice thresholds and contents (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from notices.dal.expiring_keys import ExpiringKey
from notices.logic.notices import grace_notice, key_notice, threshold_for
from subscriptions.models import GRACE, Subscription

NOW = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("left", "expected"),
    [
        (timedelta(days=31), None),
        (timedelta(days=30, seconds=1), None),
        (timedelta(days=30), 30),
        (timedelta(days=8), 30),
        (timedelta(days=7), 7),
        (timedelta(hours=1), 7),
        (timedelta(0), None),
        (timedelta(days=-1), None),
    ],
)
def test_threshold_for(left: timedelta, expected: int | None) -> None:
    assert threshold_for(NOW + left, NOW) == expected


def test_key_notice_names_the_key_never_a_secret() -> None:
    key = ExpiringKey("VSAKAAAAAAAAAAAAAAAA", "cust-1", "user@example.com", NOW + timedelta(days=7), "ci key")
    notice = key_notice(key, 7, NOW, "textlens", "https://dev.example.com")
    assert notice.subject_key == "KEY#VSAKAAAAAAAAAAAAAAAA#7"
    assert notice.to == "user@example.com"
    assert "VSAKAAAAAAAAAAAAAAAA" in notice.subject and "in 7 days" in notice.subject
    assert "https://dev.example.com" in notice.text and '"ci key"' in notice.text
    assert "vsSK_" not in notice.text and "secret_key" not in notice.text


def test_grace_notice_is_keyed_by_its_grace_period() -> None:
    until = NOW + timedelta(days=10)
    sub = Subscription("cust-1", "user@example.com", "111122223333", "p", GRACE, grace_until=until)
    notice = grace_notice(sub, "textlens", "")
    assert notice.subject_key == "GRACE#2026-11-11T06:00:00Z"
    assert "111122223333" in notice.text and "2026-11-11 06:00 UTC" in notice.text
