"""`GET /v1/usage?from=YYYY-MM-DD&to=YYYY-MM-DD`: the caller's usage per day and dimension."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from shared.errors import ValidationError
from usage.dal.usage_store import UsageStore
from usage.models import parse_day

MAX_RANGE_DAYS = 366
PARAMETERS = ("from", "to")


def parse_range(params: Mapping[str, Sequence[str]] | None) -> tuple[date, date]:
    """Exactly `from` and `to`, once each, as dates; `from` ≤ `to`; at most 366 days."""
    params = params or {}
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise ValidationError(f"Query parameter '{unknown[0][:64]}': unknown parameter.")
    days: dict[str, date] = {}
    for name in PARAMETERS:
        values = params.get(name) or []
        if len(values) != 1:
            raise ValidationError(f"Query parameter '{name}': give it exactly once, as YYYY-MM-DD.")
        try:
            days[name] = parse_day(values[0])
        except ValueError:
            raise ValidationError(f"Query parameter '{name}': must be a date as YYYY-MM-DD.") from None
    first, last = days["from"], days["to"]
    if first > last:
        raise ValidationError("Query parameter 'from': must not be after 'to'.")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise ValidationError(f"Query parameters 'from'/'to': the range is at most {MAX_RANGE_DAYS} days.")
    return first, last


def usage_history(store: UsageStore, customer_id: str, first: date, last: date) -> dict:
    rows = [
        {"date": item["date"], "dimension": item["dimension"], "quantity": int(item["quantity"])}
        for item in store.daily(customer_id, first, last)
        if item.get("type") == "usage-day"
    ]
    rows.sort(key=lambda r: (r["date"], r["dimension"]))
    return {"usage": rows}
