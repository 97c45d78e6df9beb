"""Activation items in the platform-data table (layout: `activations.models`)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from activations.models import (
    ACTIVATION_SK,
    ACTIVE,
    DEACTIVATED,
    Activation,
    activation_pk,
    customer_activations_pk,
)
from shared.aws import all_items, client
from shared.ddb_items import TypeSerializer, load
from shared.errors import ServiceError

INDEX = "gsi1"
_serializer = TypeSerializer()


class ActivationOwnedElsewhere(Exception):
    """The activation id exists for another customer (a hash collision, or a forged id)."""


def _unavailable(exc: Exception) -> ServiceError:
    return ServiceError("The activation store is unavailable; retry later.")


def _values(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items()}


def _load(item: dict[str, Any]) -> Activation:
    return Activation.from_item(load(item))


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class ActivationStore:
    def __init__(self, table: str, *, dynamodb: Any = None) -> None:
        self._table = table
        self._ddb = dynamodb

    @property
    def ddb(self) -> Any:
        return self._ddb or client("dynamodb")

    def get(self, activation_id: str) -> Activation | None:
        try:
            answer = self.ddb.get_item(
                TableName=self._table,
                Key={"pk": {"S": activation_pk(activation_id)}, "sk": {"S": ACTIVATION_SK}},
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc
        item = answer.get("Item")
        return _load(item) if item else None

    def record(self, activation: Activation, created_sortable: str) -> Activation:
        """Creates the activation, or re-activates it (Update): `created_at` and the index sort key
        keep their first value, everything else is this call's. Another owner → refused."""
        names = {"#status": "status", "#region": "region"}
        values = {
            ":customer": activation.customer_id,
            ":access_key": activation.access_key,
            ":account": activation.account_id,
            ":region": activation.region,
            ":stack": activation.stack_id,
            ":product": activation.product,
            ":version": activation.version,
            ":issued": activation.issued_at,
            ":request_type": activation.last_request_type,
            ":created": activation.created_at,
            ":updated": activation.updated_at,
            ":active": ACTIVE,
            ":type": "activation",
            ":id": activation.activation_id,
            ":gsi1pk": customer_activations_pk(activation.customer_id),
            ":gsi1sk": f"{created_sortable}#{activation.activation_id}",
        }
        update = (
            "SET #type = :type, activation_id = :id, customer_id = :customer, access_key = :access_key, "
            "account_id = :account, #region = :region, stack_id = :stack, product = :product, "
            "version = :version, issued_at = :issued, last_request_type = :request_type, "
            "created_at = if_not_exists(created_at, :created), updated_at = :updated, #status = :active, "
            "gsi1pk = :gsi1pk, gsi1sk = if_not_exists(gsi1sk, :gsi1sk) REMOVE deactivated_at"
        )
        names["#type"] = "type"
        try:
            answer = self.ddb.update_item(
                TableName=self._table,
                Key={"pk": {"S": activation_pk(activation.activation_id)}, "sk": {"S": ACTIVATION_SK}},
                UpdateExpression=update,
                ConditionExpression="attribute_not_exists(pk) OR customer_id = :customer",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_values(values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                raise ActivationOwnedElsewhere(activation.activation_id) from None
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc
        return _load(answer["Attributes"])

    def deactivate(self, activation_id: str, customer_id: str, now: str) -> None:
        try:
            self.ddb.update_item(
                TableName=self._table,
                Key={"pk": {"S": activation_pk(activation_id)}, "sk": {"S": ACTIVATION_SK}},
                UpdateExpression="SET #status = :deactivated, updated_at = :now, deactivated_at = :now",
                ConditionExpression="customer_id = :customer AND #status = :active",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=_values(
                    {":deactivated": DEACTIVATED, ":now": now, ":customer": customer_id, ":active": ACTIVE}
                ),
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return  # already deactivated (a concurrent Delete): the outcome is the same
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc

    def touch_usage(self, activation_id: str, now: str) -> None:
        """Stamp `last_usage_at` (the silent-usage check reads it); never creates an item."""
        try:
            self.ddb.update_item(
                TableName=self._table,
                Key={"pk": {"S": activation_pk(activation_id)}, "sk": {"S": ACTIVATION_SK}},
                UpdateExpression="SET last_usage_at = :now",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":now": {"S": now}},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc

    def all_active(self) -> list[Activation]:
        """Every customer's active activations: a Scan filtered to them (the hourly silence job)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "sk = :sk AND #status = :active",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":sk": {"S": ACTIVATION_SK}, ":active": {"S": ACTIVE}},
        }
        try:
            return [_load(item) for item in all_items(self.ddb, "scan", request)]
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc

    def for_customer(self, customer_id: str) -> list[Activation]:
        """A customer's activations, oldest first (gsi1)."""
        found: list[Activation] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": INDEX,
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": customer_activations_pk(customer_id)}},
        }
        try:
            found.extend(_load(item) for item in all_items(self.ddb, "query", request))
            return found
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc
