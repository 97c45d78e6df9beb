"""Carry out `quicklaunch.logic.plan` for one customer: issue the agreement's key through the keys
logic, deliver it with PutDeploymentParameter, schedule and carry out revocations.

Exactly once, whatever fails where:

- the record (with the access key drawn for it) is written before the key, conditionally, so a
  second run finds the same access key and never issues two keys for one agreement;
- the key is created through `keys.logic.keys.issue_platform_key`, which finds a key a crashed
  run already created; its secret is derived from the vault again, never stored;
- PutDeploymentParameter carries a `clientToken` derived from the agreement, the access key and
  the parameter name, so a retry of the same delivery is applied once by AWS, and a rotated key
  (another agreement, another access key) is a new version;
- a failed delivery leaves the record `issuing` with its attempt count and AWS's error code, and
  the job's marker stays due: the next run tries again (and the job's metrics alarm).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger

from keys.dal.key_store import KeyStore
from keys.dal.secrets import SecretDeriver
from keys.logic.keys import issue_platform_key, new_access_key, revoke_platform_key
from keys.models import ACTIVE
from quicklaunch.dal.deployment import DeliveryFailed, DeploymentParameters
from quicklaunch.dal.records import DeploymentKeyRecords, RecordExists
from quicklaunch.logic.plan import DELIVER, ISSUE, KEEP, REVOKE, SCHEDULE_REVOCATION, next_due, plan
from quicklaunch.models import ISSUING, DeploymentKey, deployment_key_label
from subscriptions.dal.store import SubscriptionStore
from subscriptions.models import Subscription

logger = Logger(child=True)


@dataclass(frozen=True)
class Context:
    subscriptions: SubscriptionStore
    records: DeploymentKeyRecords
    keys: KeyStore
    deriver: SecretDeriver
    deployment: DeploymentParameters
    product_id: str
    parameter_name: str
    grace_days: int
    key_lifetime_days: int


@dataclass
class Outcome:
    issued: int = 0
    delivered: int = 0
    failed: int = 0
    scheduled: int = 0
    revoked: int = 0
    next_due: datetime | None = None
    errors: list[str] = field(default_factory=list)


def client_token(agreement_id: str, access_key: str, name: str) -> str:
    """64 hex characters (PutDeploymentParameter takes 32-64 of `[a-zA-Z0-9/_+=.:@-]`)."""
    return hashlib.sha256(f"vs-quicklaunch|{agreement_id}|{access_key}|{name}".encode()).hexdigest()


def reconcile(ctx: Context, customer_id: str, now: datetime) -> Outcome:
    outcome = Outcome()
    sub = ctx.subscriptions.get(customer_id)
    records = ctx.records.keys(customer_id)
    for action in plan(sub, records, now, ctx.grace_days):
        by_agreement = {r.agreement_id: r for r in records}
        record = by_agreement.get(action.agreement_id)
        if action.kind == ISSUE:
            records.append(_issue(ctx, customer_id, action.agreement_id, now))
            outcome.issued += 1
        elif action.kind == DELIVER and record is not None and sub is not None:
            _deliver(ctx, sub, record, now, outcome)
        elif action.kind == SCHEDULE_REVOCATION and record is not None:
            ctx.records.schedule_revocation(record, action.at)
            outcome.scheduled += 1
        elif action.kind == KEEP and record is not None:
            ctx.records.schedule_revocation(record, None)
        elif action.kind == REVOKE and record is not None:
            revoke_platform_key(ctx.keys, customer_id, record.access_key, now)
            ctx.records.revoked(record, now)
            outcome.revoked += 1
            logger.info(
                "quick launch key revoked",
                extra={
                    "customer_id": customer_id,
                    "agreement_id": record.agreement_id,
                    "access_key": record.access_key,
                },
            )
    outcome.next_due = next_due(ctx.records.keys(customer_id))
    if outcome.failed:  # try again at the next run
        outcome.next_due = now if outcome.next_due is None else min(outcome.next_due, now)
    return outcome


def _issue(ctx: Context, customer_id: str, agreement_id: str, now: datetime) -> DeploymentKey:
    record = DeploymentKey(
        customer_id=customer_id,
        agreement_id=agreement_id,
        access_key=new_access_key(),
        state=ISSUING,
        created_at=now,
    )
    try:
        ctx.records.create(record)
    except RecordExists:  # another run got there first: use its access key
        return next(r for r in ctx.records.keys(customer_id) if r.agreement_id == agreement_id)
    return record


def _deliver(ctx: Context, sub: Subscription, record: DeploymentKey, now: datetime, outcome: Outcome) -> None:
    # Whole seconds, as the vault stores it: a retry must send the very same request (same
    # `clientToken`, same `expirationDate`), or AWS would see a different request under one token.
    expires_at = now.replace(microsecond=0) + timedelta(days=ctx.key_lifetime_days)
    key = issue_platform_key(
        ctx.keys,
        ctx.deriver,
        owner=sub.customer_id,
        email=sub.email,
        access_key=record.access_key,
        label=deployment_key_label(record.agreement_id),
        now=now,
        expires_at=expires_at,
    )
    facts = {
        "customer_id": sub.customer_id,
        "agreement_id": record.agreement_id,
        "access_key": record.access_key,
    }
    if key.key.status_at(now) != ACTIVE:  # its owner revoked it before it was delivered
        ctx.records.revoked(record, now)
        logger.warning("quick launch key revoked by its owner before delivery", extra=facts)
        return
    secret_string = json.dumps({"access_key": key.key.access_key, "secret_key": key.secret_key})
    try:
        parameter_id = ctx.deployment.put(
            product_id=ctx.product_id,
            agreement_id=record.agreement_id,
            name=ctx.parameter_name,
            secret_string=secret_string,
            client_token=client_token(record.agreement_id, record.access_key, ctx.parameter_name),
            expires_at=key.key.expires_at,
        )
    except DeliveryFailed as failure:
        ctx.records.failed(record, failure.code)
        outcome.failed += 1
        outcome.errors.append(failure.code)
        logger.warning(
            "quick launch key not delivered",
            extra={**facts, "error": failure.code, "attempt": record.attempts + 1},
        )
        return
    ctx.records.delivered(record, now)
    outcome.delivered += 1
    logger.info("quick launch key delivered", extra={**facts, "deployment_parameter_id": parameter_id})
