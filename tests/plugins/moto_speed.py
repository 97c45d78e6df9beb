"""moto and botocore, made cheaper for the tests without changing what moto checks.

After collection, when any collected test module imported moto (and by the fixtures that start
moto: `aws_world`, `moto_url`), these are installed in this process:

- The set the sandbox applies to its own moto (`sandbox.cheaper_moto`, which lists them:
  transactions, update expressions, moto's server dispatch, KMS keys, botocore sessions; moto
  resets boto3's default session each time it starts, so the tests make hundreds of sessions).
- `moto.core.utils.method_names_from_class` is memoised per class. moto calls it on *every*
  dispatched request (`BaseResponse.call_action`) to ask whether the action names a method of the
  response class; it walks the whole class with `inspect.getmembers`, about 0.6 ms a call. Its
  result is a pure function of the class's attributes, and moto's response classes are defined
  once at import and never altered (no test patches a moto response class; the tests patch
  backends), so the memoised list is the list moto would compute.
- `botocore.useragent.sanitize_user_agent_string_component` is memoised. botocore builds the
  User-Agent twice per call, sanitising a dozen fixed strings character by character each time;
  the function is a pure map of (string, flag) to string, so the cached answer is the same
  string. (The header is read: moto takes the region from it.)
- `moto.core.utils.camelcase_to_underscores` is memoised where moto's request dispatch and its
  SQS models call it (once per request, and once per queue attribute each time a queue's
  attributes are listed): a pure map of a name to its snake_case form.
- moto's SQS `receive_message` asks, for every message it hands out, whether the message is
  still within the queue's retention period, by listing *all* the queue's attributes three times
  (`get_queue_attributes(["MessageRetentionPeriod"])`); listing them counts the queue's visible,
  invisible and delayed messages. Receiving n messages from a queue of n thus costs n² clock
  reads: 1,000 messages cost seconds. The patched check reads the one attribute those listings
  return, `queue.message_retention_period` (the listing is `getattr(queue,
  camelcase_to_underscores(name))`), and compares it with the same clock in the same way.

Runs that collect no moto user do not pay for importing it.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import pytest


def install() -> None:
    """Install the patches (idempotent)."""
    from sandbox.cheaper_moto import install as install_cheaper_moto

    install_cheaper_moto()
    _memoise("moto.core.responses", "method_names_from_class", maxsize=None)
    _memoise("botocore.useragent", "sanitize_user_agent_string_component", maxsize=4096)
    for module in ("moto.core.responses", "moto.sqs.models"):
        _memoise(module, "camelcase_to_underscores", maxsize=4096)
    _retention_read_from_the_queue()


def _retention_read_from_the_queue() -> None:
    from moto.sqs import models

    backend = models.SQSBackend
    if getattr(backend.is_message_valid_based_on_retention_period, "_vendstack", False):
        return

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_period = self.get_queue(queue_name).message_retention_period
        retain_until = retention_period + message.sent_timestamp / 1000
        return not retain_until <= models.unix_time()

    is_message_valid_based_on_retention_period._vendstack = True  # type: ignore[attr-defined]
    is_message_valid_based_on_retention_period.original = backend.is_message_valid_based_on_retention_period  # type: ignore[attr-defined]
    backend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]


def _memoise(module_name: str, name: str, *, maxsize: int | None) -> None:
    """Replace `module.name` (the name the callers look up at call time) by a cached copy."""
    __import__(module_name)
    module: Any = sys.modules[module_name]
    original = getattr(module, name)
    if hasattr(original, "cache_info"):
        return
    setattr(module, name, functools.lru_cache(maxsize=maxsize)(original))


def pytest_collection_finish(session: pytest.Session) -> None:
    if "moto" in sys.modules:
        install()
