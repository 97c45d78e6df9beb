"""DynamoDB item (de)serialisation: Python values ⇄ the low-level client's AttributeValues.

The same mapping as boto3's `boto3.dynamodb.types.TypeSerializer` / `TypeDeserializer` (numbers
as `Decimal` under DynamoDB's 38-digit context, no floats, sets as SS/NS/BS), without importing
boto3: `boto3.dynamodb.types` imports `boto3`, whose `boto3.compat` imports `s3transfer`, which a
handler would otherwise pay for at every cold start (see "Benchmarks" in the README). Binary
values deserialize to `bytes` (boto3 wraps them in its `Binary`; no table here stores binary).
AWS docs: "AttributeValue" (Amazon DynamoDB API Reference,
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_AttributeValue.html) and
"Supported data types and naming rules in Amazon DynamoDB" (numbers: up to 38 digits of precision,
positive 1E-130 to 9.9999999999999999999999999999999999999E+125).
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

# DynamoDB's number range and precision; an inexact or out-of-range number raises, as in boto3.
DYNAMODB_CONTEXT = Context(
    Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow]
)


def _number(value: int | Decimal) -> str:
    number = str(DYNAMODB_CONTEXT.create_decimal(value))
    if number in ("Infinity", "NaN", "-Infinity", "sNaN", "-NaN"):
        raise TypeError("Infinity and NaN not supported")
    return number


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    return isinstance(value, int | Decimal)


def serialize(value: Any) -> dict[str, Any]:
    """One Python value as an AttributeValue (`{"S": "x"}`, `{"N": "1"}`, …)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if _is_number(value):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes | bytearray):
        return {"B": bytes(value)}
    if isinstance(value, Set):
        members = list(value)  # an empty set is NS, as in boto3 (and DynamoDB refuses it)
        if all(_is_number(m) for m in members):
            return {"NS": [_number(m) for m in members]}
        if all(isinstance(m, str) for m in members):
            return {"SS": members}
        if all(isinstance(m, bytes | bytearray) for m in members):
            return {"BS": [bytes(m) for m in members]}
        raise TypeError(f"Unsupported set for DynamoDB: {value!r}")
    if isinstance(value, Mapping):
        return {"M": {k: serialize(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [serialize(v) for v in value]}
    raise TypeError(f"Unsupported type {type(value)} for value {value!r}")


def deserialize(value: dict[str, Any]) -> Any:
    """One AttributeValue as a Python value (numbers as `Decimal`)."""
    if not value:
        raise TypeError("Value must be a nonempty dictionary whose key is a valid dynamodb type.")
    ((kind, data),) = value.items()
    if kind == "S":
        return data
    if kind == "N":
        return DYNAMODB_CONTEXT.create_decimal(data)
    if kind == "BOOL":
        return data
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: deserialize(v) for k, v in data.items()}
    if kind == "L":
        return [deserialize(v) for v in data]
    if kind == "SS":
        return set(data)
    if kind == "NS":
        return {DYNAMODB_CONTEXT.create_decimal(n) for n in data}
    if kind == "B":
        return bytes(data)
    if kind == "BS":
        return {bytes(b) for b in data}
    raise TypeError(f"Dynamodb type {kind} is not supported")


def dump(values: Mapping[str, Any]) -> dict[str, Any]:
    """A whole item (attributes whose value is None are left out)."""
    return {k: serialize(v) for k, v in values.items() if v is not None}


def load(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: deserialize(v) for k, v in item.items()}


class TypeSerializer:
    """Drop-in for `boto3.dynamodb.types.TypeSerializer`."""

    def serialize(self, value: Any) -> dict[str, Any]:
        return serialize(value)


class TypeDeserializer:
    """Drop-in for `boto3.dynamodb.types.TypeDeserializer`."""

    def deserialize(self, value: dict[str, Any]) -> Any:
        return deserialize(value)
