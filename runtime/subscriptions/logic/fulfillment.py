"""The AWS Marketplace fulfillment POST (marketplace-fulfillment-post.txt).

AWS Marketplace sends the buyer's browser to the product's fulfillment URL with a form POST
carrying one field, `x-amzn-marketplace-token` (plus `x-amzn-marketplace-offer-type=free-trial`
for free trials). The developer page takes the token out of that form, signs the customer in,
and posts it to `POST /v1/marketplace/registrations`.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qs

TOKEN_FIELD = "x-amzn-marketplace-token"  # noqa: S105 - a form field name, not a secret
FORM = "application/x-www-form-urlencoded"


def token_from_fulfillment_post(body: str, content_type: str, *, is_base64_encoded: bool = False) -> str:
    """The registration token of a fulfillment POST body; ValueError when there is not exactly one.

    Parsed as a form, not by position (field order is undocumented); percent-decoding turns
    `%2B` back into the `+` of the base64-like token. Behind API Gateway the body may arrive
    base64-encoded (`isBase64Encoded`), so that is undone first.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != FORM:
        raise ValueError(f"expected {FORM}, got {media_type or 'no content type'}")
    if is_base64_encoded:
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise ValueError("the body is not valid base64") from None
    try:
        fields = parse_qs(body, keep_blank_values=True, strict_parsing=False, errors="strict")
    except UnicodeDecodeError:
        raise ValueError("the form is not UTF-8") from None
    tokens = [value.strip() for value in fields.get(TOKEN_FIELD, [])]
    if len(tokens) != 1 or not tokens[0]:
        raise ValueError(f"the form must carry exactly one non-empty {TOKEN_FIELD}")
    return tokens[0]
