"""`shared.signing` against docs/protocol.md §4, byte for byte, and the verifier's pure check."""

from __future__ import annotations

import ast
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from license.logic.verifier import verify_signature
from shared import signing
from shared.errors import InvalidAccessKey, MissingAuthentication, RequestExpired, SignatureDoesNotMatch
from tests.plugins.hypothesis_profiles import examples

VECTOR_SECRET = "vsSK_EXAMPLEsecretKEY0123456789abcdefghij"
VECTOR_BODY = (
    b'{"records":[{"id":"r-1","dimension":"requests","quantity":3,"timestamp":"2026-11-22T13:00:00Z"}]}'
)
VECTOR_QUERY = [("dry_run", "false"), ("a b", "x/y")]
VECTOR_STS = (
    "VS1-HMAC-SHA256\n"
    "20261122T135400Z\n"
    "n0nce-EXAMPLE-0001\n"
    "POST\n"
    "/v1/usage\n"
    "a%20b=x%2Fy&dry_run=false\n"
    "6eb646a4e28236ea584fe8e508b79014896ba81ddb450e081cba1a2fa61e05a4"
)
VECTOR_SIGNATURE = "32a073bdbd3b2df881b0122d3d22b51c4287e4b6deb446dbed2d56a411182555"
VECTOR_NOW = datetime(2026, 11, 22, 13, 54, tzinfo=UTC)
ACCESS_KEY = "VSAKABCDEFGHIJKLMNOP"


def test_contract_vector_string_to_sign_and_signature() -> None:
    query = signing.canonical_query(VECTOR_QUERY)
    sts = signing.string_to_sign(
        "20261122T135400Z", "n0nce-EXAMPLE-0001", "POST", "/v1/usage", query, VECTOR_BODY
    )
    assert sts.encode() == VECTOR_STS.encode()
    assert signing.compute_signature(VECTOR_SECRET, sts) == VECTOR_SIGNATURE


def test_contract_vector_through_sign_request() -> None:
    headers = signing.sign_request(
        ACCESS_KEY,
        VECTOR_SECRET,
        "POST",
        "/v1/usage",
        VECTOR_QUERY,
        VECTOR_BODY,
        now=VECTOR_NOW,
        nonce="n0nce-EXAMPLE-0001",
    )
    assert headers == {
        "Authorization": f"VS1-HMAC-SHA256 Credential={ACCESS_KEY}, Signature={VECTOR_SIGNATURE}",
        "X-Vs-Date": "20261122T135400Z",
        "X-Vs-Nonce": "n0nce-EXAMPLE-0001",
    }
    assert signing.parse_authorization(headers["Authorization"]) == (ACCESS_KEY, VECTOR_SIGNATURE)


def test_contract_vector_through_the_verifier() -> None:
    headers = signing.sign_request(
        ACCESS_KEY,
        VECTOR_SECRET,
        "POST",
        "/v1/usage",
        VECTOR_QUERY,
        VECTOR_BODY,
        now=VECTOR_NOW,
        nonce="n0nce-EXAMPLE-0001",
    )
    credentials = verify_signature(
        VECTOR_SECRET,
        "POST",
        "/v1/usage",
        VECTOR_QUERY,
        VECTOR_BODY,
        headers,
        VECTOR_NOW + timedelta(seconds=299),
    )
    assert (credentials.access_key, credentials.nonce) == (ACCESS_KEY, "n0nce-EXAMPLE-0001")


def test_empty_body_hashes_the_empty_string() -> None:
    assert signing.string_to_sign("d", "n", "get", "/", "", b"").endswith(hashlib.sha256(b"").hexdigest())
    assert "\nGET\n" in signing.string_to_sign("d", "n", "get", "/", "", b"")


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([], ""),
        ([("a", "")], "a="),
        ([("b", "1"), ("a", "2"), ("a", "1")], "a=1&a=2&b=1"),
        ([("a", "b"), ("B", "a")], "B=a&a=b"),  # byte order: uppercase before lowercase
        ([("a-b", "1"), ("a b", "1")], "a%20b=1&a-b=1"),  # sorted by the *encoded* name
        ([("k", "x y+z")], "k=x%20y%2Bz"),
        ([("k", "-_.~")], "k=-_.~"),
        ([("k", "a/b?c&d=e#f")], "k=a%2Fb%3Fc%26d%3De%23f"),
        ([("k", "é€")], "k=%C3%A9%E2%82%AC"),
        ([("k", "%41")], "k=%2541"),
        ([("k", "*!'()")], "k=%2A%21%27%28%29"),
    ],
)
def test_canonical_query(pairs: list[tuple[str, str]], expected: str) -> None:
    assert signing.canonical_query(pairs) == expected


def test_canonical_query_ignores_pair_order() -> None:
    pairs = [("z", "1"), ("a", "2"), ("m", "x y")]
    assert signing.canonical_query(pairs) == signing.canonical_query(reversed(pairs))


def test_dates_round_trip_and_reject_other_forms() -> None:
    assert signing.format_date(VECTOR_NOW) == "20261122T135400Z"
    assert signing.parse_date("20261122T135400Z") == VECTOR_NOW
    for bad in ("2026-11-22T13:54:00Z", "20261122T135400", "20261332T135400Z", "20261122T256000Z", ""):
        with pytest.raises(signing.SigningError):
            signing.parse_date(bad)
    with pytest.raises(signing.SigningError):
        signing.format_date(datetime(2026, 1, 1))  # naive: refused, never guessed


@pytest.mark.parametrize(
    "value",
    [
        "",
        "VS1-HMAC-SHA256",
        f"VS1-HMAC-SHA256 Credential={ACCESS_KEY}",
        f"VS1-HMAC-SHA256 Credential={ACCESS_KEY}, Signature={'A' * 64}",  # must be lowercase hex
        f"VS1-HMAC-SHA256 Credential={ACCESS_KEY}, Signature={'a' * 63}",
        f"VS1-HMAC-SHA256 Signature={'a' * 64}, Credential={ACCESS_KEY}",
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}, Signature={'a' * 64}",
    ],
)
def test_parse_authorization_rejects_malformed(value: str) -> None:
    with pytest.raises(signing.SigningError):
        signing.parse_authorization(value)


def test_nonces() -> None:
    nonce = signing.new_nonce()
    assert signing.valid_nonce(nonce) and nonce != signing.new_nonce()
    assert not signing.valid_nonce("short")
    assert not signing.valid_nonce("x" * 65)
    assert not signing.valid_nonce("has space in it!!")
    with pytest.raises(signing.SigningError):
        signing.sign_request(ACCESS_KEY, VECTOR_SECRET, "GET", "/", nonce="bad nonce")


def test_module_is_stdlib_only_and_self_contained() -> None:
    """It is inlined into the customer template: no project or third-party imports."""
    source = Path(signing.__file__).read_text()
    allowed = {"__future__", "hashlib", "hmac", "re", "secrets", "collections", "datetime", "urllib"}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        assert {n.split(".")[0] for n in names} <= allowed, names


# --- verifier failures (pure) ------------------------------------------------------------------


def _signed(**overrides):
    request = {"method": "POST", "path": "/v1/usage", "query_pairs": VECTOR_QUERY, "body": VECTOR_BODY}
    request.update(overrides)
    headers = signing.sign_request(
        ACCESS_KEY, VECTOR_SECRET, now=VECTOR_NOW, nonce="n0nce-EXAMPLE-0001", **request
    )
    return request, headers


def test_verifier_header_failures() -> None:
    request, headers = _signed()
    cases = [
        ({}, MissingAuthentication),
        ({"Authorization": "Bearer eyJabc"}, MissingAuthentication),
        ({**headers, "Authorization": "VS1-HMAC-SHA256 Credential=x"}, SignatureDoesNotMatch),
        ({k: v for k, v in headers.items() if k != "X-Vs-Date"}, SignatureDoesNotMatch),
        ({k: v for k, v in headers.items() if k != "X-Vs-Nonce"}, SignatureDoesNotMatch),
        ({**headers, "X-Vs-Date": "2026-11-22T13:54:00Z"}, SignatureDoesNotMatch),
        ({**headers, "X-Vs-Nonce": "short"}, SignatureDoesNotMatch),
        (
            {**headers, "Authorization": headers["Authorization"].replace(ACCESS_KEY, "AKIAEXAMPLE")},
            InvalidAccessKey,
        ),
    ]
    for bad_headers, error in cases:
        with pytest.raises(error):
            verify_signature(VECTOR_SECRET, now=VECTOR_NOW, headers=bad_headers, **request)


def test_verifier_accepts_lowercase_header_names() -> None:
    request, headers = _signed()
    lower = {k.lower(): v for k, v in headers.items()}
    verify_signature(VECTOR_SECRET, now=VECTOR_NOW, headers=lower, **request)


@pytest.mark.parametrize("skew", [301, -301, 3600, -86400])
def test_verifier_refuses_dates_outside_the_window(skew: int) -> None:
    request, headers = _signed()
    with pytest.raises(RequestExpired):
        verify_signature(VECTOR_SECRET, now=VECTOR_NOW + timedelta(seconds=skew), headers=headers, **request)


@pytest.mark.parametrize("skew", [300, -300, 0])
def test_verifier_accepts_dates_inside_the_window(skew: int) -> None:
    request, headers = _signed()
    verify_signature(VECTOR_SECRET, now=VECTOR_NOW + timedelta(seconds=skew), headers=headers, **request)


# --- property tests: any altered signed part breaks the signature ---------------------------------

_text = st.text(min_size=0, max_size=12)
_pairs = st.lists(st.tuples(st.text(min_size=1, max_size=8), _text), max_size=5)
_path = st.from_regex(r"/[A-Za-z0-9/_.~-]{0,30}", fullmatch=True)
_method = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"])
_nonce = st.from_regex(r"[A-Za-z0-9_-]{16,64}", fullmatch=True)
_secret = st.text(min_size=1, max_size=60)
_when = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))
_request = st.fixed_dictionaries(
    {
        "method": _method,
        "path": _path,
        "query_pairs": _pairs,
        "body": st.binary(max_size=64),
        "nonce": _nonce,
        "now": _when,
        "secret": _secret,
    }
)


def _sign(r: dict) -> str:
    sts = signing.string_to_sign(
        signing.format_date(r["now"]),
        r["nonce"],
        r["method"],
        r["path"],
        signing.canonical_query(r["query_pairs"]),
        r["body"],
    )
    return signing.compute_signature(r["secret"], sts)


@st.composite
def _altered(draw):
    """A request and a copy with exactly one signed part changed (a real change, not a reorder)."""
    original = draw(_request)
    part = draw(
        st.sampled_from(
            [
                "method",
                "path",
                "query_name",
                "query_value",
                "query_add",
                "query_drop",
                "body",
                "date",
                "nonce",
                "secret",
            ]
        )
    )
    changed = dict(original)
    pairs = list(original["query_pairs"])
    if part == "method":
        changed["method"] = draw(_method.filter(lambda m: m != original["method"]))
    elif part == "path":
        changed["path"] = draw(_path.filter(lambda p: p != original["path"]))
    elif part in ("query_name", "query_value") and pairs:
        i = draw(st.integers(0, len(pairs) - 1))
        name, value = pairs[i]
        if part == "query_name":
            pairs[i] = (draw(st.text(min_size=1, max_size=8).filter(lambda n: n != name)), value)
        else:
            pairs[i] = (name, draw(_text.filter(lambda v: v != value)))
        changed["query_pairs"] = pairs
    elif part == "query_drop" and pairs:
        del pairs[draw(st.integers(0, len(pairs) - 1))]
        changed["query_pairs"] = pairs
    elif part in ("query_add", "query_name", "query_value", "query_drop"):
        changed["query_pairs"] = [*pairs, draw(st.tuples(st.text(min_size=1, max_size=8), _text))]
    elif part == "body":
        changed["body"] = draw(st.binary(max_size=64).filter(lambda b: b != original["body"]))
    elif part == "date":
        changed["now"] = original["now"] + timedelta(
            seconds=draw(st.integers(1, 300)) * draw(st.sampled_from([1, -1]))
        )
    elif part == "nonce":
        changed["nonce"] = draw(_nonce.filter(lambda n: n != original["nonce"]))
    else:
        changed["secret"] = draw(_secret.filter(lambda s: s != original["secret"]))
    return original, changed, part


@settings(max_examples=examples(ci=300, local=25))
@given(_altered())
def test_altering_any_signed_part_changes_the_signature(case) -> None:
    original, changed, _part = case
    assert _sign(original) != _sign(changed)


@settings(max_examples=examples(ci=200, local=20))
@given(_altered())
def test_verifier_refuses_any_altered_part(case) -> None:
    """The client signed `original`; the server receives `changed` (or checks with another secret)."""
    original, changed, part = case
    headers = signing.sign_request(
        ACCESS_KEY,
        original["secret"],
        original["method"],
        original["path"],
        original["query_pairs"],
        original["body"],
        now=original["now"],
        nonce=original["nonce"],
    )
    if part == "date":
        headers["X-Vs-Date"] = signing.format_date(changed["now"])
    if part == "nonce":
        headers["X-Vs-Nonce"] = changed["nonce"]
    with pytest.raises(SignatureDoesNotMatch):
        verify_signature(
            changed["secret"],
            changed["method"],
            changed["path"],
            changed["query_pairs"],
            changed["body"],
            headers,
            original["now"],
        )


@settings(max_examples=examples(ci=100, local=15))
@given(_request)
def test_unaltered_requests_verify(r: dict) -> None:
    headers = signing.sign_request(
        ACCESS_KEY,
        r["secret"],
        r["method"],
        r["path"],
        r["query_pairs"],
        r["body"],
        now=r["now"],
        nonce=r["nonce"],
    )
    verify_signature(
        r["secret"], r["method"], r["path"], list(reversed(r["query_pairs"])), r["body"], headers, r["now"]
    )
