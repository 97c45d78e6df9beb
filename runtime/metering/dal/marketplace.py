"""The AWS Marketplace Metering client, for BatchMeterUsage, and what its errors mean.

Built lazily, so `AWS_ENDPOINT_URL_MARKETPLACE_METERING` (the sandbox's emulator) is honoured.
botocore's own retries are off: `metering.logic.submit` owns the whole retry policy, so
attempts are bounded once, and counted.

Every SDK error of a call leaves this module sorted (`sort_errors`), so the metering logic never
sees botocore:
- `Retry`: throttling, Marketplace's internal errors and transport failures (a timeout may or may
  not have reached Marketplace); resending the identical records is safe because Marketplace
  deduplicates on customer, dimension and hour. `throttle` says whether to back off the pool.
- `BatchRejected`: any other error of the request as a whole (`InvalidLicenseException`,
  `TimestampOutOfBoundsException`, …), not retried. botocore's client-side
  `ParamValidationError` (its model refuses the request before it is sent: an SDK that lacks
  `LicenseArn`, or a record the model forbids) is a bug, not a transient error: `BatchRejected`
  with code `PARAM_VALIDATION`, never retried (it would fail identically forever).
AWS docs: "BatchMeterUsage" (AWS Marketplace Metering Service API Reference, Errors,
https://docs.aws.amazon.com/marketplacemetering/latest/APIReference/API_BatchMeterUsage.html) and
"Retry behavior" (AWS SDKs and Tools Reference Guide: which errors are transient).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from shared.aws import made_once, new_client, sdk_config

PARAM_VALIDATION = "ParamValidationError"
RETRYABLE_ERRORS = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "InternalServiceErrorException",
    "ServiceUnavailableException",
    "InternalFailure",
    "RequestTimeout",
    "RequestTimeoutException",
}


class Retry(Exception):
    """The call may be sent again, identically; `throttle`: Marketplace asked us to slow down."""

    def __init__(self, code: str, *, throttle: bool) -> None:
        super().__init__(code)
        self.code = code
        self.throttle = throttle


class BatchRejected(Exception):
    """Marketplace refused the whole request (not a throttle, not a server error)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def sorted_error(exc: Exception) -> Retry | BatchRejected:
    """What an SDK error of one BatchMeterUsage call means for the caller."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in RETRYABLE_ERRORS or status >= 500 or status == 429:
            throttle = code.startswith("Throttl") or code == "TooManyRequestsException" or status == 429
            return Retry(code or str(status), throttle=throttle)
        return BatchRejected(code or "Error", str(error.get("Message", "")))
    if isinstance(exc, ParamValidationError):  # a BotoCoreError, but never transient
        return BatchRejected(PARAM_VALIDATION, str(exc)[:400])
    # timeout or connection error: unknown outcome, the identical resend is safe
    return Retry(type(exc).__name__, throttle=False)


Call = TypeVar("Call", bound=Callable[..., Any])


def sort_errors(call: Call) -> Call:
    """`call`, raising only `Retry` or `BatchRejected` for the SDK's errors."""

    @wraps(call)
    def sorted_call(*args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise sorted_error(exc) from None

    return sorted_call  # type: ignore[return-value]


@made_once
def metering_client() -> Any:
    config = sdk_config(
        connect_timeout=3, read_timeout=15, retries={"mode": "standard", "total_max_attempts": 1}
    )
    return new_client("meteringmarketplace", config=config)


class BatchMeter:
    """`BatchMeterUsage` for stored records (Timestamp as epoch seconds in the table)."""

    def __init__(self, metering: Any = None) -> None:
        self._client = metering

    @sort_errors
    def __call__(self, records: list[dict[str, Any]], product_code: str | None = None) -> dict[str, Any]:
        request: dict[str, Any] = {
            "UsageRecords": [
                {**r, "Timestamp": datetime.fromtimestamp(int(r["Timestamp"]), UTC)} for r in records
            ]
        }
        if product_code:
            request["ProductCode"] = product_code
        return (self._client or metering_client()).batch_meter_usage(**request)
