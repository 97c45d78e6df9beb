"""The fulfillment POST (marketplace-fulfillment-post.txt) → the registration token."""

from __future__ import annotations

import base64
import re

import pytest

from subscriptions.logic.fulfillment import token_from_fulfillment_post
from tests.aws_fixtures import AWS_FIXTURES

FIXTURES = AWS_FIXTURES
TOKEN = "EXAMPLEtokenAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+exampleBBBBBBBB/example=="


def requests() -> list[tuple[str, str]]:
    """(Content-Type, body) of every HTTP request written in the fixture."""
    text = (FIXTURES / "marketplace-fulfillment-post.txt").read_text()
    found = []
    for block in re.split(r"^##### .* #####$", text, flags=re.MULTILINE)[1:]:
        lines = [line for line in block.strip().splitlines() if not line.startswith("#")]
        blank = lines.index("")
        headers = dict(line.split(": ", 1) for line in lines[1:blank])
        body = next(line for line in lines[blank + 1 :] if line.strip())
        assert int(headers["Content-Length"]) == len(body.encode())
        found.append((headers["Content-Type"], body))
    return found


def test_fixture_has_both_variants() -> None:
    assert len(requests()) == 2


@pytest.mark.parametrize("index", [0, 1])
def test_token_from_each_fixture_variant(index: int) -> None:
    content_type, body = requests()[index]
    assert token_from_fulfillment_post(body, content_type) == TOKEN


def test_base64_encoded_body_from_api_gateway() -> None:
    content_type, body = requests()[1]
    encoded = base64.b64encode(body.encode()).decode()
    assert token_from_fulfillment_post(encoded, content_type, is_base64_encoded=True) == TOKEN


def test_field_order_does_not_matter_and_charset_is_accepted() -> None:
    body = "x-amzn-marketplace-offer-type=free-trial&x-amzn-marketplace-token=abc%2B%2F%3D"
    assert token_from_fulfillment_post(body, "application/x-www-form-urlencoded; charset=UTF-8") == "abc+/="


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("x-amzn-marketplace-token=abc", "application/json"),
        ("x-amzn-marketplace-token=abc", ""),
        ("other=1", "application/x-www-form-urlencoded"),
        ("x-amzn-marketplace-token=", "application/x-www-form-urlencoded"),
        ("x-amzn-marketplace-token=a&x-amzn-marketplace-token=b", "application/x-www-form-urlencoded"),
    ],
)
def test_refused_forms(body: str, content_type: str) -> None:
    with pytest.raises(ValueError):
        token_from_fulfillment_post(body, content_type)
