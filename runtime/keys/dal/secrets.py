"""Secret keys derived on demand from the KMS HMAC key: nothing secret is ever stored.

secret = "vsSK_" + base64url_nopad(GenerateMac(HMAC_SHA_256, "vs1-secret|<access_key>|<salt>"))

The salt is random per key and stored in the key item; it is not secret. Only a principal
allowed `kms:GenerateMac` on the key can turn an access key and salt into its secret.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.aws import client
from shared.errors import ServiceError

SECRET_PREFIX = "vsSK_"  # noqa: S105 - a public prefix, not a secret
KDF = "vs1"
CACHE_SECONDS = 300.0


def mac_message(access_key: str, salt: str) -> bytes:
    return f"vs1-secret|{access_key}|{salt}".encode()


def secret_from_mac(mac: bytes) -> str:
    return SECRET_PREFIX + base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


class SecretDeriver:
    """Derives secrets with KMS; keeps each in memory for at most `ttl` seconds."""

    def __init__(
        self,
        kms_key_id: str,
        *,
        kms: Any = None,
        ttl: float = CACHE_SECONDS,
        max_entries: int = 4096,
        clock=time.monotonic,
    ) -> None:
        self._key_id = kms_key_id
        self._kms = kms
        self._ttl = min(ttl, CACHE_SECONDS)
        self._max_entries = max_entries
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, str]] = {}

    def derive(self, access_key: str, salt: str, *, use_cache: bool = True) -> str:
        now = self._clock()
        entry = self._cache.get((access_key, salt)) if use_cache else None
        if entry is not None and entry[0] > now:
            return entry[1]
        secret = self._generate(access_key, salt)
        if use_cache:
            if len(self._cache) >= self._max_entries:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                if len(self._cache) >= self._max_entries:
                    self._cache.clear()
            self._cache[(access_key, salt)] = (now + self._ttl, secret)
        return secret

    def clear(self) -> None:
        self._cache.clear()

    def _generate(self, access_key: str, salt: str) -> str:
        kms = self._kms or client("kms")
        try:
            answer = kms.generate_mac(
                KeyId=self._key_id, MacAlgorithm="HMAC_SHA_256", Message=mac_message(access_key, salt)
            )
        except (ClientError, BotoCoreError) as exc:
            raise ServiceError("The key service is unavailable; retry later.") from exc
        return secret_from_mac(answer["Mac"])
