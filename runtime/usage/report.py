"""Vendor usage report: usage per customer and dimension for a period, and metering status totals.

    PYTHONPATH=runtime python -m usage.report --table <data table> --from 2026-11-01 --to 2026-11-30 \
        [--customer <cognito sub>] [--json] [--endpoint-url http://127.0.0.1:…] [--region us-east-1]

Flagged hours are listed for the vendor: `duplicate` (Marketplace holds a different quantity for
that hour: reconcile), `not-subscribed` (Marketplace answered CustomerNotSubscribed), `expired`
and `failed`. Reads the hourly aggregates (`usage.models`): with `--customer`, one Query of that customer's
partition; without, a parallel Scan of the table filtered to hourly aggregates of the period (an
offline command: it reads the whole table once). Dates are whole UTC days, both inclusive.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.aws import all_items
from usage.dal.usage_store import UsageStore, dump, load
from usage.logic.history import MAX_RANGE_DAYS
from usage.models import FLAGGED, STATUSES_IN_ORDER, UNMETERED, parse_day

SCAN_SEGMENTS = 4
FLAG_LIST_LIMIT = 20


def hourly_items(ddb: Any, table: str, first: date, last: date, customer: str | None) -> list[dict[str, Any]]:
    if customer:
        return [
            i
            for i in UsageStore(table, retention_days=1, dynamodb=ddb).hourly(customer, first, last)
            if i.get("type") == "usage-hour"
        ]

    def segment(number: int) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": table,
            "Segment": number,
            "TotalSegments": SCAN_SEGMENTS,
            "FilterExpression": "#type = :type AND #hour BETWEEN :low AND :high",
            "ExpressionAttributeNames": {"#type": "type", "#hour": "hour"},
            "ExpressionAttributeValues": dump(
                {":type": "usage-hour", ":low": f"{first.isoformat()}T", ":high": f"{last.isoformat()}T~"}
            ),
        }
        found: list[dict[str, Any]] = []
        found.extend(load(item) for item in all_items(ddb, "scan", request))
        return found

    with ThreadPoolExecutor(max_workers=SCAN_SEGMENTS) as pool:
        return [item for part in pool.map(segment, range(SCAN_SEGMENTS)) for item in part]


def summarize(items: list[dict[str, Any]], first: date, last: date) -> dict[str, Any]:
    usage: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"quantity": 0, "hours": 0})
    statuses: dict[str, dict[str, int]] = defaultdict(lambda: {"hours": 0, "quantity": 0})
    flagged: list[dict[str, Any]] = []
    for item in items:
        quantity = int(item.get("quantity", 0))
        row = usage[(item["customer_id"], item["dimension"])]
        row["quantity"] += quantity
        row["hours"] += 1
        status = item.get("meter_status") or UNMETERED
        statuses[status]["hours"] += 1
        statuses[status]["quantity"] += quantity
        if status in FLAGGED:
            flagged.append(
                {
                    "customer_id": item["customer_id"],
                    "dimension": item["dimension"],
                    "hour": item["hour"],
                    "quantity": quantity,
                    "status": status,
                    "error": item.get("meter_error"),
                }
            )
    flagged.sort(key=lambda f: (f["hour"], f["customer_id"], f["dimension"]))
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "usage": [{"customer_id": c, "dimension": d, **totals} for (c, d), totals in sorted(usage.items())],
        "metering": {s: statuses[s] for s in STATUSES_IN_ORDER if s in statuses}
        | {s: v for s, v in sorted(statuses.items()) if s not in STATUSES_IN_ORDER},
        "flagged": flagged,
    }


def silent_stacks(ddb: Any, table: str, now: datetime, after_hours: int, customer: str | None) -> list[dict]:
    """Active stacks that reported no usage for `after_hours` (activations.logic.silence)."""
    from activations.dal.activation_store import ActivationStore
    from activations.logic.silence import silent_activations

    store = ActivationStore(table, dynamodb=ddb)
    active = store.for_customer(customer) if customer else store.all_active()
    return silent_activations(active, now, timedelta(hours=after_hours))


def render(report: dict[str, Any]) -> str:
    lines = [f"Usage {report['from']} .. {report['to']} (UTC days, inclusive)", ""]
    if report["usage"]:
        width = max(len("customer"), *(len(r["customer_id"]) for r in report["usage"]))
        lines.append(f"{'customer':<{width}}  {'dimension':<24} {'quantity':>16} {'hours':>7}")
        for row in report["usage"]:
            customer, dimension = row["customer_id"], row["dimension"]
            lines.append(f"{customer:<{width}}  {dimension:<24} {row['quantity']:>16,} {row['hours']:>7,}")
    else:
        lines.append("no usage in this period")
    lines += ["", "Metering status (hourly records, quantity)"]
    for status, totals in report["metering"].items():
        lines.append(f"  {status:<24} {totals['hours']:>9,} {totals['quantity']:>16,}")
    if report["flagged"]:
        lines += ["", f"Flagged for the vendor ({len(report['flagged'])}):"]
        for flag in report["flagged"][:FLAG_LIST_LIMIT]:
            lines.append(
                f"  {flag['hour']} {flag['customer_id']} {flag['dimension']} {flag['quantity']:,} "
                f"{flag['status']}{': ' + flag['error'] if flag['error'] else ''}"
            )
        if len(report["flagged"]) > FLAG_LIST_LIMIT:
            lines.append(f"  … and {len(report['flagged']) - FLAG_LIST_LIMIT} more (use --json)")
    silent = report.get("silent_stacks")
    if silent is not None:
        lines += [
            "",
            f"Silent stacks: active, no usage for {report['silent_after_hours']} h or more ({len(silent)})",
        ]
        for item in silent[:FLAG_LIST_LIMIT]:
            lines.append(
                f"  {item['customer_id']} {item['activation_id']} {item['aws_account_id']} {item['region']} "
                f"silent since {item['silent_since']} ({item['silent_hours']} h)"
            )
        if len(silent) > FLAG_LIST_LIMIT:
            lines.append(f"  … and {len(silent) - FLAG_LIST_LIMIT} more (use --json)")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None, prog: str = "python -m usage.report") -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True, help="the platform-data table (VS_TABLE_DATA)")
    parser.add_argument("--from", dest="first", required=True, help="first UTC day, YYYY-MM-DD")
    parser.add_argument("--to", dest="last", required=True, help="last UTC day, YYYY-MM-DD (inclusive)")
    parser.add_argument("--customer", help="only this customer (Cognito sub)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--silent-after-hours",
        type=int,
        default=24,
        help="list active stacks that reported no usage for this many hours (silent_usage.after_hours; 24)",
    )
    parser.add_argument("--endpoint-url", help="DynamoDB endpoint (the sandbox's emulator)")
    parser.add_argument("--region", help="AWS region (default: the environment's)")
    args = parser.parse_args(argv)
    try:
        args.first, args.last = parse_day(args.first), parse_day(args.last)
    except ValueError:
        parser.error("--from and --to must be dates as YYYY-MM-DD")
    if args.first > args.last:
        parser.error("--from must not be after --to")
    if (args.last - args.first).days + 1 > MAX_RANGE_DAYS:
        parser.error(f"the period is at most {MAX_RANGE_DAYS} days")
    return args


def main(argv: Sequence[str] | None = None, *, ddb: Any = None, prog: str = "python -m usage.report") -> int:
    args = parse_args(argv, prog)
    if ddb is None:
        import boto3  # the command line only: the admin API imports this module for `hourly_items`

        ddb = boto3.client("dynamodb", endpoint_url=args.endpoint_url, region_name=args.region)
    items = hourly_items(ddb, args.table, args.first, args.last, args.customer)
    report = summarize(items, args.first, args.last)
    if args.silent_after_hours < 1:
        print("--silent-after-hours must be at least 1", file=sys.stderr)
        return 2
    report["silent_after_hours"] = args.silent_after_hours
    report["silent_stacks"] = silent_stacks(
        ddb, args.table, datetime.now(UTC), args.silent_after_hours, args.customer
    )
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
