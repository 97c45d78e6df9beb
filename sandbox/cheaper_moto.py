"""What makes moto and botocore cheaper in a long-lived process, without changing their answers:
the set the sandbox applies to its own process before it starts moto, and the test plugin
(`tests.plugins.moto_speed`) in each test process that uses moto.

- DynamoDB transactions back up each table once, not once per item (`moto_transactions`).
- Update expressions are parsed once per text, and moto's validators build their handler maps
  once (`moto_expressions`).
- moto's server lists its own package once, not on every request (`moto_server_dispatch`).
- moto's response serializer remembers each member's candidate names (`moto_serializer`).
- A KMS key's private key is made when first used, not at creation (`moto_kms`).
- botocore sessions share their data files and caches (`sdk_sessions`).
- Pure functions moto and botocore call for every request (moto's action lookup, snake_case
  names, botocore's User-Agent sanitising, the JSONPath parser of EventBridge's targets) are
  memoised (`moto_memos`).
- SQS checks a message's retention period without listing the queue's attributes (`moto_sqs`).

Each module says why its patch answers as the original does; `tests/integration/test_moto_speed.py`
and `test_moto_transactions.py` compare them.
"""

from __future__ import annotations

from sandbox import (
    moto_expressions,
    moto_kms,
    moto_memos,
    moto_serializer,
    moto_server_dispatch,
    moto_sqs,
    moto_transactions,
    sdk_sessions,
)


def install() -> None:
    """Apply every patch in this process (each is idempotent)."""
    moto_transactions.install()
    moto_expressions.install()
    moto_server_dispatch.install()
    moto_serializer.install()
    moto_kms.install()
    sdk_sessions.install()
    moto_memos.install()
    moto_sqs.install()
