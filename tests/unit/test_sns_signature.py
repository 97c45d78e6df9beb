"""SNS message signatures of the legacy Marketplace notifications (issue 9 item 9).

The fixtures' signatures are genuine (SOURCES.md §10): made with a throwaway key whose
self-signed certificate `sns-signing-cert-example.pem` stands in for SNS's certificate download.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.errors import ServiceError
from subscriptions.dal.sns_certificates import SANDBOX_CERTS_VARIABLE, CertificateCache
from subscriptions.logic.sns_signature import (
    UnverifiedMessage,
    check_cert_url,
    check_topic,
    parse_certificate,
    string_to_sign,
    verify,
)
from tests.aws_fixtures import AWS_FIXTURES

NOW = datetime(2026, 3, 2, 10, 16, tzinfo=UTC)
PEM = (AWS_FIXTURES / "sns-signing-cert-example.pem").read_bytes()
PRODUCT_CODE = "exampleprod1234567890"


def message(version: int) -> dict:
    return json.loads((AWS_FIXTURES / f"sns-notification-sqs-body-v{version}.json").read_text())


class Fetches:
    def __init__(self, body: bytes = PEM) -> None:
        self.body, self.urls = body, []

    def __call__(self, url: str) -> bytes:
        self.urls.append(url)
        return self.body


def check(document: dict, cache: CertificateCache | None = None) -> None:
    cache = cache or CertificateCache(Fetches(), env={})
    verify(document, cache.get(document.get("SigningCertURL")), NOW)


@pytest.mark.parametrize("version", [1, 2])
def test_the_string_to_sign_is_the_documented_one(version: int) -> None:
    expected = (AWS_FIXTURES / f"sns-notification-sqs-body-v{version}.string-to-sign.txt").read_text()
    assert string_to_sign(message(version)) == expected


@pytest.mark.parametrize("version", [1, 2])
def test_a_valid_message_passes(version: int) -> None:
    check(message(version))  # SHA1withRSA (1) and SHA256withRSA (2)


@pytest.mark.parametrize("field", ["Message", "MessageId", "Timestamp", "TopicArn", "Type"])
def test_an_altered_field_fails(field: str) -> None:
    document = message(2)
    document[field] = document[field] + "x"
    with pytest.raises(UnverifiedMessage, match="signature does not match|lacks"):
        check(document)


def test_an_added_or_removed_subject_fails() -> None:
    with_subject = {**message(2), "Subject": "x"}
    with pytest.raises(UnverifiedMessage):
        check(with_subject)
    without = message(1)
    del without["Subject"]
    with pytest.raises(UnverifiedMessage):
        check(without)


def test_a_signature_of_another_version_fails() -> None:
    document = {**message(1), "SignatureVersion": "2"}
    with pytest.raises(UnverifiedMessage, match="does not match"):
        check(document)


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com.attacker.example/SimpleNotificationService-1.pem",
        "https://attacker.example/SimpleNotificationService-1.pem",
        "https://sns.us-east-1.amazonaws.com@attacker.example/cert.pem",
        "https://s3.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-1.pem",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.txt",
    ],
)
def test_a_certificate_url_off_the_sns_hosts_fails_before_any_fetch(url: str) -> None:
    fetches = Fetches()
    with pytest.raises(UnverifiedMessage, match="SigningCertURL"):
        check({**message(2), "SigningCertURL": url}, CertificateCache(fetches, env={}))
    assert fetches.urls == []


def test_a_plain_http_certificate_url_fails() -> None:
    url = message(2)["SigningCertURL"].replace("https://", "http://")
    with pytest.raises(UnverifiedMessage, match="not https"):
        check({**message(2), "SigningCertURL": url})


@pytest.mark.parametrize(
    "change", [{"Signature": None}, {"SignatureVersion": None}, {"SigningCertURL": None}]
)
def test_an_unsigned_message_fails(change: dict) -> None:
    document = {k: v for k, v in message(2).items() if k not in change}
    with pytest.raises(UnverifiedMessage):
        check(document)


def test_certificates_are_cached_and_a_fetch_failure_is_retryable() -> None:
    fetches = Fetches()
    cache = CertificateCache(fetches, env={})
    check(message(1), cache)
    check(message(2), cache)
    assert fetches.urls == [message(1)["SigningCertURL"]]

    def down(url: str) -> bytes:
        raise OSError("network unreachable")

    with pytest.raises(ServiceError):
        CertificateCache(down, env={}).get(message(2)["SigningCertURL"])


def test_the_sandbox_trust_setting_supplies_a_certificate_without_fetching() -> None:
    fetches = Fetches(b"not a certificate")
    url = message(2)["SigningCertURL"]
    cache = CertificateCache(fetches, env={SANDBOX_CERTS_VARIABLE: json.dumps({url: PEM.decode()})})
    check(message(2), cache)
    assert fetches.urls == []
    with pytest.raises(UnverifiedMessage):  # without it, the same URL's download is what counts
        check(message(2), CertificateCache(fetches, env={}))


def test_an_expired_certificate_fails() -> None:
    certificate = parse_certificate(PEM)
    with pytest.raises(UnverifiedMessage, match="not valid now"):
        verify(message(2), certificate, datetime(2037, 1, 1, tzinfo=UTC))


def test_only_this_products_marketplace_topics_are_accepted() -> None:
    check_topic(message(2), PRODUCT_CODE)
    with pytest.raises(UnverifiedMessage):
        check_topic(message(1), PRODUCT_CODE)  # some other topic of the seller
    with pytest.raises(UnverifiedMessage):
        check_topic(message(2), "otherproduct000000000")


def test_url_check_accepts_the_documented_form() -> None:
    assert check_cert_url(message(2)["SigningCertURL"]).startswith("https://sns.us-east-1.amazonaws.com/")
