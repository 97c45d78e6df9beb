"""Each test process collects cyclic garbage less often (`sandbox.gc_thresholds`, which says why
and what it measured): installed once the tests are collected, before the first one runs."""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    from sandbox.gc_thresholds import install

    install()
