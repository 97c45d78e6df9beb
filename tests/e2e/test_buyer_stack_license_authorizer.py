"""`ApiAuthorization=NONE` in the buyer's account: the solution API has no IAM authorization, and
the template's Lambda REQUEST authorizer (the license check) runs in front of every call, as API
Gateway runs it (sandbox/lambda_authorizer.py). An entitled buyer's unsigned call passes; once
the subscription has ended and its grace has passed, calls answer 402 in the protocol's error
body, through the template's ACCESS_DENIED gateway response."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from tests.plugins.buyers import call, end_agreement, exchange, launched, subscribed_buyer
from tests.plugins.synth import load_context

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("sandbox"),
    pytest.mark.slow(reason="launches buyer stacks and waits out a grace period of real time (10 s)"),
]
# The grace period is made to end this long after the cancellation. It only has to hold ending the
# agreement and reading the subscription (about 2 s on an idle machine; 10 s leaves room for a
# loaded CI machine): the stack is launched before, so the grace is not waited out for a launch.
# (That a launch's activation still succeeds in grace is tested through the activations API,
# tests/e2e/test_usage_to_marketplace.py.)
GRACE_LEFT_S = 10


def launch_open(api_url: str, who: dict) -> dict:
    return launched(api_url, who, ApiAuthorization="NONE")


def unsigned(stack: dict, path: str) -> tuple[int, dict | None, dict]:
    base = stack["outputs"]["SolutionApiUrl"].rstrip("/")
    status, answer, _, headers = exchange(base, "POST", path, {"text": "Good service, great results."})
    return status, answer, headers


def test_an_entitled_buyer_is_admitted_by_the_license_authorizer(sandbox):
    stack = launch_open(sandbox["api_url"], subscribed_buyer(sandbox["api_url"]))
    status, answer, _ = unsigned(stack, "/analyze")
    assert (status, answer["words"]) == (200, 4), answer
    assert unsigned(stack, "/analyze")[0] == 200  # the authorizer's cached Allow
    assert call(sandbox["api_url"], "DELETE", f"/_sandbox/customer/stacks/{stack['stack_name']}")[0] == 200


def test_after_the_grace_period_the_authorizer_answers_402(sandbox):
    api_url = sandbox["api_url"]
    who = subscribed_buyer(api_url)
    stack = launch_open(api_url, who)  # before the grace starts: the authorizer has not run yet
    grace_days = int(load_context()["vendstack"]["grace_days"])
    end_agreement(api_url, who["account"], grace_left_s=GRACE_LEFT_S, grace_days=grace_days)
    status, sub, _ = call(api_url, "GET", "/v1/subscription", headers=who["bearer"])
    assert sub["status"] == "grace", sub
    until = datetime.fromisoformat(sub["grace_until"].replace("Z", "+00:00"))
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds() + 1))

    status, answer, headers = unsigned(stack, "/analyze")
    assert status == 402, answer
    assert answer["error"]["code"] == "SubscriptionInactive" and answer["error"]["message"]
    # Refused by the authorizer through the gateway response, before the solution's own check
    # (whose 402 carries `Cache-Control: no-store`) could run.
    assert "no-store" not in {k.lower(): v for k, v in headers.items()}.get("cache-control", "")
    assert unsigned(stack, "/analyze")[0] == 402  # the cached Deny
    assert call(api_url, "DELETE", f"/_sandbox/customer/stacks/{stack['stack_name']}")[0] == 200
