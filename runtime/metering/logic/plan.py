"""What the metering job does with each hourly aggregate it finds in the queue: pure functions.

Marketplace's window, strict reading. AWS docs: "BatchMeterUsage" (AWS Marketplace Metering
Service API reference, https://docs.aws.amazon.com/marketplace/latest/APIReference/
API_marketplace-metering_BatchMeterUsage.html): "Usage records aren't accepted 6 hours or more
after an event" (a newer model text says 24 h; the strict one is designed for). The defaults
(`metering.usage_window_hours` 3, hourly schedule) send every hour by its start + 5 h 26 min at
the latest; `stacks/config.py` refuses combinations that could not (the arithmetic is there).

When an hour may be metered (all times UTC, `now` = the job's clock):

- regular: once `hour end + usage window + SETTLE` has passed. Ingestion rejects records older
  than the window, so from then on the aggregate cannot change: the license function's timeout
  (10 s) plus index propagation fit well inside SETTLE (60 s).
- early, as soon as the hour has ended, for a customer whose subscription is ending
  (`unsubscribe-pending`, or `grace` after Purchase Agreement Ended / License Deprovisioned):
  their final usage is metered at the next run, inside the final-metering hour AWS leaves after
  an agreement ends (AWS docs: "Amazon EventBridge events for SaaS products",
  https://docs.aws.amazon.com/marketplace/latest/userguide/saas-eventbridge-integration.html);
  and for hours of the previous month from 04:00 on the 1st (Marketplace closes a month at 06:00
  on the 1st). These hours can still receive records, so they are sealed with a conditional
  write first; records that arrive afterwards are counted in the current hour (see
  `usage.logic.ingest`).

An hour is sent only inside Marketplace's window (6 h after its start, and a month's hours only
until 06:00 on the 1st), with a safety margin; outside it the aggregate is flagged `expired`.

Zero quantities: an aggregate that exists is metered even when its quantity is 0 (the customer
stack reported a zero hour: AWS recommends hourly records, zero included, for active
subscriptions, and they cost nothing). The vendor side does not invent records for hours that no
stack reported: with no stack running there is nothing to attest, and 24 × dimensions empty
records per customer per day would only add Marketplace calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.timestamps import parse_timestamp
from usage.models import AWAITING, MAX_QUANTITY, PENDING

BATCH_SIZE = 25  # BatchMeterUsage: at most 25 UsageRecords per call
SETTLE = timedelta(seconds=60)
MARKETPLACE_WINDOW = timedelta(hours=6)  # strict reading (see the module docstring)
SAFETY = timedelta(minutes=10)  # never send a record this close to the end of Marketplace's window
MONTH_CLOSE = timedelta(hours=6)  # a month's records are accepted until 06:00 UTC on the 1st
MONTH_EARLY = timedelta(hours=4)  # from 04:00 on the 1st, the previous month's hours are sealed early

UNSUBSCRIBE_PENDING = "unsubscribe-pending"
SUB_GRACE = "grace"
SUB_PENDING = "pending"
# Subscription states whose open hours are sealed at once: the buyer is leaving, and Marketplace
# answers CustomerNotSubscribed once the licence is gone.
ENDING = (UNSUBSCRIBE_PENDING, SUB_GRACE)

WAIT = "wait"  # not closed yet
AWAIT = "await"  # closed, but no usable subscription is linked
EXPIRE = "expire"  # too old for Marketplace
RESUBMIT = "resubmit"  # sealed earlier (maybe sent, outcome unknown): send the frozen record again
SEAL = "seal"  # settled by the window: write pending + send
SEAL_EARLY = "seal-early"  # may still change: conditional seal, then send


@dataclass(frozen=True)
class Decision:
    action: str
    reason: str = ""


def month_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def submittable(hour: datetime, now: datetime) -> bool:
    """Inside Marketplace's window (with SAFETY to spare), including the month-end rule."""
    if now - hour >= MARKETPLACE_WINDOW - SAFETY:
        return False
    start = month_start(now)
    return not (hour < start and now >= start + MONTH_CLOSE - SAFETY)


def linked(sub: Any, now: datetime) -> bool:
    """A subscription Marketplace can bill: linked account and licence (or legacy identifier),
    and not still `pending` (subscribe-success not yet received)."""
    if sub is None or not getattr(sub, "aws_account_id", None):
        return False
    if not (sub.license_arn or sub.customer_identifier):
        return False
    return sub.status_at(now) != SUB_PENDING


def decide(item: dict[str, Any], sub: Any, now: datetime, window: timedelta) -> Decision:
    hour = parse_timestamp(item["hour"])
    end = hour + timedelta(hours=1)
    status = item.get("meter_status")
    if status == PENDING and item.get("meter_record"):
        if submittable(hour, now):
            return Decision(RESUBMIT)
        return Decision(EXPIRE, "sealed and sent earlier without a confirmed answer; now outside the window")
    if end > now:
        return Decision(WAIT)
    regular = now >= end + window + SETTLE
    start = month_start(now)
    month_end = hour < start and now >= start + MONTH_EARLY
    ending = sub is not None and sub.status in ENDING
    if not (regular or month_end or ending):
        return Decision(WAIT)
    if not submittable(hour, now):
        return Decision(EXPIRE, "outside AWS Marketplace's 6 h window")
    if not linked(sub, now):
        return Decision(AWAIT)
    if int(item.get("quantity", 0)) > MAX_QUANTITY:
        return Decision(EXPIRE, "quantity exceeds what one Marketplace record can carry")
    return Decision(SEAL if regular else SEAL_EARLY)


def build_record(item: dict[str, Any], sub: Any) -> tuple[dict[str, Any], str | None]:
    """(UsageRecord as stored in `meter_record`, product code for legacy records or None).

    LicenseArn + CustomerAWSAccountId for current integrations; CustomerIdentifier (with the
    request's ProductCode) only for a legacy subscription that has no licence ARN."""
    record: dict[str, Any] = {
        "Timestamp": int(parse_timestamp(item["hour"]).timestamp()),
        "Dimension": item["dimension"],
        "Quantity": int(item.get("quantity", 0)),
    }
    if sub.license_arn:
        record["CustomerAWSAccountId"] = sub.aws_account_id
        record["LicenseArn"] = sub.license_arn
        return record, None
    record["CustomerIdentifier"] = sub.customer_identifier
    return record, (sub.product_code or None)


def plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; a UsageRecord needs ints."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def epoch(value: Any) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(value)


def record_key(record: dict[str, Any]) -> tuple:
    """What Marketplace deduplicates on, and how a result is matched to what was sent."""
    return (
        record.get("CustomerAWSAccountId"),
        record.get("LicenseArn"),
        record.get("CustomerIdentifier"),
        record["Dimension"],
        epoch(record["Timestamp"]),
    )


@dataclass
class Job:
    """One aggregate on its way to Marketplace."""

    item: dict[str, Any]
    record: dict[str, Any]
    product_code: str | None
    needs_pending_write: bool  # regular seal: the pending item is written just before the call

    @property
    def key(self) -> tuple:
        return record_key(self.record)


def batches(jobs: Iterable[Job], size: int = BATCH_SIZE) -> Iterator[list[Job]]:
    """Batches of at most `size`, one product code (legacy records need it) per batch, and no
    two records that Marketplace would treat as the same record in one call."""
    open_batches: dict[str | None, list[list[Job]]] = {}
    for job in jobs:
        lanes = open_batches.setdefault(job.product_code, [])
        for lane in lanes:
            if len(lane) < size and all(other.key != job.key for other in lane):
                lane.append(job)
                break
        else:
            lanes.append([job])
        full = [lane for lane in lanes if len(lane) >= size]
        for lane in full:
            lanes.remove(lane)
            yield lane
    for lanes in open_batches.values():
        yield from lanes


@dataclass
class Plan:
    """Every due aggregate of one run, decided (pure: `plan_run`), before anything is written."""

    wait: int = 0
    awaiting: list[dict[str, Any]] = field(default_factory=list)  # all aggregates awaiting a subscription
    expire: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # (aggregate, reason)
    send: list[Job] = field(default_factory=list)  # resubmits and regular seals, in queue order
    seal_early: list[tuple[dict[str, Any], dict[str, Any], Job]] = field(default_factory=list)
    resubmitted: int = 0

    @property
    def to_mark_awaiting(self) -> list[dict[str, Any]]:
        """Awaiting aggregates not yet marked so (the mark is written once, then left alone)."""
        return [item for item in self.awaiting if item.get("meter_status") != AWAITING]


def plan_run(
    items: Iterable[dict[str, Any]], subs: dict[str, Any], now: datetime, window: timedelta, stamp: str
) -> Plan:
    """Decide every due aggregate: what waits, what is marked, what is sealed and sent."""
    plan = Plan()
    for item in items:
        sub = subs.get(item["customer_id"])
        decision = decide(item, sub, now, window)
        if decision.action == WAIT:
            plan.wait += 1
        elif decision.action == AWAIT:
            plan.awaiting.append(item)
        elif decision.action == EXPIRE:
            plan.expire.append((item, decision.reason))
        elif decision.action == RESUBMIT:
            plan.resubmitted += 1
            record = plain(item["meter_record"])
            plan.send.append(Job(item, record, item.get("meter_product_code"), needs_pending_write=False))
        else:  # SEAL or SEAL_EARLY
            record, product_code = build_record(item, sub)
            fields: dict[str, Any] = {"meter_status": PENDING, "sealed_at": stamp, "meter_record": record}
            if product_code:
                fields["meter_product_code"] = product_code
            if decision.action == SEAL:
                plan.send.append(Job({**item, **fields}, record, product_code, needs_pending_write=True))
            else:
                plan.seal_early.append(
                    (item, fields, Job(item, record, product_code, needs_pending_write=False))
                )
    return plan
