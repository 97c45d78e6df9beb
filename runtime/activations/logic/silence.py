"""Silent stacks: active activations whose usage stopped arriving.

A stack that runs reports usage (its hourly reporter calls `POST /v1/usage`), and each such call
stamps `last_usage_at` on the activations of the key that signed it. An active activation whose
last report (or, if it never reported, its activation) is older than `silent_after_hours`
(`cdk.json` → `silent_usage.after_hours`) is *silent*: its reporter was stopped, its queue
repointed, or the stack is simply idle. The vendor's hourly job counts them in a metric with an
alarm, and the usage report lists them; telling an idle stack from a cheating one is the vendor's
call (the license API's audit log shows whether the stack still fetches license tokens).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from activations.models import ACTIVE, Activation
from shared.timestamps import format_timestamp, parse_timestamp


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def silent_activations(activations: Iterable[Activation], now: datetime, after: timedelta) -> list[dict]:
    """The silent ones, longest silent first: id, customer, stack, account, region, since when."""
    found = []
    for activation in activations:
        if activation.status != ACTIVE:
            continue
        last = _when(activation.last_usage_at)
        since = last or _when(activation.created_at)
        if since is None or now - since < after:
            continue
        found.append(
            {
                "activation_id": activation.activation_id,
                "customer_id": activation.customer_id,
                "stack_id": activation.stack_id,
                "aws_account_id": activation.account_id,
                "region": activation.region,
                "last_usage_at": activation.last_usage_at,
                "silent_since": format_timestamp(since),
                "silent_hours": int((now - since).total_seconds() // 3600),
            }
        )
    return sorted(found, key=lambda item: (item["silent_since"], item["activation_id"]))
