"""Pure functions that moto and botocore call for every request, memoised.

Each answer depends only on the arguments, so the cached answer is the one the function would
compute again:

- `moto.core.responses.method_names_from_class`: moto asks it on *every* dispatched request
  (`BaseResponse.call_action`) whether the action names a method of the response class, and it
  walks the whole class with `inspect.getmembers` (about 0.6 ms a call). Its answer depends only
  on the class's attributes; moto defines its response classes once at import and nothing here
  alters them (the tests patch backends, never a response class).
- `moto.core.utils.camelcase_to_underscores`, where moto's request dispatch and its SQS models look
  it up (once per request, and once per queue attribute each time a queue's attributes are
  listed): a name and its snake_case form.
- `botocore.useragent.sanitize_user_agent_string_component`: botocore builds the User-Agent twice
  per call, sanitising a dozen fixed strings character by character each time; a map of
  (string, flag) to string. (moto reads the header: it takes the region from it.)
- `jsonpath_ng.ext.parse`, which moto's EventBridge calls for every event it delivers to a
  target, eight times (the default input paths `$.id`, `$.detail`…), and which builds a new
  PLY parser each time: about 7 ms an event. The parsed path is never changed by `find`, so one
  parse per text serves every event.

Each replaces the name its callers look up at call time. `tests/integration/test_moto_speed.py`
compares the answers with the originals (`__wrapped__`). Idempotent; the sandbox applies it before
it starts moto (`sandbox.cheaper_moto`), and so does the test plugin (`tests.plugins.moto_speed`).
"""

from __future__ import annotations

import functools
import sys
from typing import Any


def install() -> None:
    """Memoise each function where its callers look it up (once)."""
    _memoise("moto.core.responses", "method_names_from_class", maxsize=None)
    _memoise("botocore.useragent", "sanitize_user_agent_string_component", maxsize=4096)
    for module in ("moto.core.responses", "moto.sqs.models"):
        _memoise(module, "camelcase_to_underscores", maxsize=4096)
    _memoise("jsonpath_ng.ext", "parse", maxsize=256)


def _memoise(module_name: str, name: str, *, maxsize: int | None) -> None:
    """Replace `module.name` (the name the callers look up at call time) by a cached copy."""
    __import__(module_name)
    module: Any = sys.modules[module_name]
    original = getattr(module, name)
    if hasattr(original, "cache_info"):
        return
    setattr(module, name, functools.lru_cache(maxsize=maxsize)(original))
