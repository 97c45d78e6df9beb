"""License tokens signed here as KMS signs them (RSASSA-PKCS1-v1_5 SHA-256, a local RSA key from
`cryptography`, test-only), and the key's public half as the template carries it. Plain helpers."""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

LIFETIME = 3600
_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_B64 = base64.b64encode(
    _KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(iat: int, *, lifetime: int = LIFETIME, entitlements=("requests", "analysis"), key=_KEY) -> str:
    header = _b64(json.dumps({"alg": "RS256", "kid": "k", "typ": "JWT"}).encode())
    claims = {
        "iss": "https://api.example.com/prod",
        "sub": "team-1",
        "aws_account_id": "111122223333",
        "entitlements": list(entitlements),
        "iat": iat,
        "exp": iat + lifetime,
        "jti": f"lt-{iat}",
    }
    body = _b64(json.dumps(claims).encode())
    signature = key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{body}.{_b64(signature)}"
