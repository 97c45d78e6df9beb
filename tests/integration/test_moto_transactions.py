"""`sandbox.moto_transactions`: one table backup per transaction, and the rollback unchanged."""

from __future__ import annotations

import copy

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models.table import Table

from sandbox.moto_transactions import install


@pytest.fixture(name="ddb")
def ddb_fixture(monkeypatch):
    install()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        for name in ("a", "b"):
            client.create_table(
                TableName=name,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        client.put_item(TableName="a", Item={"pk": {"S": "kept"}, "n": {"N": "1"}})
        yield client


def _put(table: str, pk: str, condition: str | None = None) -> dict:
    put = {"TableName": table, "Item": {"pk": {"S": pk}, "n": {"N": "2"}}}
    if condition:
        put["ConditionExpression"] = condition
    return {"Put": put}


def _count_table_copies(monkeypatch) -> list[int]:
    copies: list[int] = []
    real = copy.deepcopy

    def counting(value, memo=None):
        if isinstance(value, Table) and memo is None:
            copies.append(1)
        return real(value, memo)

    monkeypatch.setattr(copy, "deepcopy", counting)
    return copies


def test_each_table_is_copied_once_per_transaction(ddb, monkeypatch) -> None:
    copies = _count_table_copies(monkeypatch)
    items = [_put("a", f"x{i}") for i in range(60)] + [_put("b", f"y{i}") for i in range(40)]
    ddb.transact_write_items(TransactItems=items)
    assert len(copies) == 2  # tables a and b, not 100 copies
    assert ddb.scan(TableName="a")["Count"] == 61 and ddb.scan(TableName="b")["Count"] == 40


def test_a_cancelled_transaction_still_restores_every_table(ddb) -> None:
    items = (
        [_put("b", f"y{i}") for i in range(10)]
        + [_put("a", f"x{i}") for i in range(10)]
        + [_put("a", "kept", condition="attribute_not_exists(pk)")]
    )
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=items)
    assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert ddb.scan(TableName="b")["Count"] == 0
    assert ddb.scan(TableName="a")["Items"] == [{"pk": {"S": "kept"}, "n": {"N": "1"}}]


def test_copies_outside_a_transaction_are_the_standard_librarys(ddb) -> None:
    from moto.dynamodb import models

    table = models.dynamodb_backends["123456789012"]["us-east-1"].tables["a"]
    assert models.copy.deepcopy(table) is not models.copy.deepcopy(table)


def _stream_view(table: str) -> list[tuple]:
    """What a reader of the table's stream gets (moto's `StreamShard.get`, which its streams API
    serves), less the random event id and the clock."""
    from moto.dynamodb import models

    shard = models.dynamodb_backends["123456789012"]["us-east-1"].tables[table].stream_shard
    return [
        (
            r["eventName"],
            r["dynamodb"]["SequenceNumber"],
            r["dynamodb"]["Keys"],
            r["dynamodb"].get("NewImage"),
            r["dynamodb"].get("OldImage"),
        )
        for r in shard.get(shard.starting_sequence_number, 1000)
    ]


def _streamed_history(monkeypatch, *, patched: bool) -> tuple[list, list, list]:
    from moto.dynamodb import models

    if not patched:
        monkeypatch.setattr(models, "copy", copy)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="s",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        for i in range(5):
            client.put_item(TableName="s", Item={"pk": {"S": f"k{i}"}, "n": {"N": str(i)}})
        client.transact_write_items(TransactItems=[_put("s", "k0"), _put("s", "new")])
        after_commit = _stream_view("s")
        with pytest.raises(ClientError):
            client.transact_write_items(
                TransactItems=[_put("s", "k1"), _put("s", "k2", condition="attribute_not_exists(pk)")]
            )
        after_cancel = _stream_view("s")
        client.update_item(
            TableName="s",
            Key={"pk": {"S": "k3"}},
            UpdateExpression="SET n = :n",
            ExpressionAttributeValues={":n": {"N": "30"}},
        )
        return after_commit, after_cancel, _stream_view("s")


def test_a_backup_shares_the_table_s_stream_records_in_a_list_of_its_own(ddb) -> None:
    from moto.dynamodb import models

    table = models.dynamodb_backends["123456789012"]["us-east-1"].tables["a"]
    ddb.update_table(
        TableName="a", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    )
    ddb.put_item(TableName="a", Item={"pk": {"S": "streamed"}})
    records = list(table.stream_shard.items)
    assert records
    from sandbox.moto_transactions import _backups

    token = _backups.set({})
    try:
        copied = models.copy.deepcopy(table)
    finally:
        _backups.reset(token)
    assert copied is not table and copied.stream_shard is not table.stream_shard
    assert copied.stream_shard.items is not table.stream_shard.items
    assert all(a is b for a, b in zip(copied.stream_shard.items, records, strict=True))
    assert copied.stream_shard.table is copied and copied.items is not table.items


def test_stream_readers_see_what_they_see_with_moto_s_own_copy(monkeypatch) -> None:
    install()
    ours = _streamed_history(monkeypatch, patched=True)
    theirs = _streamed_history(monkeypatch, patched=False)
    assert ours == theirs
    after_commit, after_cancel, after_update = ours
    assert [r[0] for r in after_commit] == ["INSERT"] * 5 + ["MODIFY", "INSERT"]
    assert after_cancel == after_commit  # the cancelled writes left no record
    assert len(after_update) == len(after_commit) + 1 and after_update[-1][0] == "MODIFY"
