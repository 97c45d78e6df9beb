"""Verify the signature of an Amazon SNS message (the legacy Marketplace notifications).

AWS docs: "Verifying the signatures of Amazon SNS messages" (Amazon SNS Developer Guide,
https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html):

- the string to sign is `<key>\\n<value>\\n` for, in this order, `Message`, `MessageId`, `Subject`
  (only when present), `Timestamp`, `TopicArn`, `Type` (confirmations: `Message`, `MessageId`,
  `SubscribeURL`, `Timestamp`, `Token`, `TopicArn`, `Type`);
- `SignatureVersion` 1 is SHA1withRSA, 2 is SHA256withRSA (RSASSA-PKCS1-v1_5), `Signature` Base64;
- the certificate comes from `SigningCertURL`, which must be https on an SNS host
  (`sns.<region>.amazonaws.com`, as AWS's own validators check: `^sns\\.[a-zA-Z0-9-]{3,}\\.amazonaws
  \\.com(\\.cn)?$`, path ending `.pem`); anything else is refused.

Pure Python (a minimal DER reader for the certificate's RSA key and validity; RSA verification
is one modular exponentiation), so the function needs no native package. Fetching and caching
the certificate is `subscriptions.dal.sns_certificates`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
CERT_HOST = re.compile(r"^sns\.[a-zA-Z0-9-]{3,}\.amazonaws\.com(\.cn)?$")
# DigestInfo prefixes of EMSA-PKCS1-v1_5 (RFC 8017 §9.2, note 1).
DIGEST_INFO = {
    "1": (hashlib.sha1, bytes.fromhex("3021300906052b0e03021a05000414")),
    "2": (hashlib.sha256, bytes.fromhex("3031300d060960864801650304020105000420")),
}
RSA_ENCRYPTION_OID = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1


class UnverifiedMessage(ValueError):
    """The message's signature or its certificate URL is not SNS's: never apply it."""


@dataclass(frozen=True)
class RsaCertificate:
    modulus: int
    exponent: int
    not_before: datetime
    not_after: datetime


def string_to_sign(message: dict[str, Any]) -> str:
    """The canonical string SNS signed (the key list depends on `Type`)."""
    kind = message.get("Type")
    keys = NOTIFICATION_KEYS if kind == "Notification" else CONFIRMATION_KEYS
    parts = []
    for key in keys:
        if key == "Subject" and key not in message:
            continue
        value = message.get(key)
        if not isinstance(value, str):
            raise UnverifiedMessage(f"the SNS message lacks {key}")
        parts.append(f"{key}\n{value}\n")
    return "".join(parts)


def check_cert_url(url: Any) -> str:
    """The certificate URL if it is https on an SNS host with a `.pem` path; else refused."""
    if not isinstance(url, str) or len(url) > 1024:
        raise UnverifiedMessage("the SNS message has no SigningCertURL")
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise UnverifiedMessage("SigningCertURL is not https")
    if parts.username or parts.password or parts.port not in (None, 443):
        raise UnverifiedMessage("SigningCertURL carries credentials or a port")
    if not CERT_HOST.match(parts.hostname or ""):
        raise UnverifiedMessage("SigningCertURL is not on an SNS host")
    if not parts.path.endswith(".pem") or parts.query or parts.fragment:
        raise UnverifiedMessage("SigningCertURL is not a .pem certificate")
    return url


def check_topic(message: dict[str, Any], product_code: str) -> None:
    """Only this product's Marketplace topics (AWS docs: the SNS guide says to refuse unexpected
    `TopicArn`s; the Marketplace topics are `aws-mp-{subscription,entitlement}-notification-
    <product code>` in us-east-1, "Amazon SNS notifications for SaaS products")."""
    topics = r"^arn:aws:sns:us-east-1:\d{12}:aws-mp-(subscription|entitlement)-notification-"
    pattern = topics + re.escape(product_code) + "$"
    if not product_code or not re.match(pattern, str(message.get("TopicArn") or "")):
        raise UnverifiedMessage("the SNS message is not from this product's Marketplace topics")


# ------------------------------------------------------------------------------ DER


def _read(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at `at`."""
    if at + 2 > len(data):
        raise ValueError("truncated DER")
    tag, length = data[at], data[at + 1]
    at += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or at + count > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[at : at + count], "big")
        at += count
    if at + length > len(data):
        raise ValueError("truncated DER")
    return tag, at, at + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    found = []
    while start < end:
        tag, content, stop = _read(data, start)
        found.append((tag, content, stop))
        start = stop
    return found


def _time(data: bytes, tag: int, start: int, end: int) -> datetime:
    text = data[start:end].decode("ascii")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ
        moment = datetime.strptime(text, "%y%m%d%H%M%SZ")
    elif tag == 0x18:  # GeneralizedTime YYYYMMDDHHMMSSZ
        moment = datetime.strptime(text, "%Y%m%d%H%M%SZ")
    else:
        raise ValueError("bad certificate time")
    return moment.replace(tzinfo=UTC)


def parse_certificate(pem: str | bytes) -> RsaCertificate:
    """The RSA public key and validity of a PEM X.509 certificate."""
    text = pem.decode("ascii", "replace") if isinstance(pem, bytes) else pem
    match = re.search(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", text, re.S)
    if match is None:
        raise UnverifiedMessage("the signing certificate is not a PEM certificate")
    try:
        der = base64.b64decode("".join(match.group(1).split()), validate=True)
        _tag, start, end = _read(der, 0)
        tbs_tag, tbs_start, tbs_end = _children(der, start, end)[0]
        fields = _children(der, tbs_start, tbs_end)
        if fields and fields[0][0] == 0xA0:  # [0] EXPLICIT version
            fields = fields[1:]
        # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
        validity, spki = fields[3], fields[5]
        not_before, not_after = (_time(der, *t) for t in _children(der, validity[1], validity[2]))
        algorithm, key_bits = _children(der, spki[1], spki[2])
        oid = _children(der, algorithm[1], algorithm[2])[0]
        if der[oid[1] : oid[2]] != RSA_ENCRYPTION_OID or key_bits[0] != 0x03:
            raise UnverifiedMessage("the signing certificate's key is not RSA")
        _t, key_start, key_end = _read(der, key_bits[1] + 1)  # skip the unused-bits byte
        modulus, exponent = (
            int.from_bytes(der[s:e], "big") for _tag2, s, e in _children(der, key_start, key_end)
        )
    except (ValueError, IndexError, binascii.Error, UnicodeDecodeError):
        raise UnverifiedMessage("the signing certificate cannot be read") from None
    if tbs_tag != 0x30 or modulus.bit_length() < 2048:
        raise UnverifiedMessage("the signing certificate's key is too weak")
    return RsaCertificate(modulus, exponent, not_before, not_after)


def verify(message: dict[str, Any], certificate: RsaCertificate, now: datetime) -> None:
    """Raise `UnverifiedMessage` unless `message` carries SNS's valid signature under `certificate`."""
    version = message.get("SignatureVersion")
    if version not in DIGEST_INFO:
        raise UnverifiedMessage("the SNS message is unsigned or has an unknown SignatureVersion")
    if not certificate.not_before <= now <= certificate.not_after:
        raise UnverifiedMessage("the signing certificate is not valid now")
    try:
        signature = base64.b64decode(str(message.get("Signature") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise UnverifiedMessage("the SNS Signature is not Base64") from None
    size = (certificate.modulus.bit_length() + 7) // 8
    if len(signature) != size:
        raise UnverifiedMessage("the SNS signature does not match")
    digest, prefix = DIGEST_INFO[version]
    suffix = prefix + digest(string_to_sign(message).encode("utf-8")).digest()
    expected = b"\x00\x01" + b"\xff" * (size - len(suffix) - 3) + b"\x00" + suffix
    value = int.from_bytes(signature, "big")
    if value >= certificate.modulus:
        raise UnverifiedMessage("the SNS signature does not match")
    recovered = pow(value, certificate.exponent, certificate.modulus).to_bytes(size, "big")
    if not hmac.compare_digest(recovered, expected):
        raise UnverifiedMessage("the SNS signature does not match")
