"""The daily notices job: which customers to email, and sending each notice exactly once.

Thresholds: a key gets its 30-day notice on the first run at or after 30 days before it
expires, and its 7-day notice on the first run at or after 7 days before. When a run finds a
key already inside 7 days, only the 7-day notice is sent (the 30-day one would be stale news).
A subscription in grace gets one notice per grace period. Emails name the access key, never
the secret, and never anything of another customer.

The customer is a team: each notice goes to the team's owner and admins, in one email (one
"never twice" record). A team that was never looked at as a team (a single-user customer from
before teams, see `teams.logic.teams`) has no member items; its notice goes to the address its
own record carries, which for such a customer is that person.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger

from notices.dal.expiring_keys import ExpiringKey, ExpiringKeys
from notices.dal.mailer import Mailer, MailError
from notices.dal.notice_store import NoticeStore
from shared.errors import ServiceError
from shared.timestamps import format_timestamp
from subscriptions.dal.store import SubscriptionStore
from subscriptions.models import GRACE, Subscription
from teams.dal.team_store import TeamStore

logger = Logger(child=True)

THRESHOLDS_DAYS = (7, 30)  # tightest first
RECORD_KEPT_AFTER = timedelta(days=90)


@dataclass(frozen=True)
class Notice:
    customer_id: str
    subject_key: str  # unique per customer and subject: the "never twice" key
    to: str  # the address on the record: used when the team has no member items
    subject: str
    text: str
    record_until: datetime  # the record outlives the reason for the notice


@dataclass
class Summary:
    now: datetime
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, kind: str, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        bucket = self.by_kind.setdefault(kind, {"sent": 0, "skipped": 0, "failed": 0})
        bucket[outcome] += 1

    def document(self) -> dict:
        return {
            "job": "notices",
            "now": format_timestamp(self.now),
            "sent": self.sent,
            "skipped": self.skipped,
            "failed": self.failed,
            "by_kind": self.by_kind,
        }


@dataclass(frozen=True)
class Sources:
    keys: ExpiringKeys
    subscriptions: SubscriptionStore
    records: NoticeStore
    mailer: Mailer
    teams: TeamStore | None = None


def threshold_for(expires_at: datetime, now: datetime) -> int | None:
    """The notice due for a key now: 7, 30, or None (not yet, or already expired)."""
    remaining = expires_at - now
    if remaining <= timedelta(0):
        return None
    for days in THRESHOLDS_DAYS:
        if remaining <= timedelta(days=days):
            return days
    return None


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _visit(page_url: str) -> str:
    return f"on the developer page ({page_url})" if page_url else "on the developer page"


def key_notice(key: ExpiringKey, days: int, now: datetime, product: str, page_url: str) -> Notice:
    left = max(1, math.ceil((key.expires_at - now).total_seconds() / 86400))
    label = f' ("{key.label}")' if key.label else ""
    text = (
        f"Hello,\n\n"
        f"Your {product} API key {key.access_key}{label} expires on {_day(key.expires_at)}, "
        f"in {left} day{'s' if left != 1 else ''}.\n\n"
        f"Stacks that use it stop activating and reporting usage when it expires. Create a new key "
        f"{_visit(page_url)}, update the AccessKey and SecretKey parameters of those stacks, then "
        f"delete the old key.\n\n"
        f"This is a one-time notice ({days}-day reminder). It never contains your secret key.\n"
    )
    return Notice(
        customer_id=key.owner,
        subject_key=f"KEY#{key.access_key}#{days}",
        to=key.owner_email,
        subject=f"Your {product} API key {key.access_key} expires in {left} day{'s' if left != 1 else ''}",
        text=text,
        record_until=key.expires_at + RECORD_KEPT_AFTER,
    )


def grace_notice(sub: Subscription, product: str, page_url: str) -> Notice:
    assert sub.grace_until is not None  # noqa: S101 - only subscriptions in grace get here
    text = (
        f"Hello,\n\n"
        f"The AWS Marketplace subscription to {product} of AWS account {sub.aws_account_id} has ended.\n\n"
        f"Your stacks keep working until {_day(sub.grace_until)}; after that they can no longer be "
        f"activated or updated. To keep using {product}, subscribe again in AWS Marketplace and "
        f"link the subscription {_visit(page_url)}.\n"
    )
    return Notice(
        customer_id=sub.customer_id,
        subject_key=f"GRACE#{format_timestamp(sub.grace_until)}",
        to=sub.email,
        subject=f"Your {product} subscription has ended: access until {_day(sub.grace_until)}",
        text=text,
        record_until=sub.grace_until + RECORD_KEPT_AFTER,
    )


def due_notices(sources: Sources, now: datetime, product: str, page_url: str) -> list[tuple[str, Notice]]:
    """Every (kind, notice) due at `now`, whether or not it was already sent."""
    due: list[tuple[str, Notice]] = []
    for key in sources.keys.between(now, now + timedelta(days=max(THRESHOLDS_DAYS))):
        days = threshold_for(key.expires_at, now)
        if days is not None:
            due.append((f"key_{days}d", key_notice(key, days, now, product, page_url)))
    for sub in sources.subscriptions.list_all(status=GRACE):
        if sub.status_at(now) == GRACE:
            due.append(("grace", grace_notice(sub, product, page_url)))
    return due


MANAGERS = ("owner", "admin")
MAX_RECIPIENTS = 50  # SES: at most 50 recipients per message


def recipients(sources: Sources, notice: Notice, cache: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The team's owner and admins (looked up once per team and run); the record's own address
    when the team has no member items."""
    team = notice.customer_id
    if team not in cache:
        found: list[str] = []
        if sources.teams is not None:
            members = sources.teams.team_view(team).members
            found = [m.email for m in members if m.role in MANAGERS and m.email]
        cache[team] = tuple(dict.fromkeys(found))[:MAX_RECIPIENTS] or ((notice.to,) if notice.to else ())
    return cache[team]


def send_once(
    sources: Sources,
    notice: Notice,
    *,
    run_id: str,
    now: datetime,
    cache: dict[str, tuple[str, ...]] | None = None,
) -> str:
    """'sent', 'skipped' (already sent, or another run has it) or 'failed' (retried next run)."""
    to = recipients(sources, notice, {} if cache is None else cache)
    if not to:
        return "failed"
    if not sources.records.claim(
        notice.customer_id, notice.subject_key, run_id=run_id, now=now, expires=notice.record_until
    ):
        return "skipped"
    try:
        message_id = sources.mailer.send(to, notice.subject, notice.text)
    except MailError as exc:
        sources.records.release(notice.customer_id, notice.subject_key, run_id=run_id)
        logger.warning(
            "notice not sent",
            extra={"customer_id": notice.customer_id, "notice": notice.subject_key, "error_code": exc.code},
        )
        return "failed"
    sources.records.confirm(
        notice.customer_id, notice.subject_key, run_id=run_id, now=now, message_id=message_id
    )
    logger.info("notice sent", extra={"customer_id": notice.customer_id, "notice": notice.subject_key})
    return "sent"


def run_notices(sources: Sources, now: datetime, *, product: str, page_url: str = "") -> dict:
    run_id = str(uuid.uuid4())
    summary = Summary(now=now)
    cache: dict[str, tuple[str, ...]] = {}
    for kind, notice in due_notices(sources, now, product, page_url):
        try:
            outcome = send_once(sources, notice, run_id=run_id, now=now, cache=cache)
        except ServiceError:  # the record store failed: this notice is retried by the next run
            logger.warning("notice record unavailable", extra={"customer_id": notice.customer_id})
            outcome = "failed"
        summary.count(kind, outcome)
    return summary.document()
