"""moto, made cheaper for the tests without changing what it checks.

After collection, when any collected test module imported moto, its DynamoDB transactions back
up each table once instead of once per item (`sandbox.moto_transactions`; the sandbox applies
the same patch to its own moto). Runs that collect no moto user do not pay for importing it.
"""

from __future__ import annotations

import sys

import pytest


def pytest_collection_finish(session: pytest.Session) -> None:
    if "moto" in sys.modules:
        from sandbox.moto_transactions import install

        install()
