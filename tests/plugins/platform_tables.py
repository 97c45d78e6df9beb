"""The platform-data table as the vendor stack's CDK defines it (constructs/platform_data.py),
for tests and benchmarks that run against an emulator without the synthesized template."""

from __future__ import annotations

from typing import Any

DATA_TABLE = "vs-data"


def create_data_table(ddb: Any, table: str = DATA_TABLE) -> None:
    """Creates the table once; a world that already has it (the keys world does) keeps it."""
    if table in ddb.list_tables()["TableNames"]:
        return
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
    )
