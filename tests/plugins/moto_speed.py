"""moto and botocore made cheaper for the tests, without changing what moto checks.

After collection, when any collected test module imported moto (and by the fixtures that start
moto: `aws_world`, `moto_url`), this process gets the set the sandbox applies to its own moto,
`sandbox.cheaper_moto`, which lists them: transactions, update expressions, moto's server
dispatch, its serializer, KMS keys, botocore sessions (moto resets boto3's default session each
time it starts, so the tests make hundreds of sessions), the memoised pure functions
(`sandbox.moto_memos`) and SQS's retention check (`sandbox.moto_sqs`). Each module says why its
answers are moto's; `tests/integration/test_moto_speed.py` compares them.

Runs that collect no moto user do not pay for importing it.
"""

from __future__ import annotations

import sys

import pytest


def install() -> None:
    """Install the patches (idempotent)."""
    from sandbox.cheaper_moto import install as install_cheaper_moto

    install_cheaper_moto()


def pytest_collection_finish(session: pytest.Session) -> None:
    if "moto" in sys.modules:
        install()
