"""`POST /v1/marketplace/fulfillment` (public, docs/protocol.md §3.1): the listing's fulfillment URL.

AWS Marketplace sends the buyer's browser here with a form POST carrying
`x-amzn-marketplace-token` (AWS docs: "Configuring your SaaS product to accept new buyers",
https://docs.aws.amazon.com/marketplace/latest/userguide/saas-product-customer-setup.html).
A static page cannot take a POST, so this function answers `303 See Other` to the developer
page with the token in the URL *fragment*: browsers never send a fragment to a server, so the
token reaches no access log and no Referer. The token itself is never logged here either.
Anything else gets status 400: a short HTML page a person can read when the client is a browser
(`Accept` names `text/html`, as browsers do on a form POST), else the contract's JSON error.
"""

from __future__ import annotations

import html
import json
import os
from urllib.parse import quote

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.observability import logger
from subscriptions.logic.fulfillment import token_from_fulfillment_post

PAGE_URL_VARIABLE = "VS_DEVELOPER_PAGE_URL"
# The responses are per buyer and carry a one-time token: nothing may cache or forward them.
_COMMON = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
_BAD_REQUEST = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Subscription link not recognised</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>We could not read your AWS Marketplace subscription</h1>
<p>This address is where AWS Marketplace sends you after you subscribe. The request did not
carry a subscription token ({reason}).</p>
<p>Go back to AWS Marketplace and choose <strong>Set up your account</strong> again, or open
the <a href="{page}">developer page</a> and sign in.</p></main></body></html>
"""


def redirect_location(page_url: str, token: str) -> str:
    """The developer page with the token percent-encoded in the fragment (`#register=`)."""
    return f"{page_url.split('#', 1)[0]}#register={quote(token, safe='')}"


def _header(headers: dict | None, name: str) -> str:
    for key, value in (headers or {}).items():
        if key.lower() == name and isinstance(value, str):
            return value
    return ""


def handler(event: dict, context: LambdaContext) -> dict:
    page_url = os.environ[PAGE_URL_VARIABLE]
    try:
        token = token_from_fulfillment_post(
            event.get("body") or "",
            _header(event.get("headers"), "content-type"),
            is_base64_encoded=bool(event.get("isBase64Encoded")),
        )
    except ValueError as exc:
        # The reason names the form's shape only (content type, field count), never its values.
        logger.info("fulfillment refused", extra={"reason": str(exc)})
        if "text/html" in _header(event.get("headers"), "accept").lower():
            body = _BAD_REQUEST.format(reason=html.escape(str(exc)), page=html.escape(page_url, quote=True))
            content_type = "text/html; charset=utf-8"
        else:
            message = f"Not an AWS Marketplace fulfillment form: {exc}."
            body = json.dumps({"error": {"code": "ValidationError", "message": message}})
            content_type = "application/json"
        return {
            "statusCode": 400,
            "headers": {**_COMMON, "Content-Type": content_type},
            "body": body,
            "isBase64Encoded": False,
        }
    logger.info("fulfillment redirected to the developer page")
    return {
        "statusCode": 303,
        "headers": {**_COMMON, "Location": redirect_location(page_url, token)},
        "body": "",
        "isBase64Encoded": False,
    }
