"""The developer page in a real browser, against the sandbox (issue 11): the buyer's whole journey
from AWS Marketplace's POST to the usage chart, the page at 375 px, the keyboard, and what the
page loads and where it sends requests."""

from __future__ import annotations

import html
import json
import secrets
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from sandbox.client import PlatformClient

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("sandbox"),
    pytest.mark.slow(reason="drives a headless Chromium against the sandbox"),
]
PASSWORD = "Correct-Horse-9-battery"
FIRST_LOAD_BUDGET = 200 * 1024


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def marketplace_post(page, api_url: str, token: str) -> None:
    """What AWS Marketplace does: the buyer's browser posts a form to the fulfillment URL."""
    page.set_content(
        f'<form method="post" action="{html.escape(api_url)}/v1/marketplace/fulfillment">'
        f'<input type="hidden" name="x-amzn-marketplace-token" value="{html.escape(token)}">'
        '<button id="go">Set up your account</button></form>'
    )
    page.click("#go")


def test_buyer_journey_from_marketplace_to_usage(browser, sandbox, api, screenshots):
    page_url, api_url = sandbox["developer_page_url"], sandbox["api_url"]
    allowed = {origin(page_url), origin(api_url)}
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    account = f"{secrets.randbelow(10**12):012d}"
    status, subscription, _ = api.call(
        "POST", "/_sandbox/marketplace/subscriptions", {"aws_account_id": account}
    )
    assert status == 201
    token = subscription["registration_token"]

    # Marketplace POST → 303 → the page, which keeps the token and takes it out of the address bar.
    marketplace_post(page, api_url, token)
    page.wait_for_selector("#view-signin:not([hidden])")
    assert origin(page.url) == origin(page_url)
    assert "register=" not in page.url and token not in page.url
    assert "finish your AWS Marketplace subscription" in page.inner_text("#register-hint")
    page.screenshot(path=screenshots / "1-sign-in-after-marketplace.png", full_page=True)

    # Sign up, then confirm with the emailed code (a wrong code first).
    email = f"buyer-{uuid.uuid4().hex[:8]}@example.com"
    page.click("text=Create one")
    page.fill("#signup-email", email)
    page.fill("#signup-password", PASSWORD)
    page.screenshot(path=screenshots / "2-sign-up.png", full_page=True)
    page.click("#signup-form button[type=submit]")
    page.wait_for_selector("#view-confirm:not([hidden])")
    status, found, _ = api.call("POST", "/_sandbox/users/confirmation-code", {"email": email})
    assert status == 200
    page.fill("#confirm-code", f"{(int(found['code']) + 1) % 10**6:06d}")
    page.click("#confirm-form button[type=submit]")
    page.wait_for_selector("#alert:has-text('code is not right')")
    page.screenshot(path=screenshots / "3-confirm.png", full_page=True)
    page.fill("#confirm-code", found["code"])
    page.click("#confirm-form button[type=submit]")
    page.wait_for_selector("#view-signin:not([hidden])")
    assert page.input_value("#signin-email") == email

    # Sign in: registered with AWS Marketplace at once.
    page.fill("#signin-password", PASSWORD)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#registration:has-text('subscription is linked')")
    assert account in page.inner_text("#registration")
    page.screenshot(path=screenshots / "4-registered-keys.png", full_page=True)

    # Create a key: the secret is shown once.
    page.fill("#key-label", "ci key")
    page.select_option("#key-expiry", "30")
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#new-secret:not([hidden])")
    access_key = page.inner_text("#new-access-key")
    secret_key = page.inner_text("#new-secret-key")
    assert access_key.startswith("VSAK") and secret_key.startswith("vsSK_")
    assert "cannot be shown again" in page.inner_text("#new-secret")
    page.wait_for_selector(f"#keys-table td:has-text('{access_key}')")
    page.screenshot(path=screenshots / "5-key-created-secret-once.png", full_page=True)

    # The demo's usage, reported with that key as the customer stack's reporter would.
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    records = [
        {"id": f"page-{uuid.uuid4().hex}", "dimension": "requests", "quantity": 1200, "timestamp": hour},
        {"id": f"page-{uuid.uuid4().hex}", "dimension": "characters", "quantity": 345, "timestamp": hour},
    ]
    status, reply = PlatformClient(api_url).signed(
        access_key, secret_key, "POST", "/v1/usage", {"records": records}
    )
    assert status == 200, reply

    # After a reload the secret is gone for good.
    page.reload()
    page.wait_for_selector(f"#keys-table td:has-text('{access_key}')")
    assert page.is_hidden("#new-secret")
    assert secret_key not in page.content()

    # Revoke, with confirmation.
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"button[aria-label='Revoke key {access_key}']")
    page.wait_for_selector("#notice:has-text('revoked')")
    expect(page.locator("#keys-table tr", has_text=access_key)).to_contain_text("revoked")
    page.screenshot(path=screenshots / "6-key-revoked.png", full_page=True)

    # The usage chart shows the demo's usage today.
    page.click("nav a[data-view=usage]")
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    bar = page.locator(f"figure[data-dimension=requests] rect[data-date='{today}']")
    bar.wait_for()
    assert bar.get_attribute("data-quantity") == "1200"
    assert (
        page.locator(f"figure[data-dimension=characters] rect[data-date='{today}']").get_attribute(
            "data-quantity"
        )
        == "345"
    )
    assert "1200" in page.inner_text("#usage-table")
    page.screenshot(path=screenshots / "7-usage.png", full_page=True)

    page.click("nav a[data-view=subscription]")
    page.wait_for_selector("#subscription-details dd")
    assert account in page.inner_text("#subscription-details")
    page.screenshot(path=screenshots / "8-subscription.png", full_page=True)
    page.click("nav a[data-view=launch]")
    page.wait_for_selector("#launch-link:not([hidden])")
    assert "/stacks/quickcreate?templateURL=" in page.get_attribute("#launch-link", "href")
    assert "is published" in page.inner_text("#launch-status")
    page.screenshot(path=screenshots / "9-launch.png", full_page=True)

    page.click("#sign-out")
    page.wait_for_selector("#view-signin:not([hidden])")
    assert page.is_hidden("#nav")

    # Nothing went anywhere but the page's origin and the platform (API and user pool).
    stray = {url for url in requests if origin(url) not in allowed}
    assert not stray, stray
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    context.close()


def test_first_load_is_small_and_stays_on_its_origins(browser, sandbox, screenshots):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    loaded = []
    page.on("requestfinished", lambda request: loaded.append(request))
    page.goto(sandbox["developer_page_url"], wait_until="networkidle")
    page.wait_for_selector("#view-signin:not([hidden])")
    total = 0
    for request in loaded:
        sizes = request.sizes()
        total += sum(
            sizes[k]
            for k in ("requestHeadersSize", "requestBodySize", "responseHeadersSize", "responseBodySize")
        )
    report = {"first_load_bytes": total, "requests": len(loaded)}
    (screenshots / "first-load.json").write_text(json.dumps(report) + "\n")
    print(f"developer page first load: {total} bytes in {len(loaded)} requests")
    assert total < FIRST_LOAD_BUDGET, report
    assert {origin(r.url) for r in loaded} <= {
        origin(sandbox["developer_page_url"]),
        origin(sandbox["api_url"]),
    }
    context.close()


def test_narrow_screen_and_keyboard(browser, sandbox, screenshots):
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto(sandbox["developer_page_url"], wait_until="networkidle")
    page.wait_for_selector("#view-signin:not([hidden])")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=screenshots / "10-sign-in-375px.png", full_page=True)

    # Every control has an accessible name (a label, aria-label or its own text).
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, button, a')].filter((el) => {
            if (el.type === 'hidden') return false;
            const labelled = (el.labels && el.labels.length) || el.getAttribute('aria-label')
              || el.textContent.trim();
            return !labelled;
        }).map((el) => el.outerHTML)"""
    )
    assert unlabelled == []

    # The keyboard reaches every control of the sign-in view, in order.
    reached = []
    for _ in range(8):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()")
        )
    for control in ("signin-email", "signin-password", "Sign in", "Create one"):
        assert control in reached, reached
    page.focus("text=Create one")
    page.keyboard.press("Enter")
    page.wait_for_selector("#view-signup:not([hidden])")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=screenshots / "11-sign-up-375px.png", full_page=True)
    context.close()


def test_security_headers_on_the_page(sandbox):
    import urllib.request

    with urllib.request.urlopen(sandbox["developer_page_url"], timeout=10) as response:  # noqa: S310 - 127.0.0.1
        headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert origin(sandbox["api_url"]) in csp
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


def test_fulfillment_without_a_token_is_a_readable_400_page(sandbox, api):
    form = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}
    status, _, headers = _raw(api, "POST", "/v1/marketplace/fulfillment", b"other=1", form)
    assert status == 400 and headers["Content-Type"].startswith("text/html")
    status, _, headers = _raw(
        api, "POST", "/v1/marketplace/fulfillment", b"x-amzn-marketplace-token=a%2Bb", form
    )
    assert status == 303 and headers["Location"] == f"{sandbox['developer_page_url']}#register=a%2Bb"


def test_api_preflight_allows_the_page_origin_only(sandbox, api):
    page = origin(sandbox["developer_page_url"])
    for path in ("/v1/keys", "/v1/keys/VSAKAAAAAAAAAAAAAAAA", "/v1/usage"):
        status, _, headers = _raw(
            api, "OPTIONS", path, None, {"Origin": page, "Access-Control-Request-Method": "GET"}
        )
        assert status == 204 and headers["Access-Control-Allow-Origin"] == page
        assert "Authorization" in headers["Access-Control-Allow-Headers"]
    status, _, headers = _raw(api, "OPTIONS", "/v1/keys", None, {"Origin": "https://evil.example"})
    assert status == 204 and "Access-Control-Allow-Origin" not in headers
    status, body, headers = _raw(api, "GET", "/v1/product", None, {"Origin": page})
    assert status == 200 and headers.get("Access-Control-Allow-Origin") == page


def _raw(api, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, bytes, dict]:
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(api.base + path, data=body, method=method, headers=headers)  # noqa: S310
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)
