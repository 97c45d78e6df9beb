"""Teams, memberships and invitations in the platform-data table.

Item layout (table `pk`/`sk`, TTL `ttl`, GSI `gsi1` = `gsi1pk`/`gsi1sk`):

- team:       pk `TEAM#<team_id>`, sk `TEAM`; team_id, owner_sub, owner_email, created_at,
              gsi1pk `TEAM#<team_id>`, gsi1sk `TEAM`.
- membership: pk `MEMBER#<sub>`, sk `MEMBER`; sub, team_id, role, email, joined_at,
              gsi1pk `TEAM#<team_id>`, gsi1sk `MEMBER#<sub>`. One per person: the developer API
              resolves the caller with one strongly consistent GetItem of it, so a removal is
              seen by that person's very next request.
- invitation: pk `INVITE#<invitation_id>`, sk `INVITE`; team_id, email, email_key (lower case),
              role, invited_by, created_at, expires_at, expires_epoch, status (pending|accepted),
              accepted_by?, accepted_at?, ttl; gsi1pk/gsi1sk `TEAM#<team_id>` / `INVITE#<id>` while
              pending (removed on acceptance, so the team's index lists pending ones only).
- guard:      pk `INVITEFOR#<team_id>#<sha256(email_key)>`, sk `INVITE`; invitation_id,
              expires_epoch, ttl. Written in the invitation's transaction, conditional on being
              absent or expired: one pending invitation per team and address, so two concurrent
              invitations cannot both email the same person.

The team's own records (keys, usage, subscription, audit, notices) are keyed by the team id,
which for a team made from a single-user customer is that customer's sub (nothing is rewritten).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from keys.models import KEYSET_SK, keyset_pk
from shared.aws import all_items, client
from shared.ddb_errors import cancellation_codes
from shared.ddb_items import dump, load
from shared.errors import ServiceError
from shared.timestamps import format_sortable, format_timestamp, parse_timestamp
from subscriptions.models import SUB_SK, sub_pk
from teams.models import ACCEPTED, OWNER, PENDING, Invitation, Membership, TeamView, normalize_email

TEAM_SK = "TEAM"
MEMBER_SK = "MEMBER"
INVITE_SK = "INVITE"
INDEX = "gsi1"
INVITATION_KEPT_AFTER_EXPIRY = timedelta(days=30)


class AlreadyExists(Exception):
    """A conditional create found its item already there (another request made it first)."""


class TransactionConflict(Exception):
    """A condition of a multi-item change failed; `reasons` are DynamoDB's per-item codes."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(",".join(reasons))
        self.reasons = reasons


def team_pk(team_id: str) -> str:
    return f"TEAM#{team_id}"


def member_pk(sub: str) -> str:
    return f"MEMBER#{sub}"


def invite_pk(invitation_id: str) -> str:
    return f"INVITE#{invitation_id}"


def guard_pk(team_id: str, email: str) -> str:
    digest = hashlib.sha256(normalize_email(email).encode()).hexdigest()
    return f"INVITEFOR#{team_id}#{digest}"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _unavailable() -> ServiceError:
    return ServiceError("The team store is unavailable; retry later.")


def membership_item(m: Membership) -> dict[str, Any]:
    return {
        "pk": member_pk(m.sub),
        "sk": MEMBER_SK,
        "type": "member",
        "sub": m.sub,
        "team_id": m.team_id,
        "role": m.role,
        "email": m.email,
        "joined_at": format_sortable(m.joined_at),
        "gsi1pk": team_pk(m.team_id),
        "gsi1sk": f"MEMBER#{m.sub}",
    }


def membership_from(item: dict[str, Any]) -> Membership:
    return Membership(
        sub=item["sub"],
        team_id=item["team_id"],
        role=item["role"],
        email=item.get("email", ""),
        joined_at=parse_timestamp(item["joined_at"]),
    )


def invitation_item(inv: Invitation) -> dict[str, Any]:
    expires_epoch = int(inv.expires_at.timestamp())
    return {
        "pk": invite_pk(inv.invitation_id),
        "sk": INVITE_SK,
        "type": "invitation",
        "invitation_id": inv.invitation_id,
        "team_id": inv.team_id,
        "email": inv.email,
        "email_key": normalize_email(inv.email),
        "role": inv.role,
        "invited_by": inv.invited_by,
        "created_at": format_timestamp(inv.created_at),
        "expires_at": format_timestamp(inv.expires_at),
        "expires_epoch": expires_epoch,
        "status": inv.status,
        "ttl": expires_epoch + int(INVITATION_KEPT_AFTER_EXPIRY.total_seconds()),
        "gsi1pk": team_pk(inv.team_id),
        "gsi1sk": f"INVITE#{inv.invitation_id}",
    }


def invitation_from(item: dict[str, Any]) -> Invitation:
    return Invitation(
        invitation_id=item["invitation_id"],
        team_id=item["team_id"],
        email=item["email"],
        role=item["role"],
        invited_by=item.get("invited_by", ""),
        created_at=parse_timestamp(item["created_at"]),
        expires_at=parse_timestamp(item["expires_at"]),
        status=item["status"],
        accepted_by=item.get("accepted_by"),
    )


class TeamStore:
    def __init__(self, table: str, *, keys_table: str = "", dynamodb: Any = None) -> None:
        self._table = table
        self._keys_table = keys_table
        self._ddb = dynamodb

    @property
    def _client(self) -> Any:
        return self._ddb or client("dynamodb")

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        try:
            answer = self._client.get_item(
                TableName=self._table, Key=dump({"pk": pk, "sk": sk}), ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable() from exc
        return load(answer["Item"]) if answer.get("Item") else None

    def _transact(self, items: list[dict[str, Any]]) -> None:
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if _code(exc) != "TransactionCanceledException":
                raise _unavailable() from exc
            reasons = cancellation_codes(exc)
            if "ConditionalCheckFailed" not in reasons:
                raise _unavailable() from exc  # throttled or in conflict with another transaction
            raise TransactionConflict(reasons) from None
        except BotoCoreError as exc:
            raise _unavailable() from exc

    # -- people ----------------------------------------------------------------------------
    def get_membership(self, sub: str) -> Membership | None:
        """The one read per developer-API request (strongly consistent: removal is immediate)."""
        item = self._get(member_pk(sub), MEMBER_SK)
        return membership_from(item) if item else None

    def create_team_of_one(self, owner: Membership) -> None:
        """The team `owner.sub` with its owner; `AlreadyExists` if the person has a membership
        (a concurrent first request made it). The team item may already exist only as this
        person's own; both puts are one transaction, so a crash leaves neither or both."""
        team = {
            "pk": team_pk(owner.team_id),
            "sk": TEAM_SK,
            "type": "team",
            "team_id": owner.team_id,
            "owner_sub": owner.sub,
            "owner_email": owner.email,
            "created_at": format_sortable(owner.joined_at),
            "gsi1pk": team_pk(owner.team_id),
            "gsi1sk": TEAM_SK,
        }
        try:
            self._transact(
                [
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": dump(membership_item(owner)),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": dump(team),
                            "ConditionExpression": "attribute_not_exists(pk) OR owner_sub = :sub",
                            "ExpressionAttributeValues": dump({":sub": owner.sub}),
                        }
                    },
                ]
            )
        except TransactionConflict:
            raise AlreadyExists() from None

    def team_view(self, team_id: str) -> TeamView:
        """Members and pending invitations: one query of the team's partition of `gsi1`."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": INDEX,
            "KeyConditionExpression": "gsi1pk = :team",
            "ExpressionAttributeValues": dump({":team": team_pk(team_id)}),
        }
        members: list[Membership] = []
        invitations: list[Invitation] = []
        try:
            for raw in all_items(self._client, "query", request):
                item = load(raw)
                if item.get("type") == "member" and item.get("team_id") == team_id:
                    members.append(membership_from(item))
                elif item.get("type") == "invitation" and item.get("status") == PENDING:
                    invitations.append(invitation_from(item))
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable() from exc
        members.sort(key=lambda m: (m.joined_at, m.sub))
        invitations.sort(key=lambda i: (i.created_at, i.invitation_id))
        return TeamView(team_id=team_id, members=tuple(members), invitations=tuple(invitations))

    def remove_member(self, membership: Membership) -> bool:
        """Delete the membership as read (same team, same role, never the owner); False if it
        changed meanwhile. The person's next request finds no membership."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=dump({"pk": member_pk(membership.sub), "sk": MEMBER_SK}),
                ConditionExpression="team_id = :team AND #role = :role AND #role <> :owner",
                ExpressionAttributeNames={"#role": "role"},
                ExpressionAttributeValues=dump(
                    {":team": membership.team_id, ":role": membership.role, ":owner": OWNER}
                ),
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise _unavailable() from exc
        except BotoCoreError as exc:
            raise _unavailable() from exc
        return True

    # -- invitations -----------------------------------------------------------------------
    def get_invitation(self, invitation_id: str) -> Invitation | None:
        item = self._get(invite_pk(invitation_id), INVITE_SK)
        return invitation_from(item) if item else None

    def insert_invitation(self, inv: Invitation, now: datetime) -> None:
        """`AlreadyExists` when the team has a pending, unexpired invitation for that address."""
        expires_epoch = int(inv.expires_at.timestamp())
        guard = {
            "pk": guard_pk(inv.team_id, inv.email),
            "sk": INVITE_SK,
            "type": "invitation-guard",
            "invitation_id": inv.invitation_id,
            "expires_epoch": expires_epoch,
            "ttl": expires_epoch + int(INVITATION_KEPT_AFTER_EXPIRY.total_seconds()),
        }
        try:
            self._transact(
                [
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": dump(guard),
                            "ConditionExpression": "attribute_not_exists(pk) OR expires_epoch <= :now",
                            "ExpressionAttributeValues": dump({":now": int(now.timestamp())}),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": dump(invitation_item(inv)),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except TransactionConflict:
            raise AlreadyExists() from None

    def cancel_invitation(self, inv: Invitation) -> None:
        """Undo an invitation whose email could not be sent (nothing of it stays)."""
        self._transact(
            [
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": dump({"pk": invite_pk(inv.invitation_id), "sk": INVITE_SK}),
                        "ConditionExpression": "#status = :pending",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": dump({":pending": PENDING}),
                    }
                },
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": dump({"pk": guard_pk(inv.team_id, inv.email), "sk": INVITE_SK}),
                        "ConditionExpression": "attribute_not_exists(pk) OR invitation_id = :id",
                        "ExpressionAttributeValues": dump({":id": inv.invitation_id}),
                    }
                },
            ]
        )

    def accept(self, inv: Invitation, joining: Membership, own_team: str, now: datetime) -> None:
        """Move the person from their own (empty) team into the invitation's, atomically.

        Conditions, all in one transaction: the invitation is still pending and unexpired; the
        person is still the owner of their own team (or has no membership yet: an implicit team
        of one); that team still has no key set (keys table) and no subscription.
        `TransactionConflict` names which failed.
        """
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": dump({"pk": invite_pk(inv.invitation_id), "sk": INVITE_SK}),
                    "UpdateExpression": (
                        "SET #status = :accepted, accepted_by = :sub, accepted_at = :now "
                        "REMOVE gsi1pk, gsi1sk"
                    ),
                    "ConditionExpression": "#status = :pending AND expires_epoch > :epoch",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": dump(
                        {
                            ":accepted": ACCEPTED,
                            ":sub": joining.sub,
                            ":now": format_timestamp(now),
                            ":pending": PENDING,
                            ":epoch": int(now.timestamp()),
                        }
                    ),
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": dump(membership_item(joining)),
                    "ConditionExpression": "attribute_not_exists(pk) OR (team_id = :own AND #role = :owner)",
                    "ExpressionAttributeNames": {"#role": "role"},
                    "ExpressionAttributeValues": dump({":own": own_team, ":owner": OWNER}),
                }
            },
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": dump({"pk": team_pk(own_team), "sk": TEAM_SK}),
                    "ConditionExpression": "attribute_not_exists(pk) OR owner_sub = :sub",
                    "ExpressionAttributeValues": dump({":sub": joining.sub}),
                }
            },
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": dump({"pk": guard_pk(inv.team_id, inv.email), "sk": INVITE_SK}),
                    "ConditionExpression": "attribute_not_exists(pk) OR invitation_id = :id",
                    "ExpressionAttributeValues": dump({":id": inv.invitation_id}),
                }
            },
            {
                "ConditionCheck": {
                    "TableName": self._table,
                    "Key": dump({"pk": sub_pk(own_team), "sk": SUB_SK}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        if self._keys_table:
            items.append(
                {
                    "ConditionCheck": {
                        "TableName": self._keys_table,
                        "Key": dump({"pk": keyset_pk(own_team), "sk": KEYSET_SK}),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        self._transact(items)

    def holds_records(self, own_team: str) -> bool:
        """True when the team has a key set (any key ever made) or a subscription item."""
        if self._get(sub_pk(own_team), SUB_SK) is not None:
            return True
        if not self._keys_table:
            return False
        try:
            answer = self._client.get_item(
                TableName=self._keys_table,
                Key=dump({"pk": keyset_pk(own_team), "sk": KEYSET_SK}),
                ConsistentRead=True,
                ProjectionExpression="pk",
            )
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable() from exc
        return bool(answer.get("Item"))
