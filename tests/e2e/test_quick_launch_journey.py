"""AWS Marketplace Quick Launch through the sandbox: subscribe, register, the agreement event,
the Quick Launch job; the deployment key lands as a `marketplace-deployment` secret in the buyer's
emulated account, works with the license API, is listed with the customer's keys, and never
appears in the sandbox's log."""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from tests.plugins import ROOT

sys.path.insert(0, str(ROOT / "runtime"))
from shared.signing import sign_request  # noqa: E402 - the one signing module (runtime/ is a Lambda root)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("sandbox"),
    pytest.mark.slow(reason="launches a buyer's stack in the sandbox's emulated customer account"),
]
PASSWORD = "QuickLaunch-e2e-Passw0rd!"


def _buyer_secrets(sandbox: dict, account: str):
    client = boto3.client(
        "secretsmanager",
        endpoint_url=sandbox["aws_endpoint_url"],
        region_name=sandbox["region"],
        aws_access_key_id="buyer",
        aws_secret_access_key="buyer",  # noqa: S106 - moto ignores credentials
    )
    client.meta.events.register(
        "before-sign.secrets-manager.*",
        lambda request, **_: request.headers.__setitem__("x-moto-account-id", account),
    )
    return client


def quick_launch_buyer(api) -> dict:
    """A buyer who subscribed and registered; the agreement event came and the job delivered."""
    email = f"ql-{uuid.uuid4().hex[:8]}@example.com"
    account = str(uuid.uuid4().int)[:12].rjust(12, "7")
    assert api.call("POST", "/_sandbox/users", {"email": email, "password": PASSWORD})[0] == 201
    _, token, _ = api.call("POST", "/_sandbox/tokens", {"email": email, "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {token['id_token']}"}
    status, made, _ = api.call("POST", "/_sandbox/marketplace/subscriptions", {"aws_account_id": account})
    assert status == 201
    registration = {"registration_token": made["registration_token"]}
    assert api.call("POST", "/v1/marketplace/registrations", registration, headers=bearer)[0] == 200
    # Nothing for Quick Launch until the agreement is known
    assert api.call("POST", "/_sandbox/marketplace/quick-launch", {"aws_account_id": account})[0] == 404
    event = {"type": "purchase-agreement-created", "aws_account_id": account}
    assert api.call("POST", "/_sandbox/marketplace/events", event)[0] == 200
    now = (datetime.now(UTC) + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status, summary, _ = api.call("POST", "/_sandbox/jobs/quicklaunch", {"now": now})
    assert status == 200 and summary["delivered"] >= 1, summary
    status, launch, _ = api.call("POST", "/_sandbox/marketplace/quick-launch", {"aws_account_id": account})
    assert status == 200
    return {"account": account, "bearer": bearer, "made": made, "parameters": launch["parameters"]}


def test_subscribe_then_the_deployment_key_reaches_the_buyer_account(api, sandbox) -> None:
    who = quick_launch_buyer(api)
    account, bearer, made = who["account"], who["bearer"], who["made"]
    reference = who["parameters"]["DeploymentKey"]
    assert reference.startswith(f"arn:aws:secretsmanager:us-east-1:{account}:secret:marketplace-deployment!")
    value = json.loads(_buyer_secrets(sandbox, account).get_secret_value(SecretId=reference)["SecretString"])
    access_key, secret_key = value["access_key"], value["secret_key"]
    assert secret_key not in json.dumps(who["parameters"])  # Quick Launch hands over a reference only

    headers = sign_request(access_key, secret_key, "GET", "/v1/whoami", (), b"")
    status, who_am_i, _ = api.call("GET", "/v1/whoami", headers=headers)
    assert status == 200 and who_am_i["access_key"] == access_key
    status, keys, _ = api.call("GET", "/v1/keys", headers=bearer)
    [listed] = [k for k in keys["keys"] if k["access_key"] == access_key]
    assert listed["label"] == f"AWS Marketplace Quick Launch {made['agreement_id']}"

    log = (Path(sandbox["state_dir"]) / "sandbox.log").read_text()
    assert secret_key not in log and "secretString" not in log


def _call(base: str, method: str, path: str, body=None, timeout: float = 300):
    """A launch runs the activation (vendor call, staging) and starts workers: a long timeout."""
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)  # noqa: S310 - 127.0.0.1
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - 127.0.0.1 only
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    return status, (json.loads(text) if text else None), text


def test_a_stack_launched_through_quick_launch_activates_with_no_key_pasted(api, sandbox) -> None:
    who = quick_launch_buyer(api)
    reference = who["parameters"]["DeploymentKey"]
    value = json.loads(
        _buyer_secrets(sandbox, who["account"]).get_secret_value(SecretId=reference)["SecretString"]
    )
    # Quick Launch form: only what Quick Launch fills in, no AccessKey, no SecretKey
    body = {"aws_account_id": who["account"], "parameters": dict(who["parameters"])}
    status, stack, text = _call(sandbox["api_url"], "POST", "/_sandbox/customer/stacks", body)
    assert status == 201, text
    assert stack["status"] == "CREATE_COMPLETE", stack.get("reason")
    _, shown, shown_text = _call(
        sandbox["api_url"], "GET", f"/_sandbox/customer/stacks/{stack['stack_name']}"
    )
    for secret in (value["secret_key"],):
        assert secret not in text and secret not in shown_text  # no output, event or reason has it
    assert "SecretKey" not in json.dumps(shown["outputs"])
    # The vendor saw the activation with the deployment key
    _, keys, _ = api.call("GET", "/v1/keys", headers=who["bearer"])
    [listed] = [k for k in keys["keys"] if k["access_key"] == value["access_key"]]
    assert len(listed["stacks"]) == 1
    # Both ways at once is refused before anything is created
    both = {
        "aws_account_id": who["account"],
        "parameters": {
            **who["parameters"],
            "AccessKey": value["access_key"],
            "SecretKey": value["secret_key"],
        },
    }
    status, refused, refused_text = _call(sandbox["api_url"], "POST", "/_sandbox/customer/stacks", both)
    assert status == 400 or refused.get("status") != "CREATE_COMPLETE", refused_text
    assert value["secret_key"] not in refused_text
    log = (Path(sandbox["state_dir"]) / "sandbox.log").read_text()
    assert value["secret_key"] not in log
