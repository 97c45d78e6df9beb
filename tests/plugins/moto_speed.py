"""moto and botocore, made cheaper for the tests without changing what moto checks.

After collection, when any collected test module imported moto, three things are installed in
this process (the sandbox's moto runs in its own process and applies only the first):

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

Runs that collect no moto user do not pay for importing it.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import pytest


def install() -> None:
    """Install the three patches (idempotent)."""
    from sandbox.moto_transactions import install as install_transactions

    install_transactions()
    _memoise("moto.core.responses", "method_names_from_class", maxsize=None)
    _memoise("botocore.useragent", "sanitize_user_agent_string_component", maxsize=4096)


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
