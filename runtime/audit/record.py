"""One audit record per API call. It names who and what, never a secret, signature or token."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

ANONYMOUS = "anonymous"
SUCCESS = "success"
CLIENT_ERROR = "client_error"
SERVER_ERROR = "server_error"
_MAX_TEXT = 256


def _clip(value: str | None) -> str | None:
    return value[:_MAX_TEXT] if value else value


def operation_of(event: dict) -> str:
    """`METHOD /route/{template}`: bounded, and free of path values such as access keys."""
    method = str(event.get("httpMethod") or "?")
    resource = event.get("resource") or ""
    if not resource or "{proxy+}" in resource:
        resource = event.get("path") or "?"
    return _clip(f"{method} {resource}") or "?"


def result_of(status: int) -> str:
    if status >= 500:
        return SERVER_ERROR
    return CLIENT_ERROR if status >= 400 else SUCCESS


def error_code_of(response: dict) -> str | None:
    if int(response.get("statusCode", 500)) < 400:
        return None
    try:
        return str(json.loads(response.get("body") or "")["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "Unknown"


@dataclass
class AuditRecord:
    api: str
    operation: str
    request_id: str
    source_ip: str | None
    started_at: datetime
    customer_id: str = ANONYMOUS
    access_key: str | None = None
    status: int = 0
    result: str = ""
    error_code: str | None = None
    latency_ms: int = 0
    operator: str | None = None  # admin API: the calling operator's IAM principal ARN

    @classmethod
    def start(cls, api: str, event: dict, now: datetime | None = None) -> AuditRecord:
        context = event.get("requestContext") or {}
        identity = context.get("identity") or {}
        return cls(
            api=api,
            operation=operation_of(event),
            request_id=_clip(str(context.get("requestId") or "")) or "unknown",
            source_ip=_clip(identity.get("sourceIp")),
            started_at=now or datetime.now(UTC),
        )

    def finish(self, response: dict, latency_ms: float) -> None:
        self.status = int(response.get("statusCode", 500))
        self.result = result_of(self.status)
        self.error_code = error_code_of(response)
        self.latency_ms = max(0, round(latency_ms))

    @property
    def day(self) -> str:
        return self.started_at.strftime("%Y-%m-%d")

    def item(self, retention_days: int) -> dict:
        """Audit table item: pk `<customer>#<YYYY-MM-DD>`, sk `<time µs>#<request id>`."""
        at = self.started_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        item = {
            "pk": f"{self.customer_id}#{self.day}",
            "sk": f"{at}#{self.request_id}",
            "customer_id": self.customer_id,
            "day": self.day,
            "at": at,
            "api": self.api,
            "operation": self.operation,
            "access_key": self.access_key,
            "status": self.status,
            "result": self.result,
            "error_code": self.error_code,
            "latency_ms": self.latency_ms,
            "source_ip": self.source_ip,
            "request_id": self.request_id,
            "operator": _clip(self.operator),
            "ttl": int(self.started_at.timestamp()) + retention_days * 86400,
        }
        return {k: v for k, v in item.items() if v is not None}
