"""Subscription items in the platform-data table (`VS_TABLE_DATA`).

Item layout (table `pk`/`sk`, TTL `ttl`, GSI `gsi1` = `gsi1pk`/`gsi1sk`):

- subscription: pk `SUB#<customer_id>`, sk `SUB`; customer_id, email, aws_account_id, license_arn?,
  product_code, customer_identifier? (legacy integrations), status (active|pending|
  unsubscribe-pending|grace|inactive), grace_until?, entitlements (map dimension → {value,
  expires_at?}), entitlements_updated_at?, agreement_id?, retired_agreements?, linked_at, updated_at,
  last_event_time?, last_event_id?, approval_required?, approved_at?, approved_by?, version,
  gsi1pk `SUBACCT#<aws_account_id>`, gsi1sk `SUB`.
  Every write is conditional on `version`, so concurrent events and registrations never lose
  an update (the loser re-reads and decides again).
- account link: pk `SUBLINK#ACCT#<aws_account_id>`, sk `LINK`; customer_id. Written in the same
  transaction as the subscription, conditional on being absent or already this customer's: one
  AWS account (hence its licences) belongs to one customer at a time.
- legacy link: pk `SUBLINK#CID#<customer_identifier>`, sk `LINK`; customer_id. Same rule; maps the
  SNS messages (which carry only `customer-identifier`) to the customer.
- processed event: pk `SUBEVENT#<event id>`, sk `EVENT`; customer_id, kind, event_time, outcome,
  ttl (90 days). Written with the state change in one transaction: a redelivery is a no-op.
- kept event: pk `SUBPEND#ACCT#<aws_account_id>` or `SUBPEND#CID#<customer_identifier>`,
  sk `<event time µs>#<event id>`; event (JSON), received_at, ttl (90 days). An event for an AWS
  account or customer identifier that no customer has linked yet, replayed when one does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.aws import all_items, client
from shared.ddb_errors import cancellation_codes
from shared.ddb_items import dump, load
from shared.errors import ServiceError
from shared.timestamps import format_sortable, format_timestamp
from subscriptions.models import (
    SUB_SK,
    MarketplaceEvent,
    Subscription,
    event_from_dict,
    event_to_dict,
    sub_pk,
    subscription_from_item,
)

LINK_SK = "LINK"
EVENT_SK = "EVENT"
EVENT_RETENTION = timedelta(days=90)


class StoreContention(Exception):
    """The subscription changed between read and write; re-read and decide again."""


class LinkConflict(Exception):
    """The AWS account (or legacy customer identifier) is linked to another customer."""


def account_link_pk(aws_account_id: str) -> str:
    return f"SUBLINK#ACCT#{aws_account_id}"


def identifier_link_pk(customer_identifier: str) -> str:
    return f"SUBLINK#CID#{customer_identifier}"


def account_pending_key(aws_account_id: str) -> str:
    return f"SUBPEND#ACCT#{aws_account_id}"


def identifier_pending_key(customer_identifier: str) -> str:
    return f"SUBPEND#CID#{customer_identifier}"


def _unavailable(exc: Exception) -> ServiceError:
    return ServiceError("The subscription store is unavailable; retry later.")


def subscription_to_item(sub: Subscription) -> dict[str, Any]:
    return {
        "pk": sub_pk(sub.customer_id),
        "sk": SUB_SK,
        "type": "subscription",
        "customer_id": sub.customer_id,
        "email": sub.email,
        "aws_account_id": sub.aws_account_id,
        "license_arn": sub.license_arn,
        "product_code": sub.product_code,
        "customer_identifier": sub.customer_identifier,
        "status": sub.status,
        "grace_until": format_timestamp(sub.grace_until) if sub.grace_until else None,
        "entitlements": sub.entitlements,
        "entitlements_updated_at": (
            format_sortable(sub.entitlements_updated_at) if sub.entitlements_updated_at else None
        ),
        "agreement_id": sub.agreement_id,
        "retired_agreements": list(sub.retired_agreements) or None,
        "linked_at": format_timestamp(sub.linked_at) if sub.linked_at else None,
        "updated_at": format_timestamp(sub.updated_at) if sub.updated_at else None,
        "last_event_time": format_sortable(sub.last_event_time) if sub.last_event_time else None,
        "last_event_id": sub.last_event_id,
        "approval_required": sub.approval_required or None,
        "approved_at": format_timestamp(sub.approved_at) if sub.approved_at else None,
        "approved_by": sub.approved_by,
        "version": sub.version,
        "gsi1pk": f"SUBACCT#{sub.aws_account_id}",
        "gsi1sk": SUB_SK,
    }


def _version_condition(before: Subscription | None) -> dict[str, Any]:
    if before is None or before.version == 0:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {
        "ConditionExpression": "version = :v",
        "ExpressionAttributeValues": dump({":v": before.version}),
    }


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class SubscriptionStore:
    """Reads and conditional writes of subscription state; SDK errors become `ServiceError`."""

    def __init__(self, table: str, *, dynamodb: Any = None) -> None:
        self._table = table
        self._ddb = dynamodb

    @property
    def _client(self) -> Any:
        return self._ddb or client("dynamodb")

    # ------------------------------------------------------------------ reads

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        try:
            answer = self._client.get_item(
                TableName=self._table, Key=dump({"pk": pk, "sk": sk}), ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc
        item = answer.get("Item")
        return load(item) if item else None

    def get(self, customer_id: str) -> Subscription | None:
        """Strongly consistent: an event or registration is seen by the very next read."""
        item = self._get(sub_pk(customer_id), SUB_SK)
        return subscription_from_item(item) if item else None

    def by_account(self, aws_account_id: str) -> Subscription | None:
        """The customer's subscription linked to this AWS account (consistent, via the link item)."""
        link = self._get(account_link_pk(aws_account_id), LINK_SK)
        if link is None:
            return None
        sub = self.get(link["customer_id"])
        return sub if sub is not None and sub.aws_account_id == aws_account_id else None

    def by_customer_identifier(self, customer_identifier: str) -> Subscription | None:
        """Legacy integrations: the SNS `customer-identifier` → the linked subscription."""
        link = self._get(identifier_link_pk(customer_identifier), LINK_SK)
        if link is None:
            return None
        sub = self.get(link["customer_id"])
        return sub if sub is not None and sub.customer_identifier == customer_identifier else None

    def list_page(
        self, *, limit: int = 100, cursor: dict | None = None, status: str | None = None
    ) -> tuple[list[Subscription], dict | None]:
        """One page of subscriptions (a filtered scan) and the cursor of the next page (None = end).

        A page may hold fewer than `limit` subscriptions, even none, while a cursor remains:
        DynamoDB applies `limit` before the filter.
        """
        names = {"#sk": "sk"}
        values: dict[str, Any] = {":sub": SUB_SK, ":prefix": "SUB#"}
        expression = "#sk = :sub AND begins_with(pk, :prefix)"
        if status is not None:
            names["#status"] = "status"
            values[":status"] = status
            expression += " AND #status = :status"
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": dump(values),
            "Limit": limit,
        }
        if cursor:
            request["ExclusiveStartKey"] = cursor
        try:
            answer = self._client.scan(**request)
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc
        subs = [subscription_from_item(load(item)) for item in answer.get("Items", [])]
        return subs, answer.get("LastEvaluatedKey")

    def list_all(self, *, status: str | None = None, page_size: int = 200) -> Iterator[Subscription]:
        """Every subscription (optionally only those stored with `status`), page by page."""
        cursor: dict | None = None
        while True:
            subs, cursor = self.list_page(limit=page_size, cursor=cursor, status=status)
            yield from subs
            if not cursor:
                return

    # ------------------------------------------------------------------ writes

    def link(
        self,
        sub: Subscription,
        before: Subscription | None,
        *,
        now: datetime,
    ) -> Subscription:
        """Write the linked subscription and claim its account (and legacy identifier) atomically.

        Releases the links of `before` that the new state no longer holds. Raises `LinkConflict`
        when another customer holds the account or identifier, `StoreContention` when the
        subscription changed since `before` was read.
        """
        stored = _with_version(sub, (before.version if before else 0) + 1, now)
        me = dump({":me": sub.customer_id})
        claim = {
            "ConditionExpression": "attribute_not_exists(pk) OR customer_id = :me",
            "ExpressionAttributeValues": me,
        }
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": dump(subscription_to_item(stored)),
                    **_version_condition(before),
                }
            }
        ]
        claims = [account_link_pk(sub.aws_account_id)]
        if sub.customer_identifier:
            claims.append(identifier_link_pk(sub.customer_identifier))
        for pk in claims:
            link = {
                "pk": pk,
                "sk": LINK_SK,
                "type": "subscription-link",
                "customer_id": sub.customer_id,
                "linked_at": format_timestamp(now),
            }
            items.append({"Put": {"TableName": self._table, "Item": dump(link), **claim}})
        releases = []
        if before is not None and before.aws_account_id != sub.aws_account_id:
            releases.append(account_link_pk(before.aws_account_id))
        if (
            before is not None
            and before.customer_identifier
            and (before.customer_identifier != sub.customer_identifier)
        ):
            releases.append(identifier_link_pk(before.customer_identifier))
        for pk in releases:
            items.append(
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": dump({"pk": pk, "sk": LINK_SK}),
                        "ConditionExpression": "attribute_not_exists(pk) OR customer_id = :me",
                        "ExpressionAttributeValues": me,
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if _error_code(exc) != "TransactionCanceledException":
                raise _unavailable(exc) from exc
            reasons = cancellation_codes(exc)
            if any(code == "ConditionalCheckFailed" for code in reasons[1 : 1 + len(claims)]):
                raise LinkConflict() from None
            raise StoreContention() from None
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc
        return stored

    def save(self, sub: Subscription, before: Subscription, *, now: datetime) -> Subscription:
        """Store a change that touches no link (e.g. the vendor's approval), conditional on
        `before`'s version. Raises `StoreContention` when it changed meanwhile."""
        stored = _with_version(sub, before.version + 1, now)
        try:
            self._client.put_item(
                TableName=self._table, Item=dump(subscription_to_item(stored)), **_version_condition(before)
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                raise StoreContention() from None
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc
        return stored

    def apply_event(
        self,
        event: MarketplaceEvent,
        *,
        customer_id: str,
        before: Subscription | None,
        after: Subscription | None,
        outcome: str,
        now: datetime,
    ) -> Subscription | None:
        """Record `event` as processed and, if `after` is given, store it — in one transaction.

        Returns the stored subscription (or `before` when nothing changed); None when the event
        was already processed (a redelivery). Raises `StoreContention` if `before` is stale.
        """
        record = {
            "pk": f"SUBEVENT#{event.event_id}",
            "sk": EVENT_SK,
            "type": "subscription-event",
            "customer_id": customer_id,
            "kind": event.kind,
            "event_time": format_sortable(event.time),
            "outcome": outcome,
            "processed_at": format_timestamp(now),
            "ttl": int((now + EVENT_RETENTION).timestamp()),
        }
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": dump(record),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        stored = None
        if after is not None:
            stored = _with_version(after, (before.version if before else 0) + 1, now)
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": dump(subscription_to_item(stored)),
                        **_version_condition(before),
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if _error_code(exc) != "TransactionCanceledException":
                raise _unavailable(exc) from exc
            reasons = cancellation_codes(exc)
            if reasons[:1] == ["ConditionalCheckFailed"]:
                return None
            raise StoreContention() from None
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc
        return stored or before

    def was_processed(self, event_id: str) -> bool:
        return self._get(f"SUBEVENT#{event_id}", EVENT_SK) is not None

    def set_entitlements(
        self, customer_id: str, entitlements: dict, *, fetched_at: datetime, now: datetime
    ) -> bool:
        """Store a GetEntitlements answer unless a fresher one is stored; False if skipped."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=dump({"pk": sub_pk(customer_id), "sk": SUB_SK}),
                UpdateExpression=(
                    "SET entitlements = :e, entitlements_updated_at = :at, updated_at = :now, "
                    "version = version + :one"
                ),
                ConditionExpression=(
                    "attribute_exists(pk) AND "
                    "(attribute_not_exists(entitlements_updated_at) OR entitlements_updated_at <= :at)"
                ),
                ExpressionAttributeValues=dump(
                    {
                        ":e": entitlements,
                        ":at": format_sortable(fetched_at),
                        ":now": format_timestamp(now),
                        ":one": 1,
                    }
                ),
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc
        return True

    # ------------------------------------------------------------------ events kept for later

    def keep_pending(self, key: str, event: MarketplaceEvent, *, now: datetime) -> None:
        item = {
            "pk": key,
            "sk": f"{format_sortable(event.time)}#{event.event_id}",
            "type": "subscription-pending-event",
            "event": json.dumps(event_to_dict(event), separators=(",", ":"), sort_keys=True),
            "received_at": format_timestamp(now),
            "ttl": int((now + EVENT_RETENTION).timestamp()),
        }
        try:
            self._client.put_item(TableName=self._table, Item=dump(item))
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc

    def pending(self, key: str) -> list[tuple[str, MarketplaceEvent]]:
        """Kept events of one account or identifier, oldest first, as (sk, event)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": dump({":pk": key}),
            "ConsistentRead": True,
        }
        found: list[tuple[str, MarketplaceEvent]] = []
        try:
            for raw in all_items(self._client, "query", request):
                item = load(raw)
                found.append((item["sk"], event_from_dict(json.loads(item["event"]))))
            return found
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc

    def drop_pending(self, key: str, sk: str) -> None:
        try:
            self._client.delete_item(TableName=self._table, Key=dump({"pk": key, "sk": sk}))
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc


def _with_version(sub: Subscription, version: int, now: datetime) -> Subscription:
    return replace(sub, version=version, updated_at=now)
