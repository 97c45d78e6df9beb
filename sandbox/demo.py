"""`make demo`: boot the sandbox from the synthesized templates, walk through the product as
a customer would, and stop. Secrets are shown masked."""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sandbox.client import PlatformClient
from sandbox.server import Sandbox

VENDOR_STACK = "VendstackVendorPlatform"


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def show(status: int, body: object) -> None:
    print(f"   -> {status} {body}", flush=True)


def mask(secret: str) -> str:
    return secret[:5] + "…" + f"({len(secret)} characters, shown once)"


ACCOUNT = "111122223333"
STACK_UUID = "00000000-0000-4000-8000-000000000001"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def activate(api: PlatformClient, key: dict) -> tuple[int, dict]:
    body = {
        "stack_id": f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/textlens/{STACK_UUID}",
        "account_id": ACCOUNT,
        "region": "us-east-1",
        "request_type": "Create",
    }
    return api.signed(key["access_key"], key["secret_key"], "POST", "/v1/activations", body)


def main() -> int:
    started = time.monotonic()
    state = Path(tempfile.mkdtemp(prefix="vendstack-demo-"))
    with (state / "sandbox.log").open("w", buffering=1) as log:
        sandbox = Sandbox(Path("cdk.out"), VENDOR_STACK, Path("dist/customer.template.json"), state, log)
        try:
            endpoints = sandbox.start(progress=lambda m: print(f"sandbox: {m}", flush=True))
            print(f"sandbox: ready in {time.monotonic() - started:.1f} s", flush=True)
            api = PlatformClient(endpoints["api_url"])

            step("GET /v1/product (public)")
            show(*api.call("GET", "/v1/product"))

            step("A customer signs up and signs in (Cognito user pool)")
            email, password = "demo@example.com", "Demo-Passw0rd!"
            show(*api.call("POST", "/_sandbox/users", {"email": email, "password": password}))
            status, body = api.call("POST", "/_sandbox/tokens", {"email": email, "password": password})
            print(f"   -> {status} id_token: {len(body['id_token'])} characters (not shown)")
            bearer = {"Authorization": f"Bearer {body['id_token']}"}

            step("POST /v1/keys: an API key for the customer stack")
            expires = (datetime.now(UTC) + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
            body = {"label": "demo", "expires_at": expires}
            status, key = api.call("POST", "/v1/keys", body, headers=bearer)
            if status != 201:
                show(status, key)
                return 1
            print(f"   -> {status} access_key={key['access_key']} secret_key={mask(key['secret_key'])}")
            show(*api.call("GET", "/v1/keys", headers=bearer))

            step("GET /v1/whoami signed with the key pair (VS1-HMAC-SHA256)")
            show(*api.signed(key["access_key"], key["secret_key"], "GET", "/v1/whoami"))
            step("…and with a wrong secret")
            show(*api.signed(key["access_key"], "x" * 48, "GET", "/v1/whoami"))

            step("POST /v1/activations before subscribing: refused")
            show(*activate(api, key))

            step("Subscribe in AWS Marketplace (emulated) and register on the developer page")
            status, made = api.call(
                "POST", "/_sandbox/marketplace/subscriptions", {"aws_account_id": ACCOUNT}
            )
            print(f"   -> {status} license_arn={made['license_arn']} (registration token not shown)")
            registration = {"registration_token": made["registration_token"]}
            show(*api.call("POST", "/v1/marketplace/registrations", registration, headers=bearer))
            show(*api.call("GET", "/v1/subscription", headers=bearer))

            step("AWS Marketplace Quick Launch: the agreement event, then the Quick Launch job")
            event = {"type": "purchase-agreement-created", "aws_account_id": ACCOUNT}
            show(*api.call("POST", "/_sandbox/marketplace/events", event))
            soon = iso(datetime.now(UTC) + timedelta(minutes=1))
            show(*api.call("POST", "/_sandbox/jobs/quicklaunch", {"now": soon}))
            step("…what Quick Launch fills into the template: a reference, no key to paste")
            show(*api.call("POST", "/_sandbox/marketplace/quick-launch", {"aws_account_id": ACCOUNT}))

            step("POST /v1/activations (what the customer stack's custom resource sends)")
            status, activation = activate(api, key)
            manifest = activation.get("manifest", {})
            print(
                f"   -> {status} {activation.get('activation_id')} version={manifest.get('version')} "
                f"artifacts={[a['name'] for a in manifest.get('artifacts', [])]} "
                f"signature={activation.get('signature_algorithm')} (download URLs valid 15 min, not shown)"
            )

            step("POST /v1/usage: the hourly reporter's aggregates (sent twice: the retry is a duplicate)")
            hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            records = [
                {"id": "demo-requests", "dimension": "requests", "quantity": 1200, "timestamp": iso(hour)},
                {"id": "demo-characters", "dimension": "characters", "quantity": 345, "timestamp": iso(hour)},
            ]
            show(*api.signed(key["access_key"], key["secret_key"], "POST", "/v1/usage", {"records": records}))
            show(*api.signed(key["access_key"], key["secret_key"], "POST", "/v1/usage", {"records": records}))

            step("Hourly metering job, run once the hour's acceptance window has passed")
            show(
                *api.call(
                    "POST", "/_sandbox/jobs/metering", {"now": iso(hour + timedelta(hours=4, minutes=2))}
                )
            )
            status, metered = api.call("GET", "/_sandbox/marketplace/metered")
            for record in metered["records"]:
                print(
                    f"   BatchMeterUsage: {record['dimension']} {record['quantity']} "
                    f"at {record['timestamp']} -> {record['status']}"
                )

            step("DELETE /v1/keys/{access_key}: refused while a stack uses it (409 names the stack)")
            show(*api.call("DELETE", f"/v1/keys/{key['access_key']}", headers=bearer))
            step("DELETE /v1/keys/{access_key}?confirm=true, then the key no longer works")
            show(
                *api.call(
                    "DELETE", f"/v1/keys/{key['access_key']}", headers=bearer, query=[("confirm", "true")]
                )
            )
            show(*api.signed(key["access_key"], key["secret_key"], "GET", "/v1/whoami"))

            step("Customer template, rendered with this sandbox's URL and public key")
            print(f"   {endpoints['customer_template']}")
        finally:
            sandbox.stop()
    print(f"\nsandbox stopped; its log: {state / 'sandbox.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
