"""`GET /v1/admin/customers`: one page of customers with status, owner, account, keys and last usage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from admin.dal.directory import Directory
from admin.dal.standing import StandingStore
from admin.models import LIST_STATUSES, MAX_PAGE, SUSPENDED, PageToken, decode_token, encode_token
from shared.errors import ValidationError
from subscriptions.models import INACTIVE, subscription_from_item

PARAMETERS = ("status", "next_token", "limit")
_SCANS_PER_PAGE = 10  # bounds one request's work; the token resumes where it stopped


def _one(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name) or []
    if len(values) > 1:
        raise ValidationError(f"Query parameter '{name}': give it at most once.")
    return values[0] if values else None


def parse_list_query(params: Mapping[str, Sequence[str]] | None) -> tuple[str | None, PageToken, int]:
    params = params or {}
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise ValidationError(f"Query parameter '{unknown[0][:64]}': unknown parameter.")
    status = _one(params, "status")
    if status is not None and status not in LIST_STATUSES:
        raise ValidationError(f"Query parameter 'status': one of {', '.join(LIST_STATUSES)}.")
    token_text = _one(params, "next_token")
    token = decode_token(token_text) if token_text is not None else PageToken("sub", None)
    limit_text = _one(params, "limit")
    limit = 50
    if limit_text is not None:
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE:
            raise ValidationError(f"Query parameter 'limit': a whole number from 1 to {MAX_PAGE}.")
        limit = int(limit_text)
    return status, token, limit


def _live_keys(keyset: dict | None, now: datetime) -> int:
    if not keyset:
        return 0
    cutoff = int(now.timestamp())
    return sum(1 for expires in (keyset.get("active") or {}).values() if int(expires) > cutoff)


def customer_row(
    directory: Directory,
    standing: StandingStore,
    team_id: str,
    sub_item: dict | None,
    keyset: dict | None,
    now: datetime,
) -> dict:
    sub = subscription_from_item(sub_item) if sub_item else None
    state = standing.get(team_id)
    status = SUSPENDED if state.suspended else (sub.status_at(now) if sub else INACTIVE)
    hour = directory.last_usage_hour(team_id)
    return {
        "team_id": team_id,
        "owner_email": (sub.email if sub and sub.email else None) or (keyset or {}).get("email"),
        "status": status,
        "aws_account_id": sub.aws_account_id if sub else None,
        "keys_active": _live_keys(keyset, now),
        "last_usage_at": hour,
        "suspension_reason": state.reason if state.suspended else None,
    }


def list_customers(
    directory: Directory,
    standing: StandingStore,
    status: str | None,
    token: PageToken,
    limit: int,
    now: datetime,
) -> dict:
    rows: list[dict] = []
    phase, start = token.phase, token.start_key
    for _ in range(_SCANS_PER_PAGE):
        if phase == "sub":
            items, after = directory.subscriptions_page(start, limit - len(rows))
            for item in items:
                team_id = item["customer_id"]
                rows.append(customer_row(directory, standing, team_id, item, directory.keyset(team_id), now))
        else:
            items, after = directory.keysets_page(start, limit - len(rows))
            for item in items:
                team_id = item["customer_id"]
                sub_item = directory.subscription(team_id)
                if sub_item is not None:
                    continue  # listed with the subscriptions
                rows.append(customer_row(directory, standing, team_id, None, item, now))
        if after:
            start = after
        elif phase == "sub":
            phase, start = "keys", None
        else:
            phase, start = "", None
        if not phase or len(rows) >= limit:
            break
    if status is not None:
        rows = [row for row in rows if row["status"] == status]
    next_token = encode_token(PageToken(phase, start)) if phase else None
    return {"customers": rows, "next_token": next_token}
