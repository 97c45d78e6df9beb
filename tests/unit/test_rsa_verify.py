"""The customer side's one RSA verifier (`customer_stack/rsa_verify.py`), used by the activation's
manifest check and by the license-token client: it agrees with OpenSSL (`cryptography`, test-only)
on what verifies and what does not, and both users really call it. Then the token verifier's
refusals through the faster parsing: alg confusion (`none`, HS256 keyed with the public key), a
header cached once admitted is the only one admitted, malformed segments."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from customer_stack import rsa_verify
from customer_stack.activation import manifest
from customer_stack.solution import license_token
from customer_stack.solution.license_token import PublicKey, TokenInvalid, Verifier

T0 = 1_800_000_000
_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _spki(key) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(header: dict, claims: dict, sign) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(sign(signing_input.encode()))}"


CLAIMS = {"sub": "team-1", "entitlements": ["analysis"], "iat": T0, "exp": T0 + 3600, "jti": "lt-1"}


def _rs256(data: bytes, key=_KEY) -> bytes:
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def _same_modulus_other_exponent(key):
    """Another private key over `key`'s modulus, with another public exponent: its signatures are
    another key's (s^65537 mod n is not the message's encoding), made in milliseconds where a
    second 3072- or 4096-bit key takes OpenSSL about a second of CPU to generate."""
    private = key.private_numbers()
    p, q = private.p, private.q
    lam = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
    e = next(e for e in (3, 5, 17, 257, 65539, 65543) if math.gcd(e, lam) == 1)
    d = pow(e, -1, lam)
    public = rsa.RSAPublicNumbers(e, private.public_numbers.n)
    return rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), public).private_key()


@pytest.mark.parametrize("bits", [2048, 3072, 4096])
def test_it_parses_and_verifies_like_openssl(bits: int) -> None:
    key = _KEY if bits == 2048 else rsa.generate_private_key(public_exponent=65537, key_size=bits)
    numbers = key.public_key().public_numbers()
    public = rsa_verify.rsa_public_key(_spki(key))
    assert public == (numbers.n, numbers.e)
    message = b"header.claims"
    signature = _rs256(message, key)
    assert rsa_verify.rsa_verifies(public, message, signature)
    # Another key's signature: at 2048 bits a key of its own modulus; above, one over this modulus.
    if bits == 2048:
        other = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    else:
        other = _same_modulus_other_exponent(key)
        assert other.public_key().public_numbers().e != numbers.e
        mine = _rs256(message, other)  # a key in its own right: OpenSSL verifies its signature (or raises)
        other.public_key().verify(mine, message, padding.PKCS1v15(), hashes.SHA256())
    refused = [
        (message + b"x", signature),
        (message, _rs256(message, other)),
        (message, signature[:-1] + bytes([signature[-1] ^ 1])),
        (message, signature[1:]),
        (message, b"\x00" + signature),
        (message, b"\xff" * len(signature)),  # s >= n
        (message, bytes(len(signature))),  # s = 0
        (message, key.sign(message, padding.PKCS1v15(), hashes.SHA384())),  # another hash's DigestInfo
        (message, key.sign(message, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())),
    ]
    for bad_message, bad_signature in refused:
        assert not rsa_verify.rsa_verifies(public, bad_message, bad_signature)


def test_a_signature_of_the_raw_digest_without_its_digestinfo_is_refused() -> None:
    """The encoding must be PKCS#1 v1.5 with SHA-256's DigestInfo, not just end in the digest."""
    n, e = rsa_verify.rsa_public_key(_spki(_KEY))
    d = _KEY.private_numbers().d
    digest = hashlib.sha256(b"m").digest()
    size = (n.bit_length() + 7) // 8
    bare = b"\x00\x01" + b"\xff" * (size - len(digest) - 3) + b"\x00" + digest
    signature = pow(int.from_bytes(bare, "big"), d, n).to_bytes(size, "big")
    assert not rsa_verify.rsa_verifies((n, e), b"m", signature)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "unexpected DER"),
        ("not base64!", "base64"),
        (base64.b64encode(b"\x30\x03\x02\x01\x01").decode(), "DER"),
        (base64.b64encode(b"\x30\x82").decode(), "DER"),
    ],
)
def test_a_malformed_key_is_refused_with_the_reason(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        rsa_verify.rsa_public_key(value)


def test_non_rsa_and_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="not an RSA key"):
        rsa_verify.rsa_public_key(_spki(ec.generate_private_key(ec.SECP256R1())))
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - must be refused
    with pytest.raises(ValueError, match="at least 2048 bits"):
        rsa_verify.rsa_public_key(_spki(short))


def test_both_users_call_the_one_verifier(monkeypatch: pytest.MonkeyPatch) -> None:
    """Break the shared function: the manifest check and the token client's standard-library
    path both stop verifying, so neither keeps a copy of its own."""
    assert manifest.rsa_verifies is rsa_verify.rsa_verifies is license_token.rsa_verifies
    monkeypatch.setattr(manifest, "rsa_verifies", lambda *_args: False)
    monkeypatch.setattr(license_token, "rsa_verifies", lambda *_args: False)
    key = PublicKey.from_spki_b64(_spki(_KEY))
    assert not key.verifies_pure(b"m", _rs256(b"m"))
    with pytest.raises(manifest._CrFailure, match="does not verify"):
        manifest._cr_checked_activation(
            {"manifest": {}, "signature_algorithm": "RSASSA_PKCS1_V1_5_SHA_256", "manifest_signature": ""},
            (key.n, key.e),
            {},
        )


def test_the_parsed_key_is_cached_per_key_string() -> None:
    spki = _spki(_KEY)
    assert PublicKey.from_spki_b64(spki) is PublicKey.from_spki_b64(spki)


def test_by_default_openssl_is_used_only_when_the_artifact_carries_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Lambda runtime has no `cryptography`; the tests' and the sandbox's Python does. By
    default the client uses it only from the artifact's own folder, so the sandbox and these
    tests take the path Lambda takes."""
    import cryptography

    monkeypatch.setattr(license_token, "USE_NATIVE", None)
    monkeypatch.setattr(license_token, "_NATIVE", {})
    key = PublicKey.from_spki_b64(_spki(_KEY))
    assert not license_token._in_artifact(cryptography.__file__)
    assert license_token._native_verifier(key.n, key.e) is None
    assert key.verifies(b"m", _rs256(b"m"))  # the standard-library path
    assert license_token._NATIVE == {(key.n, key.e): None}
    assert license_token._in_artifact(
        str(Path(license_token.__file__).with_name("cryptography") / "__init__.py")
    )
    monkeypatch.setattr(license_token, "_in_artifact", lambda _path: True)  # as if vendored beside it
    assert license_token._native_verifier(key.n, key.e) is not None


# --- the token verifier's refusals ----------------------------------------------------------------


@pytest.fixture(name="path", params=["native", "pure"])
def path_fixture(request, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every refusal holds on both paths: OpenSSL, and the standard library (the Lambda runtime)."""
    monkeypatch.setattr(license_token, "USE_NATIVE", request.param == "native")
    monkeypatch.setattr(license_token, "_NATIVE", {})
    return request.param


def test_alg_none_and_hs256_keyed_with_the_public_key_are_refused(path: str) -> None:
    spki = _spki(_KEY)
    verifier = Verifier(spki)
    good = _token({"alg": "RS256", "typ": "JWT"}, CLAIMS, _rs256)
    assert verifier.claims(good, T0)["sub"] == "team-1"
    none = _token({"alg": "none"}, CLAIMS, lambda _data: b"")
    hs256 = _token(
        {"alg": "HS256", "typ": "JWT"},
        CLAIMS,
        lambda data: hmac.new(spki.encode(), data, hashlib.sha256).digest(),
    )
    for forged in (none, none.rstrip(".") + ".", hs256, none[: none.rindex(".")] + "." + good.split(".")[2]):
        with pytest.raises(TokenInvalid):
            verifier.claims(forged, T0)
    with pytest.raises(TokenInvalid, match="algorithm"):
        verifier.claims(hs256, T0)


def test_a_cached_header_admits_only_itself(path: str) -> None:
    """The header cache holds the header segment's exact text: another header with the good
    one's signature and claims is read and refused, and so is an altered claim or signature."""
    verifier = Verifier(_spki(_KEY))
    good = _token({"alg": "RS256", "typ": "JWT"}, CLAIMS, _rs256)
    verifier.claims(good, T0)
    header, claims, signature = good.split(".")
    crit = _b64(json.dumps({"alg": "RS256", "crit": ["exp"]}).encode())
    with pytest.raises(TokenInvalid, match="critical"):
        verifier.claims(f"{crit}.{claims}.{signature}", T0)
    altered = _b64(json.dumps({**CLAIMS, "entitlements": ["everything"]}).encode())
    with pytest.raises(TokenInvalid, match="signature"):
        verifier.claims(f"{header}.{altered}.{signature}", T0)
    raw = base64.urlsafe_b64decode(signature + "==")
    flipped = _b64(bytes([raw[0] ^ 1]) + raw[1:])
    with pytest.raises(TokenInvalid, match="signature"):
        verifier.claims(f"{header}.{claims}.{flipped}", T0)
    with pytest.raises(TokenInvalid, match="expired"):
        verifier.claims(good, T0 + 3600)


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "a.b",
        "a.b.c.d",
        "!!.??.**",
        "a.b.c\n",
        "a+b.c.d",
        "a=.b.c",
        "x" * 9000,
        "é.b.c",
        "a..c",
        "abcde.b.c",
    ],
)
def test_malformed_tokens_are_refused(junk: str, path: str) -> None:
    with pytest.raises(TokenInvalid):
        Verifier(_spki(_KEY)).claims(junk, T0)


def test_claims_that_are_not_what_a_token_says_are_refused(path: str) -> None:
    verifier = Verifier(_spki(_KEY))
    header = {"alg": "RS256"}
    for claims in (
        [1, 2],
        {**CLAIMS, "exp": "soon"},
        {**CLAIMS, "iat": 1.5},
        {**CLAIMS, "exp": True},
        {k: v for k, v in CLAIMS.items() if k != "sub"},
        {**CLAIMS, "entitlements": "analysis"},
    ):
        with pytest.raises(TokenInvalid, match="claims"):
            verifier.claims(_token(header, claims, _rs256), T0)
    not_json = f"{_b64(json.dumps(header).encode())}.{_b64(b'{not json')}"
    with pytest.raises(TokenInvalid, match="not JSON"):
        verifier.claims(f"{not_json}.{_b64(_rs256(not_json.encode()))}", T0)
