"""A cancelled subscription's final usage is billed, even when it arrives in an hour the metering
job has already sent (the job's clock ahead of the usage API's, as at an hour boundary on AWS or
with a sandbox run dated ahead): it is counted in the next hour and billed once, never refused."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

import pytest

from tests.plugins import ROOT
from tests.plugins.buyers import iso, subscribed_buyer

sys.path.insert(0, str(ROOT / "runtime"))
from shared.signing import sign_request  # noqa: E402 - the one signing module

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("sandbox")]


def report(api, who: dict, record_id: str, quantity: int) -> dict:
    record = {
        "id": record_id,
        "dimension": "requests",
        "quantity": quantity,
        "timestamp": iso(datetime.now(UTC)),
    }
    body = json.dumps({"records": [record]}).encode()
    key = who["key"]
    headers = sign_request(key["access_key"], key["secret_key"], "POST", "/v1/usage", (), body)
    status, answer, _ = api.call("POST", "/v1/usage", headers=headers, raw=body)
    assert status == 200, answer
    return answer


def billed(api, who: dict) -> list[dict]:
    records = api.call("GET", "/_sandbox/marketplace/metered")[1]["records"]
    return [r for r in records if r["aws_account_id"] == who["account"]]


def test_final_usage_in_an_hour_already_sent_is_billed_in_the_next_hour_once(sandbox, api):
    who = subscribed_buyer(sandbox["api_url"])
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    assert report(api, who, "before", 3)["accepted"] == 1
    # A metering run dated after the hour's window sends (and seals) the current real hour.
    dated = iso(hour + timedelta(hours=4, minutes=2))
    assert api.call("POST", "/_sandbox/jobs/metering", {"now": dated})[0] == 200
    assert [(r["quantity"], r["status"]) for r in billed(api, who)] == [(3, "Success")]

    status, answer, _ = api.call(
        "POST",
        "/_sandbox/marketplace/events",
        {"type": "purchase-agreement-ended", "aws_account_id": who["account"]},
    )
    assert status == 200, answer
    # Usage in grace, in the same real hour: both that hour and (by the job's clock) no later
    # hour is open yet, so it is counted in the next hour, not refused.
    final = report(api, who, "in-grace", 2)
    assert (final["accepted"], final["rejected"]) == (1, [])

    assert api.call("POST", "/_sandbox/jobs/metering", {"now": dated})[0] == 200
    assert (
        api.call("POST", "/_sandbox/jobs/metering", {"now": dated})[0] == 200
    )  # a rerun sends nothing again
    sent = billed(api, who)
    assert [(r["quantity"], r["status"]) for r in sent] == [(3, "Success"), (2, "Success")]
    assert sent[1]["timestamp"].startswith(iso(hour + timedelta(hours=1))[:13])
    api.call("POST", "/_sandbox/jobs/notices", {"now": iso(datetime.now(UTC))})  # the clock back to now
