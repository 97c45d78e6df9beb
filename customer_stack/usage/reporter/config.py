"""What a run starts from: its configuration (the environment the template sets), its key pair
(from the stack's secret) and its time (the Lambda context's)."""

from __future__ import annotations

import json
import os
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .common import ReporterError, error_name

DEFAULT_BUDGET_S = 840.0  # without a Lambda context (local runs)
DEFAULT_MAX_RECEIVE_ROUNDS = 10_000
DEFAULT_RECEIVE_WAIT_S = 1
MAX_WINDOW_HOURS = 72
USAGE_PATH = "/v1/usage"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class Config:
    queue_url: str
    vendor_api_url: str
    secret_arn: str
    dead_letter_queue_url: str
    window_hours: int
    max_receive_rounds: int = DEFAULT_MAX_RECEIVE_ROUNDS
    receive_wait_seconds: int = DEFAULT_RECEIVE_WAIT_S

    @property
    def usage_url(self) -> str:
        return self.vendor_api_url.rstrip("/") + USAGE_PATH


def _checked_vendor_url(url: str) -> str:
    """https only; plain http is accepted for a loopback address (the local sandbox)."""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname or parts.query or parts.fragment:
        raise ReporterError("VENDOR_API_URL must be a base URL such as https://api.example.com/prod")
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        return url
    raise ReporterError("VENDOR_API_URL must be an https URL")


def load_config(env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    values = {}
    for name in (
        "USAGE_QUEUE_URL",
        "VENDOR_API_URL",
        "SECRET_ARN",
        "DEAD_LETTER_QUEUE_URL",
        "USAGE_WINDOW_HOURS",
    ):
        value = (env.get(name) or "").strip()
        if not value:
            raise ReporterError(f"{name} is not set")
        values[name] = value
    try:
        rounds = int(env.get("MAX_RECEIVE_ROUNDS") or DEFAULT_MAX_RECEIVE_ROUNDS)
        wait = int(env.get("RECEIVE_WAIT_SECONDS") or DEFAULT_RECEIVE_WAIT_S)
        window = int(values["USAGE_WINDOW_HOURS"])
    except ValueError:
        raise ReporterError(
            "MAX_RECEIVE_ROUNDS, RECEIVE_WAIT_SECONDS and USAGE_WINDOW_HOURS must be integers"
        ) from None
    if not 1 <= window <= MAX_WINDOW_HOURS:
        raise ReporterError(f"USAGE_WINDOW_HOURS must be from 1 to {MAX_WINDOW_HOURS}")
    return Config(
        queue_url=values["USAGE_QUEUE_URL"],
        vendor_api_url=_checked_vendor_url(values["VENDOR_API_URL"]),
        secret_arn=values["SECRET_ARN"],
        dead_letter_queue_url=values["DEAD_LETTER_QUEUE_URL"],
        window_hours=window,
        max_receive_rounds=max(1, rounds),
        receive_wait_seconds=min(20, max(0, wait)),
    )


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str = field(repr=False)


def read_credentials(client: Any, secret_arn: str) -> Credentials:
    try:
        text = client.get_secret_value(SecretId=secret_arn)["SecretString"]
    except Exception as exc:
        raise ReporterError(f"cannot read the key secret ({error_name(exc)})") from None
    try:
        value = json.loads(text)
        access_key, secret_key = value["access_key"], value["secret_key"]
    except (TypeError, ValueError, KeyError):
        raise ReporterError('the key secret must be JSON {"access_key", "secret_key"}') from None
    if not (isinstance(access_key, str) and access_key and isinstance(secret_key, str) and secret_key):
        raise ReporterError('the key secret must be JSON {"access_key", "secret_key"}')
    return Credentials(access_key, secret_key)


class Budget:
    """Time left in this invocation: the Lambda context's, or DEFAULT_BUDGET_S without one."""

    def __init__(self, context: Any = None) -> None:
        getter = getattr(context, "get_remaining_time_in_millis", None)
        self._getter = getter if callable(getter) else None
        self._deadline = time.monotonic() + DEFAULT_BUDGET_S

    def remaining(self) -> float:
        if self._getter is not None:
            return self._getter() / 1000.0
        return self._deadline - time.monotonic()
