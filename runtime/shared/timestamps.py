"""Timestamps on the wire (docs/protocol.md §1): RFC 3339 in UTC with a `Z` suffix, one implementation
for every feature."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_RFC3339_Z_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$")


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_timestamp(value: str) -> datetime:
    """RFC 3339 in UTC with a `Z` suffix (docs/protocol.md §1); fractions are kept to the microsecond."""
    match = _RFC3339_Z_RE.match(value)
    if match is None:
        raise ValueError("not an RFC 3339 UTC timestamp ending in Z")
    year, month, day, hour, minute, second, fraction = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tzinfo=UTC)


def format_timestamp(value: datetime) -> str:
    """The wire form: whole seconds, `Z`."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_sortable(value: datetime) -> str:
    """Fixed-width microsecond form, so keys created in the same second still sort by age."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
