"""The moto and botocore patches of `tests.plugins.moto_speed` answer exactly as the originals do."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from tests.plugins.moto_speed import install

REGION = "us-east-1"


@pytest.fixture(name="sqs", scope="module")
def sqs_fixture():
    install()
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def test_the_retention_check_agrees_with_moto_s_on_both_sides_of_the_period(sqs) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import SQSBackend, sqs_backends

    patched = SQSBackend.is_message_valid_based_on_retention_period
    original = patched.original
    assert patched is not original
    url = sqs.create_queue(QueueName="retention", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    for _ in range(3):
        sqs.send_message(QueueUrl=url, MessageBody="m")
    backend = sqs_backends[DEFAULT_ACCOUNT_ID][REGION]
    fresh, edge, old = backend.queues["retention"]._messages
    edge.sent_timestamp -= 50_000  # within the 60 s retention
    old.sent_timestamp -= 61_000  # past it
    answers = [
        (patched(backend, "retention", m), original(backend, "retention", m)) for m in (fresh, edge, old)
    ]
    assert answers == [(True, True), (True, True), (False, False)]
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)["Messages"]
    assert len(received) == 2  # the expired message is not handed out


def test_the_memoised_functions_answer_as_the_originals(sqs) -> None:
    import botocore.useragent
    import moto.core.responses
    import moto.sqs.models
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.responses import SQSResponse

    listing = moto.core.responses.method_names_from_class
    for handler in (DynamoHandler, SQSResponse):
        assert listing(handler) == listing.__wrapped__(handler) and "get_item" in listing(DynamoHandler)
    sanitize = botocore.useragent.sanitize_user_agent_string_component
    for text, allow_hash in (("Boto3/1.0 (x)", True), ("a#b c", False), ("a#b", True)):
        assert sanitize(text, allow_hash) == sanitize.__wrapped__(text, allow_hash)
    for module in (moto.core.responses, moto.sqs.models):
        snake = module.camelcase_to_underscores
        assert snake("MessageRetentionPeriod") == snake.__wrapped__("MessageRetentionPeriod")
        assert snake("MessageRetentionPeriod") == "message_retention_period"


def test_the_vault_s_table_view_is_what_a_consistent_scan_returns(vault) -> None:
    """`Vault.scan` reads moto's backend directly: the same items, values and types as the API's
    paginated Scan, for every attribute type the functions store (shared/ddb_items)."""
    from tests.plugins.platform_tables import DATA_TABLE

    big = "x" * 350_000  # four items of 350 kB: the API's Scan takes two pages (1 MB each)
    items = [
        {
            "pk": {"S": f"P#{i}"},
            "sk": {"S": "A"},
            "n": {"N": "12.50"},
            "b": {"B": b"\x00\xffbytes"},
            "bs": {"BS": [b"\x01", b"\x02"]},
            "ss": {"SS": ["a", "b"]},
            "ns": {"NS": ["1", "2.5"]},
            "flag": {"BOOL": True},
            "none": {"NULL": True},
            "m": {"M": {"inner": {"B": b"\xfe"}, "list": {"L": [{"N": "3"}, {"S": big}, {"M": {}}]}}},
        }
        for i in range(4)
    ]
    for item in items:
        vault.ddb.put_item(TableName=DATA_TABLE, Item=item)
    vault.ddb.put_item(TableName=DATA_TABLE, Item={"pk": {"S": "P#0"}, "sk": {"S": "0"}})
    direct, through_the_api = vault.scan(DATA_TABLE), vault.scan_through_the_api(DATA_TABLE)
    assert len(direct) == 5 and direct[1]["m"]["inner"].value == b"\xfe"
    assert direct == through_the_api
    for mine, theirs in zip(direct, through_the_api, strict=True):
        assert [type(v) for v in mine.values()] == [type(v) for v in theirs.values()]


def test_the_quick_stopping_moto_server_serves_and_stops_at_once() -> None:
    import time

    from tests.plugins.moto_server import POLL_INTERVAL_S, MotoServer

    server = MotoServer()
    server.start()
    host, port = server.get_host_and_port()
    s3 = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=f"http://{host}:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket="served")
    assert "served" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert server._server.serve_forever.keywords == {"poll_interval": POLL_INTERVAL_S}
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 0.25  # moto's default poll would wait up to 0.5 s
