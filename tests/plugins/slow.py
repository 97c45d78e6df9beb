"""`@pytest.mark.slow(reason=...)`: a test that takes seconds even on an idle machine, and why.

`make test` and CI run every slow test; `pytest -m "not slow"` leaves them out of a quick loop
while you work. A slow mark without its reason stops the collection, so the suite keeps saying why
each of its slow tests is slow.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    unexplained = sorted(
        {
            item.nodeid.split("::")[0] + "::" + item.originalname
            for item in items
            for mark in item.iter_markers("slow")
            if not str(mark.kwargs.get("reason", "")).strip()
        }
    )
    if unexplained:
        raise pytest.UsageError("slow without a reason (slow(reason=...)): " + ", ".join(unexplained))
