"""RSA public keys and RSASSA-PKCS1-v1_5 / SHA-256 verification, standard library only.

The one verifier of the customer side: the activation custom resource checks the vendor's signed
manifest with it (this module is inlined into its `index.py` by `activation/assemble.py`), and the
solution's license-token client checks RS256 tokens with it (zipped at the root of every solution
artifact as `rsa_verify.py` by `solution/package.py`). Both run where only the standard library
and boto3 can be counted on (the Lambda Python runtime has no `cryptography`), and both verify
what the vendor's KMS key signed with `RSASSA_PKCS1_V1_5_SHA_256` (AWS docs: "Sign", AWS KMS API
Reference, https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html); the public half
is the template's `VendorPublicKey`, base64 of the DER SubjectPublicKeyInfo that KMS
GetPublicKey returns (AWS docs: "GetPublicKey", AWS KMS API Reference).

Verification (RFC 8017 §8.2.2) is one modular exponentiation, `pow(s, e, n)`, compared with the
expected encoding EM = 0x00 01 FF..FF 00 || DigestInfo(SHA-256) || digest as integers: the part
before the digest depends only on the key's size, so it is built once per size. The comparison
needs no constant-time care: every input is public (the message, the signature, the key), so its
timing tells nothing that is not already known. With e = 65537 the exponentiation is 16
squarings and one multiplication modulo n; in CPython that is about 0.25 ms for RSA-2048 on an idle
machine, the whole cost of a verification (README, "Benchmarks").
"""

import base64
import binascii
import functools
import hashlib

_RSA_OID = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1 rsaEncryption
_RSA_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")  # RFC 8017 §9.2
RSA_MIN_BITS = 2048


def _rsa_der(data: bytes, pos: int, tag: int) -> tuple[bytes, int]:
    """One DER element with `tag` at `pos`: (content, end)."""
    if pos + 2 > len(data) or data[pos] != tag:
        raise ValueError("unexpected DER element")
    length, pos = data[pos + 1], pos + 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4 or pos + count > len(data):
            raise ValueError("bad DER length")
        length, pos = int.from_bytes(data[pos : pos + count], "big"), pos + count
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return data[pos : pos + length], pos + length


def rsa_public_key(spki_b64: str) -> tuple[int, int]:
    """(n, e) from base64 of a DER SubjectPublicKeyInfo of an RSA key of at least 2048 bits;
    `ValueError` saying what is wrong otherwise."""
    try:
        der = base64.b64decode(spki_b64 or "", validate=True)
        spki, end = _rsa_der(der, 0, 0x30)
        if end != len(der):
            raise ValueError("trailing bytes")
        algorithm, pos = _rsa_der(spki, 0, 0x30)
        oid, _ = _rsa_der(algorithm, 0, 0x06)
        if oid != _RSA_OID:
            raise ValueError("not an RSA key")
        bits, end = _rsa_der(spki, pos, 0x03)
        if end != len(spki) or not bits or bits[0] != 0:
            raise ValueError("bad BIT STRING")
        rsa_key, _ = _rsa_der(bits[1:], 0, 0x30)
        n_bytes, pos = _rsa_der(rsa_key, 0, 0x02)
        e_bytes, end = _rsa_der(rsa_key, pos, 0x02)
        if end != len(rsa_key):
            raise ValueError("trailing bytes in RSAPublicKey")
    except binascii.Error as exc:
        raise ValueError(f"not base64 ({exc})") from None
    n, e = int.from_bytes(n_bytes, "big"), int.from_bytes(e_bytes, "big")
    if n.bit_length() < RSA_MIN_BITS or e < 3 or e % 2 == 0:
        raise ValueError(f"not an RSA key of at least {RSA_MIN_BITS} bits")
    return n, e


@functools.lru_cache(maxsize=8)
def _rsa_em_prefix(size: int) -> int:
    """EM without the digest, as an integer shifted past the digest's 32 bytes (RFC 8017 §9.2)."""
    padding = b"\x00\x01" + b"\xff" * (size - len(_RSA_SHA256_DIGEST_INFO) - 32 - 3) + b"\x00"
    return int.from_bytes(padding + _RSA_SHA256_DIGEST_INFO, "big") << 256


def rsa_verifies(public_key: tuple[int, int], message: bytes, signature: bytes) -> bool:
    """RSASSA-PKCS1-v1_5 with SHA-256: does `signature` sign `message` under (n, e)?"""
    n, e = public_key
    size = (n.bit_length() + 7) // 8
    if len(signature) != size:
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:
        return False
    expected = _rsa_em_prefix(size) | int.from_bytes(hashlib.sha256(message).digest(), "big")
    return pow(s, e, n) == expected
