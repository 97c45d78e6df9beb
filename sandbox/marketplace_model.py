"""Checks wire values against botocore's service models, for the Marketplace emulator: awsJson1_1
JSON, and the members of restJson1 requests (body, path and query together).

Requests and responses are checked the same way: shape types, required members, unknown members,
length/size limits (`min`/`max` on strings, lists and maps), value limits (`min`/`max` on numbers),
enums and patterns. Timestamps are epoch seconds on the awsJson wire, ISO 8601 strings where a
restJson1 member says `timestampFormat: iso8601` (the Deployment Service's `expirationDate`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
from botocore.model import ServiceModel, Shape

METERING = "meteringmarketplace"
ENTITLEMENT = "marketplace-entitlement"
AGREEMENT = "marketplace-agreement"
DEPLOYMENT = "marketplace-deployment"


@dataclass(frozen=True)
class Problem:
    """One way a value breaks the model. `kind` is "type" (wrong JSON type) or "constraint"."""

    kind: str
    path: str
    shape: str
    message: str

    def __str__(self) -> str:
        return self.message


_ISO8601 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


@cache
def service_model(name: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(name)


@cache
def _pattern(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def _fmt(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _constraint(path: str, shape: Shape, value: Any, rule: str) -> Problem:
    return Problem(
        "constraint",
        path,
        shape.name,
        f"Value {_fmt(value)} at '{path}' failed to satisfy constraint: Member must {rule}",
    )


def _type(path: str, shape: Shape, value: Any, expected: str) -> Problem:
    return Problem(
        "type",
        path,
        shape.name,
        f"Value {_fmt(value)} at '{path}' is a {type(value).__name__}, expected {expected}",
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate(shape: Shape, value: Any, path: str = "") -> list[Problem]:
    """Every problem found in `value` (decoded wire JSON) as an instance of `shape`."""
    problems: list[Problem] = []
    _check(shape, value, path, problems)
    return problems


def _check(shape: Shape, value: Any, path: str, out: list[Problem]) -> None:
    where = path or shape.name
    check = _CHECKS.get(shape.type_name)
    if check is None:
        out.append(
            Problem("type", where, shape.name, f"Unsupported shape type {shape.type_name!r} at '{where}'")
        )
        return
    check(shape, value, path, where, out)


def _check_structure(shape: Shape, value: Any, path: str, where: str, out: list[Problem]) -> None:
    if not isinstance(value, dict):
        out.append(_type(where, shape, value, "an object"))
        return
    members = shape.members
    for name in shape.required_members:
        if value.get(name) is None:
            out.append(_constraint(_join(path, name), members[name], None, "not be null"))
    for name, member_value in value.items():
        if name not in members:
            message = f"Unknown member '{name}' at '{where}'"
            out.append(Problem("constraint", _join(path, name), shape.name, message))
        elif member_value is not None:
            _check(members[name], member_value, _join(path, name), out)


def _check_list(shape: Shape, value: Any, path: str, where: str, out: list[Problem]) -> None:
    if not isinstance(value, list):
        out.append(_type(where, shape, value, "an array"))
        return
    _size(shape, value, where, out)
    for index, item in enumerate(value):
        _check(shape.member, item, f"{where}.{index + 1}.member", out)


def _check_map(shape: Shape, value: Any, path: str, where: str, out: list[Problem]) -> None:
    if not isinstance(value, dict):
        out.append(_type(where, shape, value, "an object"))
        return
    _size(shape, value, where, out)
    for key, item in value.items():
        _check(shape.key, key, f"{where}.key", out)
        _check(shape.value, item, f"{where}.{key}", out)


def _check_string(shape: Shape, value: Any, path: str, where: str, out: list[Problem]) -> None:
    if not isinstance(value, str):
        out.append(_type(where, shape, value, "a string"))
        return
    _size(shape, value, where, out)
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        out.append(_constraint(where, shape, value, f"satisfy enum value set: [{', '.join(enum)}]"))
    pattern = shape.metadata.get("pattern")
    if pattern and not _pattern(pattern).search(value):
        out.append(_constraint(where, shape, value, f"satisfy regular expression pattern: {pattern}"))


def _check_integer(shape: Shape, value: Any, path: str, where: str, out: list[Problem]) -> None:
    if not _is_int(value):
        out.append(_type(where, shape, value, "an integer"))
        return
    _range(shape, value, where, out)


def _check_number(shape: Shape, value: Any, path: str, where: str, out: list[Problem]) -> None:
    if not _is_number(value):
        out.append(_type(where, shape, value, "a number"))
        return
    _range(shape, value, where, out)


def _check_boolean(shape: Shape, value: Any, path: str, where: str, out: list[Problem]) -> None:
    if not isinstance(value, bool):
        out.append(_type(where, shape, value, "a boolean"))


def _check_timestamp(shape: Shape, value: Any, path: str, where: str, out: list[Problem]) -> None:
    if shape.serialization.get("timestampFormat") == "iso8601":  # restJson1 members that say so
        if not (isinstance(value, str) and _ISO8601.match(value)):
            out.append(_type(where, shape, value, "an ISO 8601 date-time string"))
    elif not _is_number(value):
        out.append(_type(where, shape, value, "epoch seconds"))


def _check_blob(shape: Shape, value: Any, path: str, where: str, out: list[Problem]) -> None:
    if not isinstance(value, str):
        out.append(_type(where, shape, value, "a base64 string"))


_CHECKS: dict[str, Callable[[Shape, Any, str, str, list[Problem]], None]] = {
    "structure": _check_structure,
    "list": _check_list,
    "map": _check_map,
    "string": _check_string,
    "integer": _check_integer,
    "long": _check_integer,
    "double": _check_number,
    "float": _check_number,
    "boolean": _check_boolean,
    "timestamp": _check_timestamp,
    "blob": _check_blob,
}


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _size(shape: Shape, value: Any, where: str, out: list[Problem]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    noun = "length" if shape.type_name == "string" else "size"
    if low is not None and len(value) < low:
        out.append(_constraint(where, shape, value, f"have {noun} greater than or equal to {low}"))
    if high is not None and len(value) > high:
        out.append(_constraint(where, shape, value, f"have {noun} less than or equal to {high}"))


def _range(shape: Shape, value: Any, where: str, out: list[Problem]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and value < low:
        out.append(_constraint(where, shape, value, f"have value greater than or equal to {low}"))
    if high is not None and value > high:
        out.append(_constraint(where, shape, value, f"have value less than or equal to {high}"))


def validate_input(service: str, operation: str, params: Any) -> list[Problem]:
    return validate(service_model(service).operation_model(operation).input_shape, params)


def validate_output(service: str, operation: str, body: Any) -> list[Problem]:
    return validate(service_model(service).operation_model(operation).output_shape, body)


def summary(problems: list[Problem]) -> str:
    """The message AWS's JSON services use for constraint failures."""
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(str(p) for p in problems)
