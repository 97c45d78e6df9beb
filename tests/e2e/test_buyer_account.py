"""The buyer's account end to end (issue 12): the published customer template launched in an
emulated customer account through the sandbox's CloudFormation stand-in, with the real activation
code answering the custom-resource protocol, the solution served under SigV4, the usage reporter,
an update to a new release, a rollback on a bad key, delete with the vendor unreachable, and
parameters refused as CloudFormation refuses them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler

import pytest

from sandbox.local_http import local_server, serve_in_background
from tests.plugins.buyers import call, iso, launch, signed
from tests.plugins.buyers import subscribed_buyer as buyer

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("sandbox"),
    pytest.mark.slow(reason="launches, updates and deletes buyer stacks in the emulated customer account"),
]


@pytest.fixture(scope="module")
def launched(sandbox) -> dict:
    api_url = sandbox["api_url"]
    who = buyer(api_url)
    status, stack, _ = launch(api_url, who)
    assert status == 201, stack
    assert stack["status"] == "CREATE_COMPLETE", stack["reason"]
    return {"api_url": api_url, "who": who, "stack": stack}


def test_launch_completes_with_the_contract_shape_and_events(launched):
    stack = launched["stack"]
    assert stack["stack_id"].startswith(
        f"arn:aws:cloudformation:us-east-1:{launched['who']['account']}:stack/"
    )
    assert stack["outputs"]["SolutionApiUrl"].startswith("http://127.0.0.1:")
    assert stack["outputs"]["ActivationId"].startswith("act-")
    assert set(stack["credentials"]) == {"aws_access_key_id", "aws_secret_access_key"}
    status, shown, text = call(launched["api_url"], "GET", f"/_sandbox/customer/stacks/{stack['stack_name']}")
    assert status == 200
    done = [(e["logical_id"], e["status"]) for e in shown["events"]]
    activation = next(e["logical_id"] for e in shown["events"] if e["logical_id"].startswith("Activation"))
    assert (stack["stack_name"], "CREATE_COMPLETE") == done[-1]
    # The custom resource runs after the function that serves it, and before the functions it stages.
    order = [logical for logical, state in done if state == "CREATE_COMPLETE"]
    solution = next(k for k in order if k.startswith("SolutionApi") and "Rest" not in k)
    assert order.index(activation) < order.index(solution)
    assert launched["who"]["key"]["secret_key"] not in text


def test_the_solution_serves_sigv4_signed_calls_and_refuses_others(launched):
    url = launched["stack"]["outputs"]["SolutionApiUrl"] + "analyze"
    creds = launched["stack"]["credentials"]
    status, answer = signed(url, creds, {"text": "Good service, great results."})
    assert status == 200, answer
    assert answer["words"] == 4
    request = urllib.request.Request(url, data=b"{}", method="POST")  # noqa: S310
    with pytest.raises(urllib.error.HTTPError) as unsigned:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310 - 127.0.0.1 only
    assert unsigned.value.code == 403
    assert json.loads(unsigned.value.read()) == {"message": "Missing Authentication Token"}
    status, answer = signed(url, creds, {"text": "x"}, secret="wrong-secret-0123456789")
    assert status == 403
    assert answer["message"].startswith("The request signature we calculated does not match")
    other = {"aws_access_key_id": "AKIAUNKNOWN000000000", "aws_secret_access_key": "x" * 40}
    assert signed(url, other, {"text": "x"}) == (
        403,
        {"message": "The security token included in the request is invalid."},
    )


def test_the_reporter_sends_the_usage_the_solution_recorded(launched):
    url = launched["stack"]["outputs"]["SolutionApiUrl"] + "analyze"
    assert signed(url, launched["stack"]["credentials"], {"text": "Some text to count."})[0] == 200
    name = launched["stack"]["stack_name"]
    status, summary, _ = call(
        launched["api_url"],
        "POST",
        f"/_sandbox/customer/stacks/{name}/jobs/usage-reporter",
        {"now": iso(datetime.now(UTC))},
    )
    assert status == 200, summary
    assert summary["accepted"] >= 2  # requests and characters, at least
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    status, usage, _ = call(
        launched["api_url"], "GET", f"/v1/usage?from={today}&to={today}", headers=launched["who"]["bearer"]
    )
    assert status == 200, usage
    assert {u["dimension"] for u in usage["usage"]} >= {"requests", "characters"}  # the vendor holds it
    assert call(launched["api_url"], "POST", f"/_sandbox/customer/stacks/{name}/jobs/nope", {})[0] == 404


def test_an_update_to_the_current_template_delivers_a_new_release(launched):
    api_url, name = launched["api_url"], launched["stack"]["stack_name"]
    version = f"2.{uuid.uuid4().int % 1000}.{uuid.uuid4().int % 1000}"
    status, release, _ = call(api_url, "POST", "/_sandbox/releases", {"version": version})
    assert status == 201, release
    assert {a["name"] for a in release["artifacts"]} >= {"api", "usage-reporter"}
    assert call(api_url, "POST", "/_sandbox/releases", {"version": version})[0] == 409
    assert call(api_url, "POST", "/_sandbox/releases", {"version": "2.x"})[0] == 400

    status, updated, _ = call(api_url, "PUT", f"/_sandbox/customer/stacks/{name}", {"template": "current"})
    assert status == 200, updated
    assert (updated["status"], updated["version"]) == ("UPDATE_COMPLETE", version), updated["reason"]
    url = updated["outputs"]["SolutionApiUrl"] + "analyze"
    assert signed(url, updated["credentials"], {"text": "Still served."})[0] == 200
    _, shown, _ = call(api_url, "GET", f"/_sandbox/customer/stacks/{name}")
    updates = [e["logical_id"] for e in shown["events"] if e["status"] == "UPDATE_COMPLETE"]
    assert any(k.startswith("Activation") for k in updates)  # the custom resource got its Update
    assert any(k.startswith("SolutionApi") for k in updates)  # and the function its new code
    # Nothing changed since: CloudFormation refuses an empty update.
    status, answer, _ = call(api_url, "PUT", f"/_sandbox/customer/stacks/{name}", {"template": "current"})
    assert (status, answer["error"]["message"]) == (400, "No updates are to be performed.")


def test_delete_ends_delete_complete(launched):
    api_url, name = launched["api_url"], launched["stack"]["stack_name"]
    status, answer, _ = call(api_url, "DELETE", f"/_sandbox/customer/stacks/{name}")
    assert (status, answer) == (200, {"status": "DELETE_COMPLETE"})
    assert call(api_url, "GET", f"/_sandbox/customer/stacks/{name}")[0] == 400  # does not exist


def test_a_bad_key_rolls_back_with_the_reason_and_never_the_secret(sandbox):
    api_url = sandbox["api_url"]
    who = buyer(api_url)
    wrong = "vsSK_" + "Z" * 43
    status, stack, text = launch(api_url, who, SecretKey=wrong)
    assert status == 201
    assert stack["status"] == "ROLLBACK_COMPLETE"
    assert stack["reason"].startswith(
        "Received response status [FAILED] from custom resource. Message returned: "
    )
    assert "SignatureDoesNotMatch" in stack["reason"] or "401" in stack["reason"]
    _, shown, shown_text = call(api_url, "GET", f"/_sandbox/customer/stacks/{stack['stack_name']}")
    states = [(e["logical_id"], e["status"]) for e in shown["events"]]
    assert any(s == "CREATE_FAILED" and k.startswith("Activation") for k, s in states)
    assert any(s == "DELETE_COMPLETE" and k.startswith("Activation") for k, s in states)  # rollback's Delete
    for secret in (wrong, who["key"]["secret_key"]):
        assert secret not in text and secret not in shown_text
    # A stack in ROLLBACK_COMPLETE can only be deleted.
    assert call(api_url, "PUT", f"/_sandbox/customer/stacks/{stack['stack_name']}", {})[0] == 400
    assert call(api_url, "DELETE", f"/_sandbox/customer/stacks/{stack['stack_name']}")[1] == {
        "status": "DELETE_COMPLETE"
    }


class _Forwarder:
    """A reverse proxy to the vendor API that can be switched off: the vendor becomes unreachable."""

    def __init__(self, target: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:
                return None

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in {"host", "content-length"}
                }
                url = target + self.path
                request = urllib.request.Request(url, data=body, method=self.command, headers=headers)  # noqa: S310
                try:
                    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - 127.0.0.1
                        status, data = response.status, response.read()
                except urllib.error.HTTPError as error:
                    status, data = error.code, error.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = _forward

        self.server = local_server(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        serve_in_background(self.server, "vendor-proxy")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_delete_completes_with_the_vendor_unreachable(sandbox):
    api_url = sandbox["api_url"]
    who = buyer(api_url)
    forwarder = _Forwarder(api_url)
    try:
        status, stack, _ = launch(api_url, who, VendorApiUrl=forwarder.url)
        assert (status, stack["status"]) == (201, "CREATE_COMPLETE"), stack["reason"]
    finally:
        forwarder.stop()
    name = stack["stack_name"]
    status, answer, _ = call(api_url, "DELETE", f"/_sandbox/customer/stacks/{name}")
    assert (status, answer) == (200, {"status": "DELETE_COMPLETE"})


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"AccessKey": "not-a-key"}, "Parameter 'AccessKey' failed to satisfy constraint"),
        ({"SecretKey": "short"}, "Parameter 'SecretKey' failed to satisfy constraint"),
        ({"ApiAuthorization": "OPEN"}, "Parameter 'ApiAuthorization' must be one of AllowedValues"),
        ({"Unknown": "x"}, "Parameters: [Unknown] do not exist in the template"),
        # No key at all: the template's rule (a key pair, or Quick Launch's DeploymentKey) refuses it.
        ({"AccessKey": None}, "Give either an access key and its secret key"),
    ],
)
def test_bad_parameters_are_refused_with_400_and_launch_nothing(sandbox, parameters, message):
    good = {"AccessKey": "VSAK" + "A" * 16, "SecretKey": "vsSK_" + "s" * 43}
    given = {k: v for k, v in {**good, **parameters}.items() if v is not None}
    name = f"bad-{uuid.uuid4().hex[:8]}"
    body = {"aws_account_id": "123456789012", "parameters": given, "stack_name": name}
    status, answer, text = call(sandbox["api_url"], "POST", "/_sandbox/customer/stacks", body)
    assert status == 400, answer
    assert answer["error"]["code"] == "ValidationError"
    assert answer["error"]["message"].startswith(message)
    assert "short" not in text or "SecretKey" not in parameters  # a NoEcho value is never echoed
    assert call(sandbox["api_url"], "GET", f"/_sandbox/customer/stacks/{name}")[0] == 400


def test_launch_refuses_a_bad_account_and_unknown_fields(sandbox):
    api_url = sandbox["api_url"]
    assert (
        call(api_url, "POST", "/_sandbox/customer/stacks", {"aws_account_id": "12", "parameters": {}})[0]
        == 400
    )
    assert (
        call(api_url, "POST", "/_sandbox/customer/stacks", {"aws_account_id": "123456789012", "x": 1})[0]
        == 400
    )
    assert call(api_url, "POST", "/_sandbox/customer/stacks", [1])[0] == 400
