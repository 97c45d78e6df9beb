"""Pieces of the activation custom resource that need no network, run from the assembled index.py
(its assembly itself: test_activation_assembly.py): the pure-Python RSA verification, the manifest
checks, the response size limit and the scrubbing of secrets."""

import base64
import json
import time
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from tests.plugins import activation_standins as fx


@pytest.fixture(scope="module")
def act():
    return fx.load_activation_module()


@pytest.fixture(scope="module")
def key():
    return fx.new_vendor_key()


def test_activation_module_signs_the_contract_vector(act):
    body = (
        b'{"records":[{"id":"r-1","dimension":"requests","quantity":3,"timestamp":"2026-11-22T13:00:00Z"}]}'
    )
    headers = act.sign_request(
        "VSAKEXAMPLE",
        "vsSK_EXAMPLEsecretKEY0123456789abcdefghij",
        "POST",
        "/v1/usage",
        [("dry_run", "false"), ("a b", "x/y")],
        body,
        now=datetime(2026, 11, 22, 13, 54, tzinfo=UTC),
        nonce="n0nce-EXAMPLE-0001",
    )
    assert headers["Authorization"].endswith(
        "Signature=32a073bdbd3b2df881b0122d3d22b51c4287e4b6deb446dbed2d56a411182555"
    )


def test_activation_parses_the_spki_like_cryptography(act, key):
    numbers = key.public_key().public_numbers()
    assert act._cr_rsa_public_key(fx.public_key_b64(key)) == (numbers.n, numbers.e)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not base64!",
        base64.b64encode(b"\x30\x03\x02\x01\x01").decode(),
        base64.b64encode(b"\x30\x82").decode(),
    ],
)
def test_activation_rejects_a_malformed_public_key(act, value):
    with pytest.raises(act._CrFailure, match="VendorPublicKey"):
        act._cr_rsa_public_key(value)


def test_activation_rejects_non_rsa_and_short_keys(act):
    ec_der = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(act._CrFailure, match="not an RSA key"):
        act._cr_rsa_public_key(base64.b64encode(ec_der).decode())
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - must be refused
    with pytest.raises(act._CrFailure, match="at least 2048 bits"):
        act._cr_rsa_public_key(fx.public_key_b64(short))


def test_activation_verifies_what_cryptography_signs(act, key):
    public = act._cr_rsa_public_key(fx.public_key_b64(key))
    message = fx.canonical({"b": 1, "a": [1, 2], "version": "1.0.0"})
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())

    assert act.rsa_verifies(public, message, signature)
    assert not act.rsa_verifies(public, message + b" ", signature)
    assert not act.rsa_verifies(public, message, signature[:-1] + bytes([signature[-1] ^ 1]))
    assert not act.rsa_verifies(public, message, signature[1:])
    assert not act.rsa_verifies(public, message, b"\xff" * len(signature))  # s >= n
    pss = key.sign(message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    assert not act.rsa_verifies(public, message, pss)
    sha1 = key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 - a wrong hash must fail
    assert not act.rsa_verifies(public, message, sha1)


STACK_ID = (
    "arn:aws:cloudformation:us-east-1:444455556666:stack/example-stack/aaaaaaaa-1111-2222-3333-bbbbbbbbbbbb"
)
NONCE = "nonce-of-this-request-0001"


def _answer(act, key, **vendor_changes) -> dict:
    vendor = fx.FakeVendor(act, key, {"api": b"zip"})  # only its answer builder is used
    for name, value in vendor_changes.items():
        setattr(vendor, name, value)
    try:
        sent = {"account_id": fx.ACCOUNT_ID, "stack_id": STACK_ID, "version": "1.0.0"}
        return vendor.activation(sent, NONCE)
    finally:
        vendor.close()


def _expected(now_offset: float = 0.0, **changes) -> dict:
    expected = {
        "account_id": fx.ACCOUNT_ID,
        "stack_id": STACK_ID,
        "nonce": NONCE,
        "version": "1.0.0",
        "now": time.time() + now_offset,
    }
    expected.update(changes)
    return expected


def test_activation_checks_the_whole_answer_after_the_signature(act, key):
    answer = _answer(act, key)
    public = act._cr_rsa_public_key(fx.public_key_b64(key))

    activation_id, manifest = act._cr_checked_activation(answer, public, _expected())
    assert activation_id == "act-0001" and manifest["artifacts"][0]["name"] == "api"
    with pytest.raises(act._CrFailure, match="another AWS account"):
        act._cr_checked_activation(answer, public, _expected(account_id="111122223333"))
    with pytest.raises(act._CrFailure, match="not signed with RSASSA_PKCS1_V1_5_SHA_256"):
        act._cr_checked_activation(
            {**answer, "signature_algorithm": "RSASSA_PSS_SHA_256"}, public, _expected()
        )
    with pytest.raises(act._CrFailure, match="another activation"):
        act._cr_checked_activation({**answer, "activation_id": "act-9999"}, public, _expected())
    bad = {**answer["manifest"], "product": "../etc"}
    signed_bad = {**answer, "manifest": bad, "manifest_signature": fx.sign_manifest(key, bad)}
    with pytest.raises(act._CrFailure, match="invalid product"):
        act._cr_checked_activation(signed_bad, public, _expected())


@pytest.mark.parametrize(
    ("expected", "reason"),
    [
        ({"stack_id": STACK_ID.replace("example-stack", "other-stack")}, "for another stack"),
        ({"nonce": "a-later-request-nonce-0002"}, "answers another request"),
        ({"now_offset": 302}, "more than 300 s: stale"),
        ({"now_offset": -62}, "in the future"),
        ({"version": "1.1.0"}, "is for release 1.0.0, but this template names 1.1.0"),
    ],
)
def test_activation_refuses_a_manifest_bound_to_something_else(act, key, expected, reason):
    answer = _answer(act, key)
    public = act._cr_rsa_public_key(fx.public_key_b64(key))
    with pytest.raises(act._CrFailure, match=reason):
        act._cr_checked_activation(answer, public, _expected(**expected))


@pytest.mark.parametrize("issued_at", [None, "", "2026-11-22 13:54:00Z", "2026-13-01T00:00:00Z", "yesterday"])
def test_activation_refuses_a_manifest_without_a_valid_issued_at(act, key, issued_at):
    manifest = {**_answer(act, key)["manifest"], "issued_at": issued_at}
    answer = {
        **_answer(act, key),
        "manifest": manifest,
        "manifest_signature": fx.sign_manifest(key, manifest),
    }
    public = act._cr_rsa_public_key(fx.public_key_b64(key))
    with pytest.raises(act._CrFailure, match="no valid issued_at"):
        act._cr_checked_activation(answer, public, _expected())


def test_activation_issued_at_is_read_as_utc(act):
    assert act._cr_issued_at("1970-01-01T00:01:40Z") == 100
    assert act._cr_issued_at("2026-11-22T13:54:00Z") == 1795355640


@pytest.mark.parametrize(
    ("name", "attribute"), [("api", "Api"), ("usage-reporter", "UsageReporter"), ("worker_2", "Worker2")]
)
def test_activation_attribute_names(act, name, attribute):
    assert act._cr_attribute(name) == attribute


def test_activation_response_stays_within_4096_bytes(act):
    event = json.loads((fx.AWS_FIXTURES / "cfn-custom-resource-create.json").read_text())
    body = act._cr_response_body(event, "FAILED", "act-1", "é" * 10_000, None)
    assert len(body) <= 4096
    response = json.loads(body)
    assert response["Status"] == "FAILED" and response["Reason"].endswith("…")

    too_much = {f"A{i}Key": "x" * 100 for i in range(60)}
    response = json.loads(act._cr_response_body(event, "SUCCESS", "act-1", "", too_much))
    assert response["Status"] == "FAILED" and "Data" not in response


def test_activation_scrubs_query_strings_and_secrets(act):
    text = "GET https://b.s3.amazonaws.com/a/api.zip?X-Amz-Signature=abc&X-Amz-Credential=x failed: s3cr3t"
    scrubbed = act.scrub(text, ["s3cr3t"])  # the vendor client's, which the activation uses
    assert "X-Amz" not in scrubbed and "s3cr3t" not in scrubbed
    assert "https://b.s3.amazonaws.com/a/api.zip?…" in scrubbed


def test_activation_reads_account_and_region_from_the_stack_arn(act):
    event = json.loads((fx.AWS_FIXTURES / "cfn-custom-resource-create.json").read_text())
    assert act._cr_stack_account_region(event["StackId"]) == ("444455556666", "us-east-1")
    with pytest.raises(act._CrFailure):
        act._cr_stack_account_region("not-an-arn")


def test_activation_answers_an_unknown_request_type(act, monkeypatch):
    sent = []
    monkeypatch.setattr(act, "_cr_put_response", lambda url, body: sent.append(json.loads(body)))
    event = json.loads((fx.AWS_FIXTURES / "cfn-custom-resource-create.json").read_text())
    event["RequestType"] = "Replace"
    act.handler(event, fx.FakeContext(60))
    assert [r["Status"] for r in sent] == ["FAILED"]


def test_activation_refuses_a_manifest_without_a_nonce_when_none_was_sent(act, key):
    answer = _answer(act, key)
    manifest = {k: v for k, v in answer["manifest"].items() if k != "request_nonce"}
    unbound = {**answer, "manifest": manifest, "manifest_signature": fx.sign_manifest(key, manifest)}
    public = act._cr_rsa_public_key(fx.public_key_b64(key))
    with pytest.raises(act._CrFailure, match="answers another request"):
        act._cr_checked_activation(unbound, public, _expected(nonce=None))
