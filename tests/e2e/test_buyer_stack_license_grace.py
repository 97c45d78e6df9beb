"""Issue 13's end-to-end license check in the sandbox's customer stack: calls pass, then answer
402 once the subscription has ended and the grace has passed.

A buyer launches the published customer template, the solution serves a SigV4-signed call (its
license check fetched a token while the subscription was active: a full lifetime, 1 h). The
agreement then ends, dated so that the grace period ends a few seconds from now (as the demo's
`buyer_cancels` does, with 30 s). Lambda recycles execution environments on its own (every few
hours, even under load); the sandbox's `recycle` route does it now, so the next call is a cold start that
fetches a token during the grace: its `exp` is the grace's end. The call passes. Past the grace,
the token has expired and the vendor refuses a new one: the call answers 402 with the
protocol's error body (docs/protocol.md §4.3), and nothing the handler does runs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.plugins.buyers import call, end_agreement, launched, signed, subscribed_buyer
from tests.plugins.synth import load_context

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("sandbox"),
    pytest.mark.slow(reason="launches a buyer stack and waits out a grace period of real time (8 s or more)"),
]
# The grace is waited out in real time, so it is as short as the steps it must hold allow: ending
# the agreement, reading the subscription, a recycle and one cold call (2.7 s on an idle machine).
# The launch and the first cold call come before it; the first cold call (0.5 s idle) measures
# how loaded the machine is now, and the grace is GRACE_PER_COLD_CALL times that, within bounds.
GRACE_MIN_S, GRACE_MAX_S, GRACE_PER_COLD_CALL = 8.0, 30.0, 10.0


def _call(base: str, method: str, path: str, body=None, headers=None) -> tuple[int, object]:
    status, answer, _ = call(base, method, path, body, headers)
    return status, answer


def test_calls_pass_then_answer_402_once_the_grace_has_passed(sandbox):
    api_url = sandbox["api_url"]
    who = subscribed_buyer(api_url)
    stack = launched(api_url, who)
    url = stack["outputs"]["SolutionApiUrl"] + "analyze"
    creds = stack["credentials"]
    started = time.monotonic()
    status, answer = signed(url, creds, {"text": "Paid for, and served."})
    assert status == 200, answer  # a token issued while active: valid for the whole lifetime
    cold_call_s = time.monotonic() - started  # a cold start and a token fetch, on this machine now
    grace_left_s = min(GRACE_MAX_S, max(GRACE_MIN_S, GRACE_PER_COLD_CALL * cold_call_s))

    # The agreement ends, dated so that the grace period ends grace_left_s from now.
    grace_days = int(load_context()["vendstack"]["grace_days"])
    end_agreement(api_url, who["account"], grace_left_s=grace_left_s, grace_days=grace_days)
    status, sub = _call(api_url, "GET", "/v1/subscription", headers=who["bearer"])
    assert status == 200 and sub["status"] == "grace", sub
    grace_until = datetime.fromisoformat(sub["grace_until"].replace("Z", "+00:00"))
    assert grace_until - datetime.now(UTC) <= timedelta(seconds=grace_left_s)

    # Without a new token the old one serves on for up to its lifetime (README, "Not built, and
    # known limits"). A recycled environment starts cold and fetches one now, in grace.
    status, recycled = _call(api_url, "POST", f"/_sandbox/customer/stacks/{stack['stack_name']}/recycle")
    assert status == 200, recycled
    assert any(name.startswith("SolutionApi") for name in recycled["recycled"]), recycled
    status, answer = signed(url, creds, {"text": "Still working in grace."})
    assert status == 200, answer
    assert datetime.now(UTC) < grace_until, (
        f"the machine was too slow to call within the grace ({grace_left_s:.1f} s; "
        f"a cold call took {cold_call_s:.2f} s)"
    )

    time.sleep(max(0.0, (grace_until - datetime.now(UTC)).total_seconds()) + 1.5)
    status, answer = signed(url, creds, {"text": "After the grace."})
    assert status == 402, answer
    assert answer["error"]["code"] == "SubscriptionInactive", answer
    assert set(answer) == {"error"} and set(answer["error"]) == {"code", "message"}
    assert "words" not in answer  # the handler did not run
    # And it stays refused: the refusal is not an outage, so no offline grace.
    assert signed(url, creds, {"text": "Again."})[0] == 402


def test_recycle_is_a_post_without_a_body_on_a_known_stack(sandbox):
    api_url = sandbox["api_url"]
    unknown = _call(api_url, "POST", "/_sandbox/customer/stacks/no-such-stack/recycle")
    assert unknown[0] == 400 and "does not exist" in unknown[1]["error"]["message"]
    assert _call(api_url, "GET", "/_sandbox/customer/stacks/no-such-stack/recycle")[0] == 405
    assert _call(api_url, "POST", "/_sandbox/customer/stacks/x/recycle", {"now": "x"})[0] == 400
