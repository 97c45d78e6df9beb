"""The CloudFormation stand-in's custom-resource protocol, on a small template against moto in
server mode: a custom resource backed by an inline function that answers the ResponseURL as the
template's own code would. Proves the request fields (Create, Update with OldResourceProperties,
Delete), the replacement rule (a new physical id on Update → Delete of the old one after the
update), a FAILED answer rolling back with CloudFormation's reason, no answer at all, an answer
CloudFormation would reject, dynamic references resolved from the account's Secrets Manager, and
that each customer account is its own account in the emulator."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from sandbox import customer_account
from sandbox.customer_account import CustomerAccounts, StackError, VendorSide
from sandbox.customer_routes import RESPONSES, CustomerRoutes
from sandbox.local_http import local_server, serve_in_background
from tests.plugins.moto_server import MotoServer

ACCOUNT = "210987654321"
# The inline function: records each request it gets, then answers as its properties say.
INLINE = """
import json, os, urllib.request

def handler(event, context):
    with open(os.environ["RECORD"], "a") as out:
        out.write(json.dumps(event) + "\\n")
    props = event["ResourceProperties"]
    is_delete = event["RequestType"] == "Delete"
    mode = props.get("Mode", "ok")
    if mode == "silent" and event["RequestType"] != "Delete":
        return
    body = {
        "Status": "FAILED" if mode == "fail" and event["RequestType"] != "Delete" else "SUCCESS",
        "Reason": "the vendor said no",
        "PhysicalResourceId": event.get("PhysicalResourceId", props["Id"]) if is_delete else props["Id"],
        "StackId": event["StackId"],
        "RequestId": event["RequestId"] if mode != "bad" else "another-request",
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {"Echo": props.get("Echo", "")},
    }
    data = json.dumps(body).encode()
    headers = {"Content-Type": ""}
    request = urllib.request.Request(event["ResponseURL"], data=data, method="PUT", headers=headers)
    urllib.request.urlopen(request, timeout=10).read()
"""


def template(record: Path, **props: str) -> dict:
    return {
        "Parameters": {
            "Id": {"Type": "String", "Default": "phys-1"},
            "Mode": {"Type": "String", "Default": "ok", "AllowedValues": ["ok", "fail", "silent", "bad"]},
            "Token": {"Type": "String", "NoEcho": True, "Default": "s3cr3t-token-value"},
        },
        "Resources": {
            "Secret": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {"SecretString": {"Fn::Sub": '{"token":"${Token}"}'}},
            },
            "Copy": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {
                    "Name": {"Fn::Sub": "copy-${AWS::StackName}"},
                    "SecretString": {"Fn::Sub": "{{resolve:secretsmanager:${Secret}:SecretString:token}}"},
                },
            },
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Statement": [
                            {
                                "Action": "sts:AssumeRole",
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                            }
                        ],
                        "Version": "2012-10-17",
                    }
                },
            },
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {"ZipFile": INLINE},
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Runtime": "python3.12",
                    "Timeout": 30,
                    "Environment": {"Variables": {"RECORD": str(record)}},
                },
            },
            "Custom": {
                "Type": "Custom::Thing",
                "Properties": {
                    "ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]},
                    "ServiceTimeout": "60",
                    "Id": {"Ref": "Id"},
                    "Mode": {"Ref": "Mode"},
                    "Echo": {"Fn::Sub": "{{resolve:secretsmanager:${Secret}:SecretString:token}}"},
                    **props,
                },
            },
        },
        "Outputs": {"Echo": {"Value": {"Fn::GetAtt": ["Custom", "Echo"]}}},
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    moto = MotoServer()
    moto.start()
    host, port = moto.get_host_and_port()
    tmp = tmp_path_factory.mktemp("customer")
    state = {"template": template(tmp / "requests.jsonl")}
    routes: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args) -> None:
            return None

        def do_PUT(self) -> None:  # the ResponseURL
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = routes["routes"].response_url("PUT", self.path, body)
            self.send_response(answer.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = local_server(Handler)
    serve_in_background(server, "response-url")
    vendor = VendorSide(
        current_template=lambda: (state["template"], "1.0.0"),
        release_artifacts=lambda _name: [],
        signing_profile_version_arn="arn:aws:signer:us-east-1:123456789012:/signing-profiles/P/abc",
        response_base_url=f"http://127.0.0.1:{server.server_address[1]}",
    )
    log = (tmp / "log").open("w", buffering=1)
    accounts = CustomerAccounts(f"http://{host}:{port}", "us-east-1", vendor, tmp, log)
    routes["routes"] = CustomerRoutes(accounts, lambda _v: {}, lambda: None)
    assert RESPONSES == "/_sandbox/cloudformation/responses/"
    yield {"accounts": accounts, "record": tmp / "requests.jsonl", "state": state}
    accounts.stop()
    server.shutdown()
    log.close()
    moto.stop()


def requests_of(world) -> list[dict]:
    lines = world["record"].read_text().splitlines() if world["record"].exists() else []
    return [json.loads(line) for line in lines]


def test_create_update_replacement_and_delete(world):
    accounts = world["accounts"]
    stack = accounts.launch(ACCOUNT, {}, "cr-ok")
    assert stack.status == "CREATE_COMPLETE", stack.reason
    # A secure dynamic reference reaches a custom resource as literal text, as CloudFormation
    # sends it; in any other resource it is resolved.
    assert stack.outputs["Echo"].startswith("{{resolve:secretsmanager:arn:aws:secretsmanager:")
    copy = accounts.client(ACCOUNT, "secretsmanager").get_secret_value(SecretId="copy-cr-ok")
    assert copy["SecretString"] == "s3cr3t-token-value"
    create = requests_of(world)[-1]
    assert create["RequestType"] == "Create" and "PhysicalResourceId" not in create
    assert create["StackId"] == stack.stack_id and create["ResourceType"] == "Custom::Thing"
    assert (
        create["ResponseURL"].startswith("http://127.0.0.1:")
        and len(create["ResponseURL"].rsplit("/", 1)[1]) >= 40
    )

    updated = accounts.update("cr-ok", {"Id": "phys-2"}, None)
    assert updated.status == "UPDATE_COMPLETE", updated.reason
    update, cleanup = requests_of(world)[-2:]
    assert update["RequestType"] == "Update" and update["PhysicalResourceId"] == "phys-1"
    assert (
        update["OldResourceProperties"]["Id"] == "phys-1" and update["ResourceProperties"]["Id"] == "phys-2"
    )
    # A new physical id is a replacement: the old one is deleted once the update is complete.
    assert (cleanup["RequestType"], cleanup["PhysicalResourceId"]) == ("Delete", "phys-1")
    assert cleanup["ResourceProperties"]["Id"] == "phys-1"
    assert updated.resources["Custom"].physical == "phys-2"
    with pytest.raises(StackError, match="No updates are to be performed"):
        accounts.update("cr-ok", {"Id": "phys-2"}, None)

    assert accounts.delete("cr-ok").status == "DELETE_COMPLETE"
    delete = requests_of(world)[-1]
    assert (delete["RequestType"], delete["PhysicalResourceId"]) == ("Delete", "phys-2")
    with pytest.raises(StackError, match="does not exist"):
        accounts.get("cr-ok")


def test_a_failed_answer_rolls_back_with_cloudformations_reason(world):
    accounts = world["accounts"]
    stack = accounts.launch(ACCOUNT, {"Mode": "fail", "Id": "phys-failed"}, "cr-fail")
    assert stack.status == "ROLLBACK_COMPLETE"
    assert stack.reason.startswith(
        "Received response status [FAILED] from custom resource. "
        "Message returned: the vendor said no (RequestId: "
    )
    last = requests_of(world)[-1]
    # The rollback deletes the resource with the physical id the FAILED answer named.
    assert (last["RequestType"], last["PhysicalResourceId"]) == ("Delete", "phys-failed")
    statuses = [(e["logical_id"], e["status"]) for e in stack.events]
    assert ("Custom", "CREATE_FAILED") in statuses and ("Secret", "DELETE_COMPLETE") in statuses
    assert accounts.describe(stack)["status"] == "ROLLBACK_COMPLETE"
    assert "s3cr3t-token-value" not in json.dumps(accounts.describe(stack, events=True))


def test_no_answer_and_a_bad_answer_fail_the_resource(world, monkeypatch):
    # The function answers (or not) before it returns, so once it has returned nothing can answer:
    # the sandbox's grace after that (5 s of real time) is cut short here.
    monkeypatch.setattr(customer_account, "RESPONSE_GRACE_S", 0.2)
    accounts = world["accounts"]
    silent = accounts.launch(ACCOUNT, {"Mode": "silent"}, "cr-silent")
    assert silent.status == "ROLLBACK_COMPLETE"
    assert silent.reason.startswith("CloudFormation did not receive a response from your Custom Resource.")
    bad = accounts.launch(ACCOUNT, {"Mode": "bad"}, "cr-bad")
    assert bad.status == "ROLLBACK_COMPLETE"
    assert bad.reason == "Invalid response object: RequestId does not match the request"


def test_each_customer_account_is_its_own_account(world):
    accounts = world["accounts"]
    stack = accounts.launch("109876543210", {"Id": "phys-x"}, "cr-other-account")
    assert stack.status == "CREATE_COMPLETE", stack.reason
    secret_arn = stack.resources["Secret"].physical
    assert ":109876543210:" in secret_arn
    mine = accounts.client("109876543210", "secretsmanager").list_secrets()["SecretList"]
    theirs = accounts.client(ACCOUNT, "secretsmanager").list_secrets()["SecretList"]
    assert secret_arn in {s["ARN"] for s in mine}
    assert secret_arn not in {s["ARN"] for s in theirs}
    assert accounts.delete("cr-other-account").status == "DELETE_COMPLETE"


def test_a_failed_update_rolls_back_to_the_previous_properties(world):
    accounts = world["accounts"]
    assert accounts.launch(ACCOUNT, {"Id": "phys-u"}, "cr-update").status == "CREATE_COMPLETE"
    stack = accounts.update("cr-update", {"Id": "phys-u", "Mode": "fail"}, None)
    assert stack.status == "UPDATE_ROLLBACK_COMPLETE"
    assert stack.reason.startswith("Received response status [FAILED] from custom resource.")
    failed, rollback = requests_of(world)[-2:]
    assert (failed["RequestType"], failed["ResourceProperties"]["Mode"]) == ("Update", "fail")
    # The rollback sends the failed resource an Update from the new properties back to the old ones.
    assert rollback["RequestType"] == "Update"
    assert (rollback["ResourceProperties"]["Mode"], rollback["OldResourceProperties"]["Mode"]) == (
        "ok",
        "fail",
    )
    assert stack.parameters["Mode"] == "ok" and stack.resources["Custom"].props["Mode"] == "ok"
    # Still usable: a good update goes through, then delete.
    assert accounts.update("cr-update", {"Id": "phys-u2"}, None).status == "UPDATE_COMPLETE"
    assert accounts.delete("cr-update").status == "DELETE_COMPLETE"
