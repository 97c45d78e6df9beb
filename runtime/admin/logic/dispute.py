"""The dispute report: what the vendor shows when a customer disputes a bill.

For one team and a period (whole UTC days): the usage per day and dimension, every hourly
metering record with its AWS Marketplace `MeteringRecordId` and status, and the audit summary
of the team's calls per day. The summary comes from the audit table's daily roll-ups, which
never expire, so it stays after the raw audit records are gone (`audit.retention_days`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from audit.log import AuditLog
from usage.dal.usage_store import UsageStore
from usage.models import UNMETERED

RESULTS = ("success", "client_error", "server_error")


def _days(stats: list[dict[str, Any]]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for item in stats:
        errors = {k.removeprefix("error:"): int(v) for k, v in item.items() if k.startswith("error:")}
        operations = {k.removeprefix("op:"): int(v) for k, v in item.items() if k.startswith("op:")}
        out[str(item["day"])] = {
            "calls": int(item.get("calls", 0)),
            **{result: int(item.get(f"result:{result}", 0)) for result in RESULTS},
            "errors": dict(sorted(errors.items())),
            "operations": dict(sorted(operations.items())),
        }
    return out


def dispute_report(usage: UsageStore, audit: AuditLog, team_id: str, first: date, last: date) -> dict:
    per_day: dict[str, dict[str, int]] = defaultdict(dict)
    for item in usage.daily(team_id, first, last):
        if item.get("type") == "usage-day":
            per_day[str(item["date"])][str(item["dimension"])] = int(item.get("quantity", 0))
    records = []
    for item in usage.hourly(team_id, first, last):
        if item.get("type") != "usage-hour":
            continue
        records.append(
            {
                "hour": item["hour"],
                "dimension": item["dimension"],
                "quantity": int(item.get("quantity", 0)),
                "status": item.get("meter_status") or UNMETERED,
                "metering_record_id": item.get("metering_record_id"),
                "metered_at": item.get("metered_at"),
                "error": item.get("meter_error"),
            }
        )
    records.sort(key=lambda r: (r["hour"], r["dimension"]))
    calls = _days(audit.daily_stats(team_id, first, last))
    days = []
    for day in sorted(set(per_day) | set(calls)):
        summary = calls.get(day, {"calls": 0, **dict.fromkeys(RESULTS, 0), "errors": {}, "operations": {}})
        days.append({"date": day, "usage": dict(sorted(per_day.get(day, {}).items())), **summary})
    return {
        "team_id": team_id,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "days": days,
        "metering_records": records,
    }
