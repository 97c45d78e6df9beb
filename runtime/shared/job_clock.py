"""The clock of a scheduled job: the Scheduled Event's `time`, never ahead of the real time.

EventBridge invokes each job with a Scheduled Event whose `time` is when the schedule fired
(RFC 3339 UTC, e.g. `2026-11-22T13:00:00Z`). The jobs run at that time, so a late or retried
invocation still works on the hour it was meant for. Outside the sandbox the clock never runs
ahead of the real time: an invocation dated in the future must not meter an hour that is still
open, revoke a key before its grace has ended or send a notice early. The sandbox's workers alone
carry `VS_SANDBOX_EVENT_CLOCK=1` (a test there moves time forward by dating the event). A manual
invocation without `time` runs at the real time; a `time` that is not a timestamp is refused
before anything changes.
AWS docs: "Amazon EventBridge events" / "Example event: Scheduled Event" (Amazon EventBridge User
Guide, https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from shared.timestamps import parse_timestamp, utcnow

SANDBOX_CLOCK_VARIABLE = "VS_SANDBOX_EVENT_CLOCK"  # set to "1" by the sandbox's workers only

logger = Logger(child=True)


def job_clock(event: Any, env: Mapping[str, str] | None = None, real_now: datetime | None = None) -> datetime:
    """The job's `now` for this invocation. Raises ValueError when `time` is not a timestamp."""
    now = real_now or utcnow()
    value = event.get("time") if isinstance(event, dict) else None
    if value is None:
        return now
    try:
        scheduled = parse_timestamp(str(value).replace("+00:00", "Z"))
    except ValueError:
        raise ValueError("the event's 'time' must be an RFC 3339 UTC timestamp") from None
    if (os.environ if env is None else env).get(SANDBOX_CLOCK_VARIABLE) == "1":
        return scheduled
    if scheduled > now:
        logger.warning(
            "scheduled event time is in the future; the real time is used",
            extra={"event_time": str(value)[:40], "now": now.isoformat()},
        )
        return now
    return scheduled
