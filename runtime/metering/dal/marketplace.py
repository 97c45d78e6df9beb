"""The AWS Marketplace Metering client, for BatchMeterUsage.

Built lazily, so `AWS_ENDPOINT_URL_MARKETPLACE_METERING` (the sandbox's emulator) is honoured.
botocore's own retries are off: `metering.logic.submit` owns the whole retry policy, so
attempts are bounded once, and counted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from shared.aws import new_client, sdk_config


@cache
def metering_client() -> Any:
    config = sdk_config(
        connect_timeout=3, read_timeout=15, retries={"mode": "standard", "total_max_attempts": 1}
    )
    return new_client("meteringmarketplace", config=config)


class BatchMeter:
    """`BatchMeterUsage` for stored records (Timestamp as epoch seconds in the table)."""

    def __init__(self, metering: Any = None) -> None:
        self._client = metering

    def __call__(self, records: list[dict[str, Any]], product_code: str | None = None) -> dict[str, Any]:
        request: dict[str, Any] = {
            "UsageRecords": [
                {**r, "Timestamp": datetime.fromtimestamp(int(r["Timestamp"]), UTC)} for r in records
            ]
        }
        if product_code:
            request["ProductCode"] = product_code
        return (self._client or metering_client()).batch_meter_usage(**request)
