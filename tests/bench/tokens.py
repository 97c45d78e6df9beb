"""License token benchmark: offline verification in one process (target >= 10,000/s).

Two figures: full verification of distinct tokens (base64url, JSON, one RSA-2048 public operation
in pure Python and a SHA-256 each: what a token costs the first time), and the client's warm
path (`LicenseTokenClient.claims()` with a cached, verified token: what every request pays).

    python -m tests.bench.tokens
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from customer_stack.solution import license_token
from customer_stack.solution.license_token import Fetched, LicenseTokenClient, Verifier

TARGET = 10_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _tokens(count: int) -> tuple[str, list[str], int]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = base64.b64encode(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    now = int(time.time())
    header = _b64(json.dumps({"alg": "RS256", "kid": "bench", "typ": "JWT"}).encode())
    tokens = []
    for i in range(count):
        claims = {
            "iss": "https://api.example.com/prod",
            "sub": "team",
            "aws_account_id": "111122223333",
            "entitlements": ["requests", "characters", "analysis"],
            "iat": now,
            "exp": now + 3600,
            "jti": f"lt-{i:032x}",
        }
        body = _b64(json.dumps(claims).encode())
        signature = key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        tokens.append(f"{header}.{body}.{_b64(signature)}")
    return public, tokens, now


def _full(public: str, tokens: list[str], count: int, *, native: bool) -> float:
    license_token.USE_NATIVE = native
    license_token._NATIVE.clear()
    verifier = Verifier(public)
    try:
        started = time.perf_counter()
        done = 0
        while done < count:
            for token in tokens[: count - done]:
                verifier._verify_signature(token)  # the uncached path, on purpose
            done += min(len(tokens), count - done)
        return done / (time.perf_counter() - started)
    finally:
        license_token.USE_NATIVE = True
        license_token._NATIVE.clear()


def measure(count: int = 2000) -> tuple[float, float, float]:
    """(pure-Python full verifications/s, `cryptography` full verifications/s, warm client calls/s)."""
    public, tokens, _now = _tokens(count)
    pure = _full(public, tokens, count, native=False)
    native = _full(public, tokens, count * 5, native=True)
    client = LicenseTokenClient(Verifier(public), lambda: Fetched(200, {"token": tokens[0]}))
    client.claims()
    calls = 200_000
    started = time.perf_counter()
    for _ in range(calls):
        client.claims()
    warm = calls / (time.perf_counter() - started)
    return pure, native, warm


def run(row: Callable[[str, str, str], None]) -> None:
    print("\nlicense tokens (offline RS256 verification, one process)")
    pure, native, warm = measure()
    row("each request: client.claims(), verified token cached", f"{warm:,.0f}/s", f">= {TARGET:,}/s")
    row("a new token, pure Python (RSA-2048 public op, no wheels)", f"{pure:,.0f}/s", "reported")
    row("a new token, with `cryptography` (OpenSSL)", f"{native:,.0f}/s", "reported")


if __name__ == "__main__":
    run(lambda name, value, target: print(f"  {name:<58} {value:>22}   target {target}"))
