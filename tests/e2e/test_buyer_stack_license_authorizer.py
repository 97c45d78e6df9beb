"""`ApiAuthorization=NONE` in the buyer's account: the solution API has no IAM authorization, and
the template's Lambda REQUEST authorizer (the license check) runs in front of every call, as API
Gateway runs it (sandbox/lambda_authorizer.py). An entitled buyer's unsigned call passes; once
the subscription has ended and its grace has passed, calls answer 402 in the protocol's error
body, through the template's ACCESS_DENIED gateway response.

The grace is not waited out here: the agreement ends dated so that its grace is already over (the
sandbox's event clock is moved, as the notices job's is). The authorizer first runs after that, as
it did when the test slept through a 10 s grace, so the claim is the same. That a call in grace
passes and the same stack is refused once the grace passes by real time is
`test_buyer_stack_license_grace.py`'s test."""

from __future__ import annotations

import pytest

from tests.plugins.buyers import call, end_agreement, exchange, launched, subscribed_buyer
from tests.plugins.synth import load_context

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("sandbox"),
    pytest.mark.slow(reason="launches buyer stacks in the sandbox (cold starts of their functions)"),
]
# The agreement ends dated so that its grace ended this long ago (negative: in the past).
GRACE_LEFT_S = -60


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
    stack = launch_open(api_url, who)  # while active: the authorizer has not run yet
    grace_days = int(load_context()["vendstack"]["grace_days"])
    end_agreement(api_url, who["account"], grace_left_s=GRACE_LEFT_S, grace_days=grace_days)
    status, sub, _ = call(api_url, "GET", "/v1/subscription", headers=who["bearer"])
    assert (status, sub["status"]) == (200, "inactive"), sub  # a grace that has passed reads inactive

    status, answer, headers = unsigned(stack, "/analyze")
    assert status == 402, answer
    assert answer["error"]["code"] == "SubscriptionInactive" and answer["error"]["message"]
    # Refused by the authorizer through the gateway response, before the solution's own check
    # (whose 402 carries `Cache-Control: no-store`) could run.
    assert "no-store" not in {k.lower(): v for k, v in headers.items()}.get("cache-control", "")
    assert unsigned(stack, "/analyze")[0] == 402  # the cached Deny
    assert call(api_url, "DELETE", f"/_sandbox/customer/stacks/{stack['stack_name']}")[0] == 200
