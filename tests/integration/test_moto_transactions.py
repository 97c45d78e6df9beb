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
