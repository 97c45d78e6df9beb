"""License token benchmark: offline verification in one process (target >= 10,000/s).

Full verification of distinct tokens (form, header, one RSA-2048 public operation and a SHA-256,
the claims and their expiry: what a token costs the first time the client sees it), side by side
for the two paths the client can take: `cryptography` (OpenSSL) when the artifact carries it, the
standard library (`customer_stack/rsa_verify.py`, CPython's `pow`) when it does not. Then the
client's warm path (`LicenseTokenClient.claims()` with a cached, verified token: what every
request pays), and `pow` alone, the standard-library path's ceiling.

    python -m tests.bench.tokens
"""

from __future__ import annotations

import base64
import json
import os
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


Rate = tuple[float, float]  # (per second of the process's CPU time, per second of wall time)


def _rate(count: int, work: Callable[[], None]) -> Rate:
    """Both rates of `work`: CPU time is what one process on a core of its own achieves (the
    machine is shared, so wall time also counts the time other processes held the core)."""
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return count / (time.process_time() - cpu), count / (time.perf_counter() - wall)


def _full(public: str, tokens: list[str], now: int, *, native: bool) -> Rate:
    """Distinct tokens per second, each fully verified as the client does it the first time it
    sees a token (`Verifier.claims`: form, header, signature, claims, expiry), on a fresh
    verifier so no token is already known."""
    license_token.USE_NATIVE = native
    license_token._NATIVE.clear()
    try:
        verifier = Verifier(public)

        def verify_all() -> None:
            for token in tokens:
                verifier.claims(token, now)

        return _rate(len(tokens), verify_all)
    finally:
        license_token.USE_NATIVE = None  # the default again: `cryptography` only inside the artifact
        license_token._NATIVE.clear()


def measure(count: int = 4000) -> tuple[Rate, Rate, Rate]:
    """(standard library, `cryptography`, warm client calls), each the best of three
    alternating rounds (the machine is shared)."""
    public, tokens, now = _tokens(count)
    pure, native = [], []
    for _ in range(3):
        pure.append(_full(public, tokens[: count // 4], now, native=False))
        native.append(_full(public, tokens, now, native=True))
    client = LicenseTokenClient(Verifier(public), lambda: Fetched(200, {"token": tokens[0]}))
    client.claims()
    calls = 200_000

    def warm_calls() -> None:
        for _ in range(calls):
            client.claims()

    return max(pure), max(native), _rate(calls, warm_calls)


def _shown(rate: Rate) -> str:
    return f"{rate[0]:,.0f}/s ({rate[1]:,.0f}/s wall)"


def run(row: Callable[[str, str, str], None]) -> None:
    print("\nlicense tokens (offline RS256 verification, one process; per CPU second, then wall)")
    pure, native, warm = measure()
    met = "met" if native[0] >= TARGET else "NOT met"
    row(
        "new tokens, fully verified, with `cryptography` (OpenSSL)",
        _shown(native),
        f">= {TARGET:,}/s ({met})",
    )
    pure_met = "met" if pure[0] >= TARGET else "not met: CPython's pow"
    row("new tokens, fully verified, standard library only", _shown(pure), f">= {TARGET:,}/s ({pure_met})")
    row("each request: client.claims(), verified token cached", _shown(warm), f">= {TARGET:,}/s")
    row("(RSA-2048 pow(s, 65537, n) alone, CPython)", _shown(_pow_rate()), "the standard library's ceiling")


def _pow_rate(count: int = 1000) -> Rate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_numbers()
    s = int.from_bytes(os.urandom(255), "big")  # a random value below n, like a signature

    def powers() -> None:
        for _ in range(count):
            pow(s, key.e, key.n)

    return _rate(count, powers)


if __name__ == "__main__":
    run(lambda name, value, target: print(f"  {name:<58} {value:>32}   target {target}"))
