"""botocore sessions made cheap in a long-lived process that makes many of them.

A botocore `Session` is expensive to make, and more so its first client. Three costs are paid
again by every session, for answers that are the same for all of them:

- **The data files.** Each session has its own `Loader` (`botocore.session.create_loader`, the
  session's `data_loader` component), and the loader's cache (`instance_cache`) lives on that
  instance. A new session therefore parses botocore's JSON data files again: `endpoints.json`
  (about 1 MB) the first time it resolves an endpoint, then each service's `service-2`,
  `endpoint-rule-set-1` and `paginators-1` as clients are made: about 150 ms for a session and its
  first DynamoDB client.
- **Event-name aliases.** Each session's `EventAliaser` (and each client's copy of it) keeps its own
  cache of how an event name is rewritten by botocore's `EVENT_ALIASES`; registering botocore's
  ~130 built-in handlers fills it again, by splitting every name against every alias.
- **Handler signatures.** Each registration checks that the handler accepts `**kwargs`
  (`botocore.compat.accepts_kwargs`, through `inspect`), for the same module-level functions.

In the test workers (moto resets boto3's default session each time it starts, so the tests make
hundreds of sessions) and in the sandbox's server (which acts for many accounts) this was about a
tenth of all the CPU a test run spends. `install()` shares the answers:

- `create_loader` returns one loader per data path (`AWS_DATA_PATH`), so later sessions read the
  parsed data from the first one's cache. Within one session botocore already hands the same cached
  objects to every client, on every thread; sharing them across sessions is the same use. The
  data files are part of the installed botocore and do not change while a process runs. A session
  with another data path gets a loader of its own.
- Every `EventAliaser` whose aliases equal botocore's `EVENT_ALIASES` shares one name cache (its
  entries are a pure function of the name and those aliases); one with other aliases keeps its own.
- `accepts_kwargs` is memoised for plain functions (module-level handlers live as long as the
  process); bound methods and other callables are inspected each time, as before.

`tests/integration/test_moto_speed.py` checks each against botocore's own. Not for the Lambda-like
function workers: each is a fresh process with one session, as on Lambda, so their cold start
stays what Lambda's is.
"""

from __future__ import annotations

import functools
import threading
import types
from typing import Any

_lock = threading.Lock()


def install() -> None:
    """Share the three answers among this process's botocore sessions (idempotent)."""
    import botocore.session
    from botocore import hooks

    with _lock:
        if getattr(botocore.session.create_loader, "_vendstack_shared", False):
            return
        botocore.session.create_loader = _shared_loaders(botocore.session.create_loader)
        _share_alias_cache(hooks)
        hooks.accepts_kwargs = _memoised_for_functions(hooks.accepts_kwargs)  # type: ignore[attr-defined]


def _shared_loaders(create_loader: Any) -> Any:
    loaders: dict[str | None, Any] = {}

    @functools.wraps(create_loader)
    def create_shared_loader(search_path_string: str | None = None) -> Any:
        with _lock:
            if search_path_string not in loaders:
                loaders[search_path_string] = create_loader(search_path_string)
            return loaders[search_path_string]

    create_shared_loader._vendstack_shared = True  # type: ignore[attr-defined]
    create_shared_loader.original = create_loader  # type: ignore[attr-defined]
    return create_shared_loader


def _share_alias_cache(hooks: Any) -> None:
    aliaser = hooks.EventAliaser
    original_init = aliaser.__init__
    shared: dict[str, str] = {}

    @functools.wraps(original_init)
    def __init__(self: Any, event_emitter: Any, event_aliases: Any = None) -> None:
        original_init(self, event_emitter, event_aliases)
        if self._event_aliases == hooks.EVENT_ALIASES:
            self._alias_name_cache = shared

    __init__.original = original_init  # type: ignore[attr-defined]
    aliaser.__init__ = __init__


def _memoised_for_functions(accepts_kwargs: Any) -> Any:
    cached = functools.lru_cache(maxsize=None)(accepts_kwargs)

    @functools.wraps(accepts_kwargs)
    def memoised(func: Any) -> Any:
        if type(func) is types.FunctionType:
            return cached(func)
        return accepts_kwargs(func)

    memoised.original = accepts_kwargs  # type: ignore[attr-defined]
    return memoised
