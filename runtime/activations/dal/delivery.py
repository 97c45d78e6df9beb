"""What an activation hands out: a manifest signature (KMS) and presigned artifact downloads (S3)."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from activations.models import SIGNATURE_ALGORITHM, ReleaseArtifact
from shared.aws import client, made_once, new_client, sdk_config
from shared.errors import ServiceError
from shared.timestamps import format_timestamp

DOWNLOAD_SECONDS = 900  # docs/protocol.md §4.1: at most 15 minutes
KMS_RAW_LIMIT = 4096  # KMS Sign takes at most 4096 bytes with MessageType RAW


@made_once
def presigning_client() -> Any:
    # SigV4 always: a KMS-encrypted object can only be fetched with a SigV4 presigned URL.
    config = sdk_config(
        signature_version="s3v4",
        connect_timeout=2,
        read_timeout=5,
        retries={"max_attempts": 3, "mode": "standard"},
    )
    return new_client("s3", config=config)


class ManifestSigner:
    def __init__(self, key_id: str, *, kms: Any = None) -> None:
        self._key_id = key_id
        self._kms = kms

    def sign(self, message: bytes) -> str:
        """Base64 of the RSASSA-PKCS1-v1_5 SHA-256 signature of `message` by the vendor key."""
        if len(message) > KMS_RAW_LIMIT:
            raise ServiceError(
                "The release manifest is too large to sign; the vendor must publish fewer artifacts."
            )
        try:
            answer = (self._kms or client("kms")).sign(
                KeyId=self._key_id,
                Message=message,
                MessageType="RAW",
                SigningAlgorithm=SIGNATURE_ALGORITHM,
            )
        except (ClientError, BotoCoreError) as exc:
            raise ServiceError("The manifest signing key is unavailable; retry later.") from exc
        return base64.b64encode(answer["Signature"]).decode("ascii")


class Downloads:
    def __init__(self, bucket: str, *, s3: Any = None) -> None:
        self._bucket = bucket
        self._s3 = s3

    def presign(self, artifact: ReleaseArtifact, now: datetime) -> dict[str, str]:
        """A GET of exactly this object version, valid for 15 minutes from `now`."""
        try:
            url = (self._s3 or presigning_client()).generate_presigned_url(
                "get_object",
                Params={"Bucket": self._bucket, "Key": artifact.key, "VersionId": artifact.version_id},
                ExpiresIn=DOWNLOAD_SECONDS,
            )
        except (ClientError, BotoCoreError) as exc:
            raise ServiceError("Download links cannot be made right now; retry later.") from exc
        return {"url": url, "expires_at": format_timestamp(now + timedelta(seconds=DOWNLOAD_SECONDS))}
