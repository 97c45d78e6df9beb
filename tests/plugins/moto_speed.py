"""moto and botocore, made cheaper for the tests without changing what moto checks.

After collection, when any collected test module imported moto (and by the fixtures that start
moto: `aws_world`, `moto_url`), these are installed in this process (the sandbox's moto runs in
its own process and applies only the first):

- DynamoDB transactions back up each table once instead of once per item
  (`sandbox.moto_transactions`, tested in `tests/integration/test_moto_transactions.py`).
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
- moto's SQS send path (`send_message`, `_validate_message`, `Queue.add_message`) reads one
  attribute, `ContentBasedDeduplication`, through `queue.attributes`, which also counts the
  queue's visible, invisible and delayed messages (a clock read per message each): sending n
  messages costs n² clock reads. When the caller of `Queue.attributes` is one of those three
  functions (they only `.get("ContentBasedDeduplication")` from it: lines read in moto 5's
  source), the three counts are skipped (0) while the same dict is built; every other reader
  (GetQueueAttributes, CreateQueue's comparison) gets moto's own counts.

Runs that collect no moto user do not pay for importing it.
"""

from __future__ import annotations

import functools
import sys
import threading
from typing import Any

import pytest


def install() -> None:
    """Install the patches (idempotent)."""
    from sandbox.moto_transactions import install as install_transactions

    install_transactions()
    _memoise("moto.core.responses", "method_names_from_class", maxsize=None)
    _memoise("botocore.useragent", "sanitize_user_agent_string_component", maxsize=4096)
    for module in ("moto.core.responses", "moto.sqs.models"):
        _memoise(module, "camelcase_to_underscores", maxsize=4096)
    _retention_read_from_the_queue()
    _no_counting_in_the_send_path()


_COUNTS = (
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
)


def _no_counting_in_the_send_path() -> None:
    from moto.sqs import models

    queue = models.Queue
    if getattr(queue.attributes.fget, "_vendstack", False):  # type: ignore[attr-defined]
        return
    full = queue.attributes.fget  # type: ignore[attr-defined]
    skipping = threading.local()
    for name in _COUNTS:
        setattr(queue, name, property(_skippable(getattr(queue, name).fget, skipping)))
    readers = frozenset(
        (
            models.SQSBackend.send_message.__code__,
            models.SQSBackend._validate_message.__code__,
            queue.add_message.__code__,
        )
    )

    def attributes(self: Any) -> dict[str, Any]:
        if sys._getframe(1).f_code not in readers:
            return full(self)
        skipping.on = True
        try:
            return full(self)
        finally:
            skipping.on = False

    attributes._vendstack = True  # type: ignore[attr-defined]
    attributes.original = full  # type: ignore[attr-defined]
    queue.attributes = property(attributes)  # type: ignore[method-assign,assignment]


def _skippable(count: Any, skipping: threading.local) -> Any:
    def counted(self: Any) -> int:
        return 0 if getattr(skipping, "on", False) else count(self)

    return counted


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
