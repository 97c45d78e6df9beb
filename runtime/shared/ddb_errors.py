"""What a refused DynamoDB transaction says about each of its items.

`TransactWriteItems` refuses a whole transaction with `TransactionCanceledException`, whose
`CancellationReasons` hold one entry per item *in the request's order*; an item that caused no
error has a null code (botocore gives `"None"` or leaves `Code` out). With
`ReturnValuesOnConditionCheckFailure=ALL_OLD` the entry also carries the item as it was.
AWS docs: "CancellationReason" (Amazon DynamoDB API Reference,
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CancellationReason.html) and
"TransactWriteItems" (same reference, TransactionCanceledException).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CANCELLED = "TransactionCanceledException"
CONDITION_FAILED = "ConditionalCheckFailed"
PASSED = "None"  # the code of an item that caused no error


@dataclass(frozen=True)
class Reason:
    code: str  # `PASSED` for an item that caused no error
    item: dict[str, Any] | None = None  # raw AttributeValues, when ALL_OLD was asked for


def error_code(exc: Any) -> str:
    """The error code of a botocore `ClientError` ("" when it has none)."""
    return str((getattr(exc, "response", None) or {}).get("Error", {}).get("Code") or "")


def cancellation_reasons(exc: Any) -> list[Reason]:
    """One reason per transaction item, in the request's order; [] for any other error."""
    if error_code(exc) != CANCELLED:
        return []
    raw = (exc.response or {}).get("CancellationReasons") or []
    return [Reason(code=str(r.get("Code") or PASSED), item=r.get("Item") or None) for r in raw]


def cancellation_codes(exc: Any) -> list[str]:
    """Only the codes of `cancellation_reasons`."""
    return [reason.code for reason in cancellation_reasons(exc)]
