"""moto's KMS makes a key's private key when something first uses it, not when the key is created.

moto 5.2 generates an RSA-2048 private key in `Key.__init__` for *every* KMS key, whatever its
spec: a `SYMMETRIC_DEFAULT` or `HMAC_256` key gets one too (moto's `generate_private_key` falls
back to RSA-2048), and only `Sign`, `Verify` and `GetPublicKey` ever read it. Each costs 40-200 ms
of CPU; the vendor template alone creates several KMS keys when the sandbox boots, and the tests
create one for most customers' key vault.

`install()` makes `Key.private_key` a property over a deferred key: `Key.__init__` stores a holder
of moto's own generator and the key's spec, and the first read generates the key through moto's
function, once. Shallow copies of a key (moto's `ReplicateKey` uses `copy()`) share the holder, so
a replica signs with its primary's key, as with moto's eager key. What the key is and how it signs
are moto's; only the time it is made changes. `tests/integration/test_moto_speed.py` checks the
signatures and the replica. Idempotent; the sandbox applies it before it starts moto
(`sandbox.cheaper_moto`), and so does the test plugin (`tests.plugins.moto_speed`).
"""

from __future__ import annotations

import threading
from typing import Any


class _DeferredPrivateKey:
    def __init__(self, generate: Any, key_spec: str) -> None:
        self._generate, self._key_spec = generate, key_spec
        self._key: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._key is None:
                self._key = self._generate(self._key_spec)
            return self._key


def install() -> None:
    """Patch moto's KMS keys in this process (once)."""
    from moto.kms import models

    key_type: Any = models.Key
    if isinstance(key_type.__dict__.get("private_key"), property):
        return
    generate = models.generate_private_key

    def deferred(key_spec: str) -> _DeferredPrivateKey:
        return _DeferredPrivateKey(generate, key_spec)

    def read(self: Any) -> Any:
        value = self.__dict__["_vendstack_private_key"]
        return value.get() if isinstance(value, _DeferredPrivateKey) else value

    def write(self: Any, value: Any) -> None:
        self.__dict__["_vendstack_private_key"] = value

    deferred.original = generate  # type: ignore[attr-defined]
    models.generate_private_key = deferred  # type: ignore[assignment]
    key_type.private_key = property(read, write)
