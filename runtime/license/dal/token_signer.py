"""Signs license tokens with the platform's asymmetric KMS key (the manifest key, RSA 2048).

AWS docs: "Sign", AWS KMS API Reference (https://docs.aws.amazon.com/kms/latest/APIReference/
API_Sign.html): `MessageType=RAW` messages of up to 4096 bytes are hashed by KMS with the
algorithm's hash; `RSASSA_PKCS1_V1_5_SHA_256` is RS256 (RFC 7518 §3.3).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from license.logic.tokens import KMS_ALGORITHM
from shared.aws import client
from shared.errors import ServiceError


class TokenSigner:
    def __init__(self, key_id: str, *, kms: Any = None) -> None:
        self._key_id = key_id
        self._kms = kms

    def sign(self, message: bytes) -> bytes:
        try:
            answer = (self._kms or client("kms")).sign(
                KeyId=self._key_id, Message=message, MessageType="RAW", SigningAlgorithm=KMS_ALGORITHM
            )
        except (ClientError, BotoCoreError) as exc:
            raise ServiceError("The license signing key is unavailable; retry later.") from exc
        return bytes(answer["Signature"])
