"""moto's DynamoDB transactions back up each table once, not once per item: the same rollback.

moto 5.2's `TransactWriteItems` deep-copies a table for *every item* of the transaction that
names it, before applying any of them, and keeps the last copy as the backup it restores when
the transaction is cancelled. The copies are identical (nothing has changed yet), so one copy per
table is the same backup. With 100 items (DynamoDB's limit) on a table of a few thousand items,
the per-item copies cost seconds of CPU per call; they dominated the usage tests and the
sandbox's ingestion. Rollback semantics are unchanged: a cancelled transaction still restores
every table it named (tested in `tests/integration/test_moto_transactions.py`).

The backup also shares a table's stream records instead of copying them. moto keeps every record
of a table's stream (`StreamShard.items`, never trimmed while nothing consumes it) and deep-copied
the whole history into every backup, so in the sandbox, where both of the platform's tables have
streams, each transaction cost more than the one before. A `StreamRecord` is never changed after
it is made (it is built from the item images at creation; `StreamShard.get` and the streams API only
read its `record`), so the backup's list holds the same records: a new list, as before, which a
rollback puts back with the table. The records a cancelled transaction appended go with the live
table, as before.

`install()` is idempotent and called by the sandbox before it starts moto, and by the test
plugin (`tests.plugins.moto_speed`).
"""

from __future__ import annotations

import copy
import functools
from contextvars import ContextVar
from typing import Any

_backups: ContextVar[dict[int, Any] | None] = ContextVar("vendstack_moto_table_backups", default=None)


class _CopyEachTableOnce:
    """Stands in for the `copy` module inside moto's DynamoDB backend: while a transaction runs,
    a `Table` is deep-copied at most once; every other copy is the standard library's."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        backups = _backups.get()
        if backups is None or memo is not None or not isinstance(value, self._table_type):
            return copy.deepcopy(value, memo)
        if id(value) not in backups:
            backups[id(value)] = copy.deepcopy(value, _stream_records_kept(value))
        return backups[id(value)]

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _stream_records_kept(table: Any) -> dict[int, Any] | None:
    """A deepcopy memo that maps each of the table's stream records to itself (so the copy shares
    them), or None when the table has no stream."""
    shard = getattr(table, "stream_shard", None)
    if shard is None or not shard.items:
        return None
    return {id(record): record for record in shard.items}


def install() -> None:
    """Patch moto's DynamoDB backend in this process (once)."""
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    backend = models.DynamoDBBackend
    if getattr(backend.transact_write_items, "_vendstack_once_per_table", False):
        return
    original = backend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        token = _backups.set({})
        try:
            return original(self, transact_items)
        finally:
            _backups.reset(token)

    transact_write_items._vendstack_once_per_table = True  # type: ignore[attr-defined]
    models.copy = _CopyEachTableOnce(Table)  # type: ignore[assignment]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]
