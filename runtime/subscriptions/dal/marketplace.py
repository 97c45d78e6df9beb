"""AWS Marketplace Metering (ResolveCustomer), Entitlement (GetEntitlements) and Agreement
(DescribeAgreement) calls.

Both clients are built lazily (`shared.aws.client`), so `AWS_ENDPOINT_URL_MARKETPLACE_METERING`
and `AWS_ENDPOINT_URL_MARKETPLACE_ENTITLEMENT_SERVICE` (the sandbox's emulator) are honoured.
SDK errors become the project's own: a bad token is the caller's fault (400), anything else
is ours and retryable (503).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from shared.aws import client, made_once, new_client
from shared.errors import InvalidRegistrationToken, ServiceError
from shared.timestamps import format_timestamp
from subscriptions.dal.sdk_models import SdkTooOld, require_license_arn

logger = Logger(child=True)

# ResolveCustomer errors that mean "this token will never work" (botocore's service model).
_BAD_TOKEN = {"InvalidTokenException", "ExpiredTokenException"}
_PAGE_SIZE = 25  # GetEntitlements MaxResults: 1-25


@dataclass(frozen=True)
class ResolvedCustomer:
    aws_account_id: str
    product_code: str
    license_arn: str | None  # new integrations (Concurrent Agreements)
    customer_identifier: str | None  # legacy integrations


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def entitlement_value(value: dict) -> Any:
    """`{"IntegerValue": 10}` → 10; doubles become Decimal (DynamoDB stores no floats)."""
    if "IntegerValue" in value:
        return int(value["IntegerValue"])
    if "BooleanValue" in value:
        return bool(value["BooleanValue"])
    if "DoubleValue" in value:
        return Decimal(str(value["DoubleValue"]))
    if "StringValue" in value:
        return str(value["StringValue"])
    return None


def entitlements_map(rows: list[dict]) -> dict[str, dict]:
    """GetEntitlements rows → `{dimension: {"value": …, "expires_at": RFC 3339 | absent}}`."""
    found: dict[str, dict] = {}
    for row in rows:
        dimension = row.get("Dimension")
        if not isinstance(dimension, str):
            continue
        entry: dict[str, Any] = {"value": entitlement_value(row.get("Value") or {})}
        expiration = row.get("ExpirationDate")
        if isinstance(expiration, datetime):
            entry["expires_at"] = format_timestamp(expiration)
        elif isinstance(expiration, int | float):  # raw wire JSON (epoch seconds)
            entry["expires_at"] = format_timestamp(datetime.fromtimestamp(expiration, UTC))
        found[dimension] = entry
    return found


# The Agreement API exists in us-east-1 only (AWS docs: "Supported AWS Regions", AWS Marketplace
# Agreement API reference).
AGREEMENT_REGION = "us-east-1"


@made_once
def agreement_client() -> Any:
    return new_client("marketplace-agreement", region_name=AGREEMENT_REGION)


class Marketplace:
    def __init__(self, *, metering: Any = None, entitlement: Any = None, agreement: Any = None) -> None:
        self._metering = metering
        self._entitlement = entitlement
        self._agreement = agreement

    @property
    def _metering_client(self) -> Any:
        return self._metering or client("meteringmarketplace")

    @property
    def _entitlement_client(self) -> Any:
        return self._entitlement or client("marketplace-entitlement")

    def resolve_customer(self, registration_token: str) -> ResolvedCustomer:
        try:  # an SDK without LicenseArn would drop the buyer's licence silently
            require_license_arn()
        except SdkTooOld as exc:
            logger.error("ResolveCustomer refused: the SDK is too old", extra={"problem": str(exc)})
            raise ServiceError("AWS Marketplace registration is unavailable; retry later.") from None
        try:
            answer = self._metering_client.resolve_customer(RegistrationToken=registration_token)
        except ParamValidationError:
            raise InvalidRegistrationToken("The registration token is not valid.") from None
        except ClientError as exc:
            if _code(exc) in _BAD_TOKEN:
                raise InvalidRegistrationToken(
                    "The registration token is invalid or has expired; subscribe again from "
                    "AWS Marketplace to get a new one."
                ) from None
            raise ServiceError("AWS Marketplace is unavailable; retry later.") from exc
        except BotoCoreError as exc:
            raise ServiceError("AWS Marketplace is unavailable; retry later.") from exc
        account = answer.get("CustomerAWSAccountId")
        product = answer.get("ProductCode")
        if not isinstance(account, str) or not isinstance(product, str):
            raise ServiceError("AWS Marketplace answered without an account; retry later.")
        return ResolvedCustomer(
            aws_account_id=account,
            product_code=product,
            license_arn=answer.get("LicenseArn") or None,
            customer_identifier=answer.get("CustomerIdentifier") or None,
        )

    def get_entitlements(self, product_code: str, filters: dict[str, list[str]]) -> list[dict]:
        """Every entitlement row matching `filters` (all pages)."""
        request: dict[str, Any] = {"ProductCode": product_code, "Filter": filters, "MaxResults": _PAGE_SIZE}
        rows: list[dict] = []
        try:
            while True:
                answer = self._entitlement_client.get_entitlements(**request)
                rows.extend(answer.get("Entitlements", []))
                token = answer.get("NextToken")
                if not token:
                    return rows
                request["NextToken"] = token
        except ParamValidationError as exc:  # a bug (the SDK refused our request), not transient
            logger.error("the SDK refused a GetEntitlements request", extra={"problem": str(exc)[:300]})
            raise ServiceError("AWS Marketplace entitlements are unavailable; retry later.") from exc
        except (ClientError, BotoCoreError) as exc:
            raise ServiceError("AWS Marketplace entitlements are unavailable; retry later.") from exc

    def entitlements_for(
        self, product_code: str, *, license_arn: str | None, aws_account_id: str
    ) -> dict[str, dict]:
        """The licence's entitlements (by LICENSE_ARN), or the account's for legacy integrations."""
        if license_arn:
            filters = {"LICENSE_ARN": [license_arn]}
        else:
            filters = {"CUSTOMER_AWS_ACCOUNT_ID": [aws_account_id]}
        return entitlements_map(self.get_entitlements(product_code, filters))

    def agreement_products(self, agreement_id: str) -> set[str]:
        """The product ids (`prod-…`) an agreement is for (DescribeAgreement); empty when AWS does
        not know the agreement. Raises `ServiceError` when the API is unavailable."""
        try:
            answer = (self._agreement or agreement_client()).describe_agreement(agreementId=agreement_id)
        except ClientError as exc:
            if _code(exc) in ("ResourceNotFoundException", "ValidationException"):
                return set()
            raise ServiceError("The AWS Marketplace Agreement API is unavailable; retry later.") from exc
        except ParamValidationError:
            return set()  # not an agreement id at all
        except BotoCoreError as exc:
            raise ServiceError("The AWS Marketplace Agreement API is unavailable; retry later.") from exc
        resources = (answer.get("proposalSummary") or {}).get("resources") or []
        return {r["id"] for r in resources if isinstance(r, dict) and isinstance(r.get("id"), str)}

    def account_of_identifier(self, product_code: str, customer_identifier: str) -> str | None:
        """Legacy SNS messages name only a customer identifier; an entitlement row names its account."""
        rows = self.get_entitlements(product_code, {"CUSTOMER_IDENTIFIER": [customer_identifier]})
        accounts = {row.get("CustomerAWSAccountId") for row in rows} - {None}
        return accounts.pop() if len(accounts) == 1 else None
