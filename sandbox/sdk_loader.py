"""One botocore data loader per process, shared by every botocore session in it.

botocore gives each `Session` its own `Loader` (`botocore.session.create_loader`, registered as the
session's `data_loader` component), and the loader's cache (`instance_cache`) lives on that
instance. A new session therefore parses botocore's JSON data files again: `endpoints.json`
(about 1 MB) the first time it resolves an endpoint, then each service's `service-2`,
`endpoint-rule-set-1` and `paginators-1` as clients are made. In a long-lived process that makes
many sessions (the test workers, where moto resets boto3's default session each time it starts,
and the sandbox's server, which acts for many accounts) that parsing was about a tenth of all
the CPU a test run spends.

`install()` makes `create_loader` return one loader per data path (`AWS_DATA_PATH`), so later
sessions read the parsed data from the first one's cache. Within one session botocore already
hands the same cached objects to every client of it, on every thread; sharing them across
sessions is the same use. The data files are part of the installed botocore and do not change
while a process runs. A session with another data path still gets a loader of its own.

Not for the Lambda-like function workers: each is a fresh process with one session, as on Lambda,
so their cold start stays what Lambda's is.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_lock = threading.Lock()


def install() -> None:
    """Share one loader per data path among this process's botocore sessions (idempotent)."""
    import botocore.session

    with _lock:
        current = botocore.session.create_loader
        if getattr(current, "_vendstack_shared", False):
            return
        shared = _shared(current)
        botocore.session.create_loader = shared


def _shared(create_loader: Any) -> Any:
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
