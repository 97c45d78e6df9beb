"""moto's server finds a request's backend without listing its own package on every request.

moto 5.2's server (`DomainDispatcherApplication.get_backend_for_host`) first asks whether the
request's Host names a moto module, by calling `moto.backends.list_of_moto_modules()`: a
generator that lists moto's package directory and stats each of its ~180 entries. It does that
for every request, although the answer can only change if moto's installed files change. In the
sandbox's moto server that listing was about an eighth of the CPU moto spent dispatching.

`install()` replaces the generator by one that yields the same names from a listing taken once per
process (the only caller tests membership, `host in list_of_moto_modules()`).
`tests/integration/test_moto_speed.py` checks the names against moto's own listing. Idempotent;
the sandbox applies it before it starts moto (`sandbox.cheaper_moto`), and so does the test plugin
(`tests.plugins.moto_speed`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator


def install() -> None:
    """Patch `moto.backends.list_of_moto_modules` in this process (once)."""
    from moto import backends

    current = backends.list_of_moto_modules
    if getattr(current, "_vendstack", False):
        return
    listing = functools.cache(lambda: tuple(current()))

    @functools.wraps(current)
    def list_of_moto_modules() -> Iterator[str]:
        yield from listing()

    list_of_moto_modules._vendstack = True  # type: ignore[attr-defined]
    list_of_moto_modules.original = current  # type: ignore[attr-defined]
    backends.list_of_moto_modules = list_of_moto_modules
