"""The sandbox's user-pool front (sandbox/developer_page.py) is as strict as Cognito where moto
is not, and `provision` skips only what it cannot create (the page's CloudFront delivery)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from sandbox.developer_page import TARGET_PREFIX, UserPoolFront, page_headers
from sandbox.provision import _without_dangling

PASSWORD = "Correct-Horse-9-battery"
PAGE = "http://127.0.0.1:8123"


@pytest.fixture
def front(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        cognito = boto3.client("cognito-idp", region_name="us-east-1")
        pool = cognito.create_user_pool(PoolName="p", UsernameAttributes=["email"])["UserPool"]["Id"]

        def client(flows: list[str]) -> str:
            made = cognito.create_user_pool_client(
                UserPoolId=pool, ClientName="page", ExplicitAuthFlows=flows
            )
            return made["UserPoolClient"]["ClientId"]

        yield UserPoolFront(cognito, pool, PAGE), client, cognito, pool


def call(front: UserPoolFront, operation: str, body: dict) -> tuple[int, dict]:
    return front.handle(TARGET_PREFIX + operation, json.dumps(body).encode())


def sign_up(front: UserPoolFront, client_id: str, email: str) -> None:
    status, _ = call(
        front,
        "SignUp",
        {
            "ClientId": client_id,
            "Username": email,
            "Password": PASSWORD,
            "UserAttributes": [{"Name": "email", "Value": email}],
        },
    )
    assert status == 200


def test_confirmation_needs_the_issued_code_and_verifies_the_email(front) -> None:
    users, client, cognito, pool = front
    client_id = client(["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    sign_up(users, client_id, "a@example.com")
    code = users.code_for("A@example.com")
    assert code and len(code) == 6
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    status, fault = call(
        users,
        "ConfirmSignUp",
        {"ClientId": client_id, "Username": "a@example.com", "ConfirmationCode": wrong},
    )
    assert (status, fault["__type"]) == (400, "CodeMismatchException")
    assert cognito.admin_get_user(UserPoolId=pool, Username="a@example.com")["UserStatus"] == "UNCONFIRMED"
    status, _ = call(
        users, "ConfirmSignUp", {"ClientId": client_id, "Username": "a@example.com", "ConfirmationCode": code}
    )
    assert status == 200
    user = cognito.admin_get_user(UserPoolId=pool, Username="a@example.com")
    assert user["UserStatus"] == "CONFIRMED"
    assert {"Name": "email_verified", "Value": "true"} in user["UserAttributes"]
    assert users.code_for("a@example.com") is None, "a code is used once"
    status, answer = call(
        users,
        "InitiateAuth",
        {
            "ClientId": client_id,
            "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": "a@example.com", "PASSWORD": PASSWORD},
        },
    )
    assert status == 200 and answer["AuthenticationResult"]["IdToken"]


def test_sign_in_flow_must_be_enabled_on_the_client(front) -> None:
    users, client, _cognito, _pool = front
    client_id = client(["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    status, fault = call(
        users,
        "InitiateAuth",
        {
            "ClientId": client_id,
            "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": "x@example.com", "PASSWORD": PASSWORD},
        },
    )
    assert (status, fault["__type"]) == (400, "InvalidParameterException")


def test_unknown_user_looks_like_a_wrong_password(front) -> None:
    users, client, _cognito, _pool = front
    client_id = client(["ALLOW_USER_PASSWORD_AUTH"])
    status, fault = call(
        users,
        "InitiateAuth",
        {
            "ClientId": client_id,
            "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": "nobody@example.com", "PASSWORD": PASSWORD},
        },
    )
    assert (status, fault["__type"]) == (400, "NotAuthorizedException")


def test_only_the_page_operations_and_json_bodies(front) -> None:
    users, _client, _cognito, _pool = front
    assert (
        users.handle(TARGET_PREFIX + "AdminConfirmSignUp", b"{}")[1]["__type"] == "UnknownOperationException"
    )
    assert users.handle("Other.SignUp", b"{}")[1]["__type"] == "UnknownOperationException"
    assert users.handle(TARGET_PREFIX + "SignUp", b"[1]")[1]["__type"] == "SerializationException"
    assert users.handle(TARGET_PREFIX + "SignUp", b"{}")[1]["__type"] == "InvalidParameterException"


def test_cors_only_for_the_page_origin(front) -> None:
    users = front[0]
    assert users.cors_headers(PAGE)["Access-Control-Allow-Origin"] == PAGE
    assert users.cors_headers("https://evil.example") == {}
    assert users.cors_headers(None) == {}


def test_page_headers_fill_both_origins() -> None:
    csp = page_headers("http://api", "http://pool")["Content-Security-Policy"]
    assert "connect-src 'self' http://api http://pool;" in csp and "{" not in csp


def test_provision_drops_only_what_refers_to_resources_nobody_creates() -> None:
    template = {
        "Resources": {
            "Layer": {"Type": "AWS::Lambda::LayerVersion"},
            "Deployer": {"Type": "AWS::Lambda::Function", "Properties": {"Layers": [{"Ref": "Layer"}]}},
            "DeployerPolicy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {"Roles": [{"Fn::GetAtt": ["Deployer", "Arn"]}]},
            },
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
            "Api": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Environment": {"T": {"Ref": "Table"}, "R": {"Ref": "AWS::Region"}}},
            },
        }
    }
    emulated = {k: v for k, v in template["Resources"].items() if k != "Layer"}
    kept, skipped = _without_dangling(emulated, template)
    assert set(kept) == {"Table", "Api"}
    assert skipped == ("Deployer", "DeployerPolicy")
