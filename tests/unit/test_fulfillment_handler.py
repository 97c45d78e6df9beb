"""`POST /v1/marketplace/fulfillment` (docs/protocol.md §3.1): 303 to the page with the token in the
fragment; a readable 400 page otherwise; the token never reaches a log."""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote, unquote

import pytest

from subscriptions.handlers import fulfillment

PAGE = "https://d111111abcdef8.cloudfront.net/"
TOKEN = "EXAMPLEtokenAAAA+exampleBBBB/example=="  # noqa: S105 - a made-up registration token
FORM = "application/x-www-form-urlencoded"


class Context:
    function_name = "fulfillment"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fulfillment"
    aws_request_id = "req-1"


@pytest.fixture(autouse=True)
def page_url(monkeypatch):
    monkeypatch.setenv(fulfillment.PAGE_URL_VARIABLE, PAGE)


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def event(body: str, content_type: str | None = FORM, *, b64: bool = False, accept: str = BROWSER) -> dict:
    headers = {"Content-Type": content_type} if content_type else {}
    if accept:
        headers["Accept"] = accept
    if b64:
        body = base64.b64encode(body.encode()).decode()
    return {"httpMethod": "POST", "headers": headers, "body": body, "isBase64Encoded": b64}


@pytest.mark.parametrize("b64", [False, True])
def test_303_to_the_page_with_the_token_in_the_fragment(b64: bool) -> None:
    body = f"x-amzn-marketplace-token={quote(TOKEN, safe='')}&x-amzn-marketplace-offer-type=free-trial"
    response = fulfillment.handler(
        event(body, "application/x-www-form-urlencoded; charset=UTF-8", b64=b64), Context()
    )
    assert response["statusCode"] == 303
    location = response["headers"]["Location"]
    before, fragment = location.split("#", 1)
    assert before == PAGE and "?" not in before, "the token must not be in the path or query"
    assert fragment.startswith("register=") and unquote(fragment.removeprefix("register=")) == TOKEN
    assert response["headers"]["Cache-Control"] == "no-store"
    assert response["headers"]["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("", FORM),
        ("other=1", FORM),
        ("x-amzn-marketplace-token=", FORM),
        ("x-amzn-marketplace-token=a&x-amzn-marketplace-token=b", FORM),
        ('{"x-amzn-marketplace-token": "t"}', "application/json"),
        ("x-amzn-marketplace-token=t", None),
    ],
)
def test_400_html_page_without_exactly_one_token(body: str, content_type: str | None) -> None:
    response = fulfillment.handler(event(body, content_type), Context())
    assert response["statusCode"] == 400
    assert response["headers"]["Content-Type"].startswith("text/html")
    assert "<h1>" in response["body"] and "AWS Marketplace" in response["body"]
    assert "Location" not in response["headers"]


def test_a_client_that_is_not_a_browser_gets_the_json_error_shape() -> None:
    response = fulfillment.handler(event("other=1", accept=""), Context())
    assert response["statusCode"] == 400 and response["headers"]["Content-Type"] == "application/json"
    error = json.loads(response["body"])["error"]
    assert error["code"] == "ValidationError" and "x-amzn-marketplace-token" in error["message"]


def test_the_400_page_escapes_what_the_client_sent() -> None:
    response = fulfillment.handler(event("x=1", "text/<script>alert(1)</script>"), Context())
    assert response["statusCode"] == 400
    assert "<script>" not in response["body"]


def test_the_token_is_never_logged(capsys, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    fulfillment.handler(event(f"x-amzn-marketplace-token={quote(TOKEN, safe='')}"), Context())
    fulfillment.handler(event(f"x-amzn-marketplace-token={quote(TOKEN, safe='')}", "text/plain"), Context())
    out = capsys.readouterr()
    logged = out.out + out.err + caplog.text
    assert "fulfillment" in logged, "the handler logs its outcome"
    for form in (TOKEN, quote(TOKEN, safe=""), "EXAMPLEtoken"):
        assert form not in logged


def test_redirect_location_drops_an_existing_fragment() -> None:
    assert (
        fulfillment.redirect_location("https://x.example/#old", "a b") == "https://x.example/#register=a%20b"
    )
