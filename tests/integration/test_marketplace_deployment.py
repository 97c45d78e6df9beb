"""The Deployment Service emulator (Quick Launch) over HTTP, through boto3's `marketplace-deployment`
client: restJson1 shapes checked against botocore's model both ways, the parameter landing as a
secret in the buyer's emulated account (moto, under the buyer's account id), idempotency, quotas and
the refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from sandbox.marketplace import MarketplaceEmulator
from sandbox.marketplace_deployment import MAX_PARAMETERS, MotoBuyerSecrets
from sandbox.marketplace_model import DEPLOYMENT, service_model, validate
from tests.aws_fixtures import AWS_FIXTURES
from tests.plugins.moto_server import MotoServer

PRODUCT_CODE = "exampleprod1234567890"
BUYER = "111122223333"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SECRET = "vsSK_" + "s3cr3t" * 8  # noqa: S105 - a test value


@pytest.fixture(scope="module")
def moto_url():
    server = MotoServer()
    server.start()
    yield f"http://127.0.0.1:{server._server.server_port}"
    server.stop()


@pytest.fixture
def emulator(moto_url):
    emu = MarketplaceEmulator(PRODUCT_CODE, ["requests"], clock=lambda: NOW)
    emu.deployment.buyer_secrets = MotoBuyerSecrets(moto_url)
    emu.start()
    yield emu
    emu.stop()
    assert emu.deployment.response_problems == []


def _client(service: str, url: str, account: str | None = None):
    client = boto3.client(
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    if account:
        client.meta.events.register(
            "before-sign.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account)
        )
    return client


def _put(client, agreement: str, product: str, **extra):
    return client.put_deployment_parameter(
        catalog="AWSMarketplace",
        productId=product,
        agreementId=agreement,
        deploymentParameter={"name": "DeploymentKey", "secretString": SECRET},
        **extra,
    )


def _output_ok(operation: str, answer: dict) -> None:
    shape = service_model(DEPLOYMENT).operation_model(operation).output_shape
    body = {k: v for k, v in answer.items() if k != "ResponseMetadata"}
    assert not ParamValidator().validate(body, shape).has_errors()


def test_fixture_request_is_what_the_model_takes():
    """The documented request (tests/fixtures/aws) passes the emulator's own model check."""
    stem = "marketplace-deployment-put-deployment-parameter"
    request = json.loads((AWS_FIXTURES / f"{stem}-request.json").read_text())
    shape = service_model(DEPLOYMENT).operation_model("PutDeploymentParameter").input_shape
    assert validate(shape, request) == []
    response = json.loads((AWS_FIXTURES / f"{stem}-response.json").read_text())
    out = service_model(DEPLOYMENT).operation_model("PutDeploymentParameter").output_shape
    assert validate(out, response) == []


def test_parameter_becomes_a_secret_in_the_buyer_account(emulator, moto_url):
    sub = emulator.create_subscription(BUYER)
    client = _client("marketplace-deployment", emulator.endpoint_url)
    answer = _put(client, sub["agreement_id"], emulator.product_id, tags={"agreementId": sub["agreement_id"]})
    _output_ok("PutDeploymentParameter", answer)
    assert answer["agreementId"] == sub["agreement_id"]
    assert answer["deploymentParameterId"].startswith("dp-")
    assert answer["tags"] == {"agreementId": sub["agreement_id"]}
    secret_arn = emulator.deployment.quick_launch_parameters(BUYER, emulator.product_id)["DeploymentKey"]
    assert f":{BUYER}:secret:marketplace-deployment!" in secret_arn
    buyer = _client("secretsmanager", moto_url, BUYER)
    assert buyer.get_secret_value(SecretId=secret_arn)["SecretString"] == SECRET
    seller = _client("secretsmanager", moto_url, "444455556666")
    with pytest.raises(ClientError):  # not in anyone else's account
        seller.get_secret_value(SecretId="marketplace-deployment!" + emulator.product_id + "!DeploymentKey")
    # tags: list, add, remove (restJson1 GET/POST/DELETE on /tags/{resourceArn})
    arn = answer["resourceArn"]
    client.tag_resource(resourceArn=arn, tags={"team": "t1"})
    listed = client.list_tags_for_resource(resourceArn=arn)
    _output_ok("ListTagsForResource", listed)
    assert listed["tags"] == {"agreementId": sub["agreement_id"], "team": "t1"}
    client.untag_resource(resourceArn=arn, tagKeys=["agreementId"])
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "t1"}
    with pytest.raises(ClientError) as missing:
        client.list_tags_for_resource(resourceArn=arn[:-3] + "zzz")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_same_name_updates_and_client_token_is_idempotent(emulator, moto_url):
    sub = emulator.create_subscription(BUYER)
    client = _client("marketplace-deployment", emulator.endpoint_url)
    token = "t" * 40
    first = _put(client, sub["agreement_id"], emulator.product_id, clientToken=token)
    again = _put(client, sub["agreement_id"], emulator.product_id, clientToken=token)
    assert again["deploymentParameterId"] == first["deploymentParameterId"]
    [record] = emulator.deployment.parameters()
    assert record["versions"] == 1  # the retry wrote nothing
    with pytest.raises(ClientError) as conflict:  # the same token with another value
        client.put_deployment_parameter(
            catalog="AWSMarketplace",
            productId=emulator.product_id,
            agreementId=sub["agreement_id"],
            deploymentParameter={"name": "DeploymentKey", "secretString": "other"},
            clientToken=token,
        )
    assert conflict.value.response["Error"]["Code"] == "ConflictException"
    assert conflict.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    rotated = client.put_deployment_parameter(
        catalog="AWSMarketplace",
        productId=emulator.product_id,
        agreementId=sub["agreement_id"],
        deploymentParameter={"name": "DeploymentKey", "secretString": "rotated-value"},
        clientToken="r" * 40,
    )
    assert rotated["deploymentParameterId"] == first["deploymentParameterId"]  # keyed by buyer+product+name
    secret_arn = emulator.deployment.quick_launch_parameters(BUYER, emulator.product_id)["DeploymentKey"]
    buyer = _client("secretsmanager", moto_url, BUYER)
    assert buyer.get_secret_value(SecretId=secret_arn)["SecretString"] == "rotated-value"


def test_refusals_follow_the_model(emulator):
    sub = emulator.create_subscription(BUYER)
    client = _client("marketplace-deployment", emulator.endpoint_url)

    def code(**overrides) -> tuple[str, int]:
        params = {
            "catalog": "AWSMarketplace",
            "productId": emulator.product_id,
            "agreementId": sub["agreement_id"],
            "deploymentParameter": {"name": "DeploymentKey", "secretString": SECRET},
            **overrides,
        }
        with pytest.raises(ClientError) as error:
            client.put_deployment_parameter(**params)
        response = error.value.response
        assert SECRET not in json.dumps(response, default=str)  # never echoed
        return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]

    assert code(agreementId="agmt-unknown") == ("ResourceNotFoundException", 404)
    assert code(productId="prod-someoneelses") == ("ResourceNotFoundException", 404)
    assert code(catalog="Other") == ("ValidationException", 400)
    assert code(expirationDate=datetime(2020, 1, 1, tzinfo=UTC)) == ("ValidationException", 400)
    other = emulator.other_product_agreement(BUYER)
    assert code(agreementId=other) == ("ResourceNotFoundException", 404)
    emulator.agreement_event("purchase-agreement-ended", sub["agreement_id"])
    assert code() == ("ValidationException", 400)
    assert emulator.deployment.parameters() == []


def test_model_checks_what_boto3_would_not_send(emulator):
    """Raw requests that break the model (bad name pattern, unknown member, short token) are 400."""
    import http.client

    sub = emulator.create_subscription(BUYER)
    path = f"/catalogs/AWSMarketplace/products/{emulator.product_id}/deployment-parameters"
    agreement = {"agreementId": sub["agreement_id"]}
    good = {"name": "n", "secretString": "x"}
    bodies = [
        {**agreement, "deploymentParameter": {"name": "bad name!", "secretString": "x"}},
        {**agreement, "deploymentParameter": good, "x": 1},
        {**agreement, "deploymentParameter": good, "clientToken": "short"},
        {"deploymentParameter": good},
    ]
    for body in bodies:
        connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=5)
        connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = json.loads(response.read())
        assert response.status == 400, body
        assert response.getheader("x-amzn-ErrorType") == "ValidationException"
        assert set(payload) == {"message", "fieldName"}
        connection.close()
    assert emulator.deployment.parameters() == []


def test_parameter_quota_per_buyer_and_product(emulator):
    sub = emulator.create_subscription(BUYER)
    client = _client("marketplace-deployment", emulator.endpoint_url)
    for index in range(MAX_PARAMETERS):
        client.put_deployment_parameter(
            catalog="AWSMarketplace",
            productId=emulator.product_id,
            agreementId=sub["agreement_id"],
            deploymentParameter={"name": f"P{index}", "secretString": "v"},
        )
    with pytest.raises(ClientError) as error:
        client.put_deployment_parameter(
            catalog="AWSMarketplace",
            productId=emulator.product_id,
            agreementId=sub["agreement_id"],
            deploymentParameter={"name": "OneTooMany", "secretString": "v"},
        )
    assert error.value.response["Error"]["Code"] == "ServiceQuotaExceededException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 402
