"""`GET /v1/admin/usage?from=&to=`: usage per customer and dimension, and how much of it was
metered to AWS Marketplace (hourly aggregates whose `meter_status` is `metered`)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from usage.models import METERED


def usage_rows(items: list[dict[str, Any]]) -> list[dict]:
    totals: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"quantity": 0, "metered_quantity": 0}
    )
    for item in items:
        if item.get("type") != "usage-hour":
            continue
        row = totals[(item["customer_id"], item["dimension"])]
        quantity = int(item.get("quantity", 0))
        row["quantity"] += quantity
        if item.get("meter_status") == METERED:
            row["metered_quantity"] += quantity
    return [
        {"team_id": team, "dimension": dimension, **values}
        for (team, dimension), values in sorted(totals.items())
    ]


def usage_document(items: list[dict[str, Any]], first: date, last: date) -> dict:
    return {"from": first.isoformat(), "to": last.isoformat(), "usage": usage_rows(items)}
